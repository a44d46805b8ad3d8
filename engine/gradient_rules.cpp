#include "engine/gradient_rules.hpp"

#include <torch/csrc/autograd/custom_function.h>

namespace pipette {

namespace {

// relu(x) forward; the rule's gradient backward.
struct RuledRelu : public torch::autograd::Function<RuledRelu> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, bool guided) {
    ctx->save_for_backward({x});
    ctx->saved_data["guided"] = guided;
    return x.relu();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    at::Tensor g = grads[0];
    if (ctx->saved_data["guided"].toBool()) g = g * ctx->get_saved_variables()[0].gt(0).to(g.scalar_type());
    return {g.clamp_min(0), at::Tensor()};
  }
};

}  // namespace

ReluRulePlan::ReluRulePlan(const HookedModel& model, ReluRule rule) : rule_(rule) {
  for (const HookSiteInfo& s : model.sites)
    if (!s.site.input && s.module_type == "ReLU") {
      is_relu_[s.site.path] = true;
      ++relus_;
    }
}

at::Tensor ReluRulePlan::visit(const HookSite& site, const at::Tensor& value) {
  if (!is_relu_.count(site.path)) return value;
  if (site.input) {
    inputs_[site.path] = value;
    return value;
  }
  // The module's output is recomputed from its input by the ruled ReLU, so
  // the gradient flows through the rule (the module's own relu is unused).
  auto in = inputs_.find(site.path);
  if (in == inputs_.end()) return value;
  at::Tensor out = RuledRelu::apply(in->second, rule_ == ReluRule::Guided);
  inputs_.erase(in);
  return out;
}

}  // namespace pipette
