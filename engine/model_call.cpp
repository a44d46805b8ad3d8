#include "engine/model_call.hpp"

#include <fmt/format.h>

#include "engine/model_output.hpp"
#include "engine/model_pass_log.hpp"
#include "engine/value_io.hpp"

namespace pipette {

std::string per_example_shape(const at::Tensor& x) {
  std::string s = "[*";
  for (int64_t d = 1; d < x.dim(); ++d) s += ", " + std::to_string(x.size(d));
  return s + "]";
}

at::Tensor logits_of(torch::jit::Module& m, const at::Tensor& x) {
  Value y;
  try {
    y = m.forward({x});
  } catch (const std::exception& e) {
    // The model's own message speaks of the chunk the op happened to pass
    // ("shape '[21, 784]' is invalid" for 64 inputs); the example's shape is
    // what the user can check. (TorchScript's interpreter throws its errors as
    // std::runtime_error, not c10::Error.)
    const auto* c10 = dynamic_cast<const c10::Error*>(&e);
    std::string why = without_torchscript_trace(c10 ? c10->what_without_backtrace() : e.what());
    if (auto missing = missing_output_error(why))
      throw OpError(*missing + " (model.load's output= picks one)");
    throw OpError("the model failed on inputs of shape " + per_example_shape(x) + " (" + dtype_name(x.scalar_type()) +
                  "; * = any batch size): " + excerpt(why, 600) +
                  ". Check that the inputs have the shape and dtype the model was exported for");
  }
  if (!y.isTensor()) throw OpError("the model returned " + describe(y) + ", not a tensor of outputs");
  // One row per input: a model that reduces over the batch (returns one row for
  // eight inputs) would otherwise be read as outputs for the first example.
  const at::Tensor& out = y.toTensor();
  if (x.dim() > 0 && (out.dim() == 0 || out.size(0) != x.size(0)))
    throw OpError("the model returned " + describe(y) + " for a batch of " + std::to_string(x.size(0)) +
                  " inputs of shape " + per_example_shape(x) +
                  "; it must return one row of outputs per input (does it reduce over the batch, or reshape it?)");
  // NaN outputs would become arg-max 0, a NaN probability, a metric that is
  // silently null: said here, with whether the input or the model is to blame.
  if (out.is_floating_point() && !out.isfinite().all().item<bool>()) {
    at::Tensor bad_rows = out.isfinite().logical_not().reshape({out.size(0), -1}).any(1);
    int64_t count = bad_rows.sum().item<int64_t>(), first = bad_rows.nonzero()[0][0].item<int64_t>();
    bool input_bad = x.is_floating_point() && !x[first].isfinite().all().item<bool>();
    throw OpError("the model's outputs hold NaN or Inf for " + std::to_string(count) + " of " +
                  std::to_string(out.size(0)) + " inputs in a batch (first: row " + std::to_string(first) + ", " +
                  (input_bad ? "whose input holds NaN or Inf" : "whose input is finite: the model made them") + ")");
  }
  ModelPassLog::note(m, x, out);
  return out;
}

at::Tensor score_rows(const at::Tensor& outputs) {
  if (outputs.dim() == 1) return outputs.unsqueeze(1);
  if (outputs.dim() != 2)
    throw OpError("targets are picked from outputs [N, classes] (or [N]); the model returned " +
                  describe(Value(outputs)));
  return outputs;
}

at::Tensor class_probabilities(torch::jit::Module& m, const at::Tensor& x) {
  return score_rows(logits_of(m, x)).softmax(1);
}

ClassifierVerdict classifier_verdict(const at::Tensor& probabilities, const at::Tensor& labels) {
  at::Tensor predictions = probabilities.argmax(1);
  return {pick_targets(probabilities, labels).reshape({-1}), predictions, predictions.eq(labels.to(predictions.device()))};
}

bool rows_are_probabilities(const at::Tensor& outputs) {
  // Rounding of the model's own dtype: a float16 softmax sums to 1 within ~1e-3.
  double eps = outputs.is_floating_point() ? static_cast<double>(c10::elementSize(outputs.scalar_type())) <= 2 ? 1e-2 : 1e-4 : 0;
  at::Tensor out = outputs.detach().to(at::kDouble);
  return out.dim() == 2 && out.size(1) > 1 && out.size(0) > 0 && out.min().item<double>() >= -eps &&
         (out.sum(1) - 1).abs().max().item<double>() <= eps;
}

at::Tensor pick_targets(const at::Tensor& outputs, const at::Tensor& index) {
  at::Tensor rows = score_rows(outputs);
  at::Tensor idx = index.dim() == 1 ? index.view({-1, 1}) : index;
  if (idx.numel() > 0) {
    int64_t hi = idx.max().item<int64_t>(), lo = idx.min().item<int64_t>(), k = rows.size(1);
    if (hi >= k || lo < 0)
      throw OpError("target " + std::to_string(hi >= k ? hi : lo) + ", but the model has " + std::to_string(k) +
                    " output" + (k == 1 ? "" : "s") + " (targets are 0 to " + std::to_string(k - 1) + ")");
  }
  return rows.gather(1, idx);
}

at::Tensor targets_for(const OpArgs& a, const std::string& name, torch::jit::Module& m, const at::Tensor& inputs) {
  int64_t n = inputs.size(0);
  const Value& t = a[name];
  if (t.isNone()) {
    torch::NoGradGuard no_grad;
    return score_rows(logits_of(m, inputs)).argmax(1);
  }
  if (t.isInt()) return at::full({n}, t.toInt(), inputs.options().dtype(at::kLong));
  at::Tensor target = a.tensor(name).to(inputs.device(), at::kLong).reshape({-1});
  if (target.numel() == 1) return target.expand({n}).contiguous();
  if (target.size(0) != n)
    throw OpError("'" + name + "' has " + std::to_string(target.size(0)) + " entries for " + std::to_string(n) +
                  " inputs");
  return target;
}

at::Tensor labels_per_row(const OpArgs& a, const std::string& name, int64_t rows) {
  const Value& v = a[name];
  at::Tensor labels;
  if (v.isInt()) {
    labels = at::full({1}, v.toInt(), at::kLong);
  } else if (v.isList()) {
    std::vector<int64_t> ids;
    for (const auto& item : v.toListRef()) ids.push_back(item.toInt());
    labels = at::tensor(ids, at::kLong);
  } else {
    labels = a.tensor(name).to(at::kCPU, at::kLong).reshape({-1});
  }
  int64_t k = labels.numel();
  if (k == 0 || rows % k != 0)
    throw OpError(fmt::format("'{}' has {} entries for {} rows: give one for all, one per row, or one per group of "
                              "consecutive rows (one per prompt)",
                              name, k, rows));
  return labels.repeat_interleave(rows / k).contiguous();
}

}  // namespace pipette
