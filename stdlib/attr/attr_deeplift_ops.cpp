// DeepLift with the rescale rule and its relatives, as Captum's DeepLift,
// DeepLiftShap and LayerDeepLift: each chunk of inputs runs with its baselines
// as one batch [x; b] under the SDK's RescaleRulePlan (engine/gradient_rules.hpp),
// and the gradient of the targets' outputs (of both halves, as Captum takes
// it) at the inputs, times x - b, is the attribution.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <memory>

#include "engine/gradient_rules.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// A model with DeepLift's rule at its nonlinear modules; an OpError where the
// answer would not be DeepLift's.
struct Rescaled {
  HookedModel model;
  std::unique_ptr<RescaleRulePlan> rules;
};

Rescaled rescaled(const torch::jit::Module& m, const std::string& op) {
  Rescaled r{hooked(m), nullptr};
  r.rules = std::make_unique<RescaleRulePlan>(r.model);
  if (!r.rules->unsupported().empty()) {
    std::string list;
    for (const std::string& u : r.rules->unsupported()) list += (list.empty() ? "" : ", ") + u;
    throw OpError(op + " has no rule for " + list +
                  ": Captum's rule for softmax normalises over the whole batch, so one input's attribution would "
                  "depend on the others. Explain the logits (the model without its final softmax)");
  }
  if (r.rules->modules() == 0)
    throw OpError(op + " applies its rule at nonlinear modules (torch.nn.ReLU, Sigmoid, Tanh, MaxPool2d, ...) and "
                       "the model has none (a functional torch.relu is not a module): the answer would be the plain "
                       "gradient times (inputs - baselines)");
  return r;
}

// d/d[x; b] of the targets' outputs on [x; b] under the rules, for the x half.
at::Tensor rescaled_gradient(Rescaled& r, const at::Tensor& x, const at::Tensor& b, const at::Tensor& target) {
  at::Tensor both = at::cat({x, b}).detach().requires_grad_(true);
  ActivePlan active(*r.rules);
  at::Tensor out = logits_of(r.model.module, both);
  at::Tensor picked = pick_targets(out, at::cat({target, target}).view({-1, 1})).sum();
  return torch::autograd::grad({picked}, {both})[0].slice(0, 0, x.size(0));
}

// DeepLift of inputs x against baselines b of the same shape, one target per row.
at::Tensor deep_lift(Rescaled& r, const at::Tensor& x, const at::Tensor& b, const at::Tensor& target, bool times_delta,
                     OpContext& ctx) {
  std::vector<at::Tensor> parts;
  const int64_t n = x.size(0);
  for_chunks(ctx, n, items_per_chunk(ctx, 2 * kGradientBytesFactor * example_bytes(x), n), [&](int64_t i, int64_t e) {
    at::Tensor xs = x.slice(0, i, e), bs = b.slice(0, i, e);
    at::Tensor g = rescaled_gradient(r, xs, bs, target.slice(0, i, e));
    parts.push_back(times_delta ? (xs - bs) * g : g);
  });
  return at::cat(parts, 0);
}

OpSignature& multiply_param(OpSignature& s) {
  return s.param("multiply_by_inputs", "bool", Operand::boolean(true),
                 "Multiply the multipliers by (inputs - baselines), as Captum's default (false: the multipliers)");
}

}  // namespace

