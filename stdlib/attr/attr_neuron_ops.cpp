// Neuron attribution: how the inputs drive one element (a "neuron") of the
// value at a hook point, as Captum's NeuronGradient, NeuronIntegratedGradients
// and NeuronConductance.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "stdlib/attr/attribution.hpp"
#include "stdlib/attr/path_integral.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

OpSignature& neuron_params(OpSignature& s) {
  return hook_params(s).input("neuron", "list<int>",
                              "The neuron: its index in one example's value at the hook point ([channel, row, column] "
                              "of a feature map, [unit] of a vector); fewer indices select a block, whose sum is explained");
}

std::vector<int64_t> neuron_of(const OpArgs& a) {
  std::vector<int64_t> idx;
  for (const auto& v : a["neuron"].toListRef()) idx.push_back(v.toInt());
  if (idx.empty()) throw OpError("neuron= needs at least one index");
  return idx;
}

// The neuron's value per example [N] from the hook point's value [N, ...].
at::Tensor neuron_value(const at::Tensor& act, const std::vector<int64_t>& idx, const std::string& layer) {
  if (static_cast<int64_t>(idx.size()) > act.dim() - 1)
    throw OpError("neuron " + std::to_string(idx.size()) + " indices, but the value at '" + layer + "' has " +
                  std::to_string(act.dim() - 1) + " dimensions per example (" + per_example_shape(act) + ")");
  at::Tensor v = act;
  for (size_t i = 0; i < idx.size(); ++i) {
    int64_t size = v.size(1);
    if (idx[i] < 0 || idx[i] >= size)
      throw OpError("neuron index " + std::to_string(idx[i]) + " at position " + std::to_string(i) + " is outside 0.." +
                    std::to_string(size - 1) + " of the value at '" + layer + "' (" + per_example_shape(act) + ")");
    v = v.select(1, idx[i]);
  }
  return v.dim() > 1 ? v.flatten(1).sum(1) : v;
}

// d neuron / d x at points [P, ...], optionally times d F_t / d neuron there
// (conductance's integrand).
at::Tensor neuron_gradient(HookPoint& hook, const std::vector<int64_t>& idx, const std::string& layer,
                           const at::Tensor& points, const at::Tensor* targets) {
  at::Tensor x = points.detach().requires_grad_(true);
  InterventionPlan plan({Intervention{hook.site, Intervention::Mode::Capture}});
  at::Tensor out;
  {
    ActivePlan active(plan);
    out = logits_of(hook.model.module, x);
  }
  const at::Tensor& act = plan.captured(hook.site);
  at::Tensor neuron = neuron_value(act, idx, layer);
  if (!targets) return torch::autograd::grad({neuron.sum()}, {x})[0];
  at::Tensor dn_dx = torch::autograd::grad({neuron.sum()}, {x}, {}, /*retain_graph=*/true)[0];
  // dF_t/d neuron: the output's gradient at the hook point, summed over the neuron's elements.
  at::Tensor picked = pick_targets(out, targets->view({-1, 1})).sum();
  at::Tensor df_dact = torch::autograd::grad({picked}, {act})[0];
  at::Tensor df_dn = neuron_value(df_dact, idx, layer);
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  return dn_dx * df_dn.view(shape);
}

}  // namespace

void register_attr_neuron(OpLibrary& lib) {
  OpSignature g("attr.neuron_gradient",
                "The gradient of one neuron at a hook point with respect to the inputs, as Captum's NeuronGradient.");
  neuron_params(model_and_inputs(g));
  lib.define(g.returns("tensor", "Gradients, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    HookPoint hook = hook_of(a, m);
    std::vector<int64_t> idx = neuron_of(a);
    at::Tensor x = input_batch(a, ctx);
    std::vector<at::Tensor> parts;
    for_chunks(ctx, x.size(0), items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), x.size(0)),
               [&](int64_t i, int64_t e) {
                 parts.push_back(neuron_gradient(hook, idx, a.string("layer"), x.slice(0, i, e), nullptr));
               });
    return Value(at::cat(parts, 0));
  });

  OpSignature ig("attr.neuron_integrated_gradients",
                 "Integrated gradients of one neuron at a hook point, as Captum's NeuronIntegratedGradients: "
                 "(x - b) times the path integral of the neuron's gradient from the baseline to the input.");
  ig_params(neuron_params(model_and_inputs(ig)));
  lib.define(ig.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    HookPoint hook = hook_of(a, m);
    std::vector<int64_t> idx = neuron_of(a);
    at::Tensor x = input_batch(a, ctx);
    at::Tensor b = baselines_of(a, x, ctx);
    Quadrature q = quadrature(a.string("method"), a.int_("steps"), &ctx);
    at::Tensor none = at::zeros({x.size(0)}, x.options().dtype(at::kLong));
    const std::string layer = a.string("layer");
    at::Tensor sum = path_integral(x, b, none, q, ctx, [&](const at::Tensor& p, const at::Tensor&, const at::Tensor&) {
      return neuron_gradient(hook, idx, layer, p, nullptr);
    });
    return Value(sum * (x - b));
  });

  OpSignature c("attr.neuron_conductance",
                "Neuron conductance (Dhamdhere et al., 2018), as Captum's NeuronConductance: how much of the "
                "target's integrated gradients flows through one neuron at a hook point, per input element: "
                "(x - b) times the path integral of dF_t/d neuron * d neuron/dx.");
  ig_params(neuron_params(attribution_inputs(c)));
  lib.define(c.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    HookPoint hook = hook_of(a, m);
    std::vector<int64_t> idx = neuron_of(a);
    at::Tensor x = input_batch(a, ctx);
    at::Tensor b = baselines_of(a, x, ctx);
    Targets t = targets_of(a, m, x);
    Quadrature q = quadrature(a.string("method"), a.int_("steps"), &ctx);
    const std::string layer = a.string("layer");
    at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
      return path_integral(x, b, tj, q, ctx, [&](const at::Tensor& p, const at::Tensor& targets, const at::Tensor&) {
               return neuron_gradient(hook, idx, layer, p, &targets);
             }) *
             (x - b);
    });
    return Value(shape_output(out, t));
  });
}

}  // namespace pipette::stdlib
