#include "stdlib/attr/targets.hpp"

#include "stdlib/core/arg_lists.hpp"
#include "stdlib/model/model_util.hpp"

namespace pipette::stdlib {

OpSignature& attribution_inputs(OpSignature& s) { return target_param(model_and_inputs(s)); }

OpSignature& model_and_inputs(OpSignature& s) {
  return s.input("model", "model", "The classifier to explain")
      .input("inputs", "tensor", "Inputs to explain, batched along the first dimension")
      .feeds("model");
}

OpSignature& target_param(OpSignature& s) {
  return s.optional("target", "int|list<int>|tensor",
                "Output index to explain: one for all, one per example ([N]), or several (a list, or [N, T]: "
                "the result gains a target dimension after the batch); none = predicted");
}

Targets targets_of(const OpArgs& a, torch::jit::Module& m, const at::Tensor& x) {
  const Value& v = a["target"];
  int64_t n = x.size(0);
  Targets t;
  if (v.isList()) {
    std::vector<int64_t> classes = int_list(a, "target");
    if (classes.empty()) throw OpError("'target' is an empty list");
    t.index = at::tensor(classes, at::kLong).to(x.device()).view({1, -1}).expand({n, -1}).contiguous();
    t.multi = true;
    return t;
  }
  if (v.isTensor() && v.toTensor().dim() == 2) {
    at::Tensor idx = v.toTensor().to(x.device(), at::kLong);
    if (idx.size(0) != n && idx.size(0) != 1)
      throw OpError("'target' " + describe(v) + " has " + std::to_string(idx.size(0)) + " rows for " +
                    std::to_string(n) + " inputs");
    t.index = idx.expand({n, idx.size(1)}).contiguous();
    t.multi = true;
    return t;
  }
  t.index = targets_for(a, "target", m, x).view({n, 1});
  return t;
}

at::Tensor per_target(const Targets& t, const std::function<at::Tensor(const at::Tensor&)>& fn) {
  std::vector<at::Tensor> parts;
  for (int64_t j = 0; j < t.count(); ++j) parts.push_back(fn(t.index.select(1, j).contiguous()));
  return at::stack(parts, 1);
}

at::Tensor shape_output(const at::Tensor& per_target, const Targets& t) {
  return t.multi ? per_target : per_target.squeeze(1);
}

}  // namespace pipette::stdlib