void register_attr_deeplift(OpLibrary& lib) {
  OpSignature dl("attr.deep_lift",
                 "DeepLift with the rescale rule (Shrikumar et al., 2017), as Captum's DeepLift: every nonlinear "
                 "module passes back (f(x) - f(b)) / (x - b) per element (max-pooling: Captum's rule), so the "
                 "attributions of a network of linear layers, ReLUs and pooling sum to F(x) - F(b). Inputs and "
                 "baselines run as one batch per chunk, under the memory budget.");
  multiply_param(baseline_params(attribution_inputs(dl)));
  lib.define(dl.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    Rescaled r = rescaled(m, "attr.deep_lift");
    at::Tensor x = input_batch(a, ctx);
    at::Tensor b = baselines_of(a, x, ctx).expand_as(x).contiguous();
    Targets t = targets_of(a, m, x);
    const bool times = a.bool_("multiply_by_inputs");
    return Value(shape_output(per_target(t, [&](const at::Tensor& tj) { return deep_lift(r, x, b, tj, times, ctx); }), t));
  });

  OpSignature shap("attr.deep_lift_shap",
                   "DeepLift SHAP (Lundberg & Lee, 2017), as Captum's DeepLiftShap: DeepLift of each input against "
                   "every baseline of a distribution (e.g. training images), averaged: an approximation of SHAP "
                   "values whose attributions sum to F(x) minus the mean of F over the baselines.");
  model_and_inputs(shap).input("baselines", "tensor", "Reference inputs [B, ...] (e.g. training images)");
  multiply_param(target_param(shap));
  lib.define(shap.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    Rescaled r = rescaled(m, "attr.deep_lift_shap");
    at::Tensor x = input_batch(a, ctx);
    at::Tensor pool = a.tensor("baselines").to(ctx.device, x.scalar_type());
    if (pool.dim() == x.dim() - 1) pool = pool.unsqueeze(0);
    if (pool.dim() != x.dim() || pool.sizes().slice(1) != x.sizes().slice(1))
      throw OpError("baselines " + describe(Value(pool)) + " must be [B, ...] with inputs' example shape " +
                    describe(Value(x)));
    Targets t = targets_of(a, m, x);
    const int64_t n = x.size(0), k = pool.size(0);
    // Every (input, baseline) pair as a row: input i with baseline j at i * B + j.
    at::Tensor xs = x.repeat_interleave(k, 0);
    std::vector<int64_t> reps(static_cast<size_t>(pool.dim()), 1);
    reps[0] = n;
    at::Tensor bs = pool.repeat(reps);
    std::vector<int64_t> split{n, k};
    split.insert(split.end(), x.sizes().begin() + 1, x.sizes().end());
    const bool times = a.bool_("multiply_by_inputs");
    at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
      return deep_lift(r, xs, bs, tj.repeat_interleave(k, 0), times, ctx).view(split).mean(1);
    });
    return Value(shape_output(out, t));
  });

  OpSignature layer("attr.layer_deep_lift",
                    "DeepLift at a hook point, as Captum's LayerDeepLift: the multipliers of the target's output "
                    "with respect to the hook point's value (rescale rule at the nonlinear modules after it) times "
                    "that value's difference between the inputs and the baselines (path:input for a module's input).");
  multiply_param(baseline_params(hook_params(attribution_inputs(layer))));
  lib.define(layer.returns("tensor", "Shaped like the activation [N, ...]"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    Rescaled r = rescaled(m, "attr.layer_deep_lift");
    HookSite site = r.model.find(a.string("layer")).site;
    at::Tensor x = input_batch(a, ctx);
    at::Tensor b = baselines_of(a, x, ctx).expand_as(x).contiguous();
    Targets t = targets_of(a, m, x);
    const bool times = a.bool_("multiply_by_inputs");
    const int64_t n = x.size(0);
    at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
      std::vector<at::Tensor> parts;
      for_chunks(ctx, n, items_per_chunk(ctx, 2 * kGradientBytesFactor * example_bytes(x), n), [&](int64_t i, int64_t e) {
        InterventionPlan leaf({Intervention{site, Intervention::Mode::Leaf}});
        RulesAndCapture plan(*r.rules, leaf);
        ActivePlan active(plan);
        at::Tensor both = at::cat({x.slice(0, i, e), b.slice(0, i, e)});
        at::Tensor logits = logits_of(r.model.module, both);
        at::Tensor target = tj.slice(0, i, e);
        at::Tensor picked = pick_targets(logits, at::cat({target, target}).view({-1, 1})).sum();
        const at::Tensor& act = leaf.captured(site);
        at::Tensor g = torch::autograd::grad({picked}, {act})[0];
        const int64_t rows = e - i;
        at::Tensor gx = g.slice(0, 0, rows);
        at::Tensor delta = (act.slice(0, 0, rows) - act.slice(0, rows, 2 * rows)).detach();
        parts.push_back(times ? delta * gx : gx);
      });
      return at::cat(parts, 0);
    });
    return Value(shape_output(out, t));
  });
}

}  // namespace pipette::stdlib
