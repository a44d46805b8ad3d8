// Layer attribution at a hook point (any submodule or method call, by path):
// Grad-CAM, layer integrated gradients, layer conductance, layer activation and
// layer gradient x activation, as Captum's LayerGradCam, LayerIntegratedGradients,
// LayerConductance, LayerActivation and LayerGradientXActivation on the same module.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "engine/gradient_rules.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/attr/path_integral.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Grad-CAM maps of one block for every target: [E, T, 1, h, w] (or [E, T, 1]
// for activations without spatial dimensions).
at::Tensor grad_cam_block(HookPoint& hook, const at::Tensor& x, const at::Tensor& targets, bool relu) {
  auto [act, out] = hook.run(x, /*leaf=*/true);
  std::vector<at::Tensor> maps;
  int64_t count = targets.size(1);
  for (int64_t j = 0; j < count; ++j) {
    at::Tensor picked = pick_targets(out, targets.select(1, j).view({-1, 1})).sum();
    at::Tensor grad = torch::autograd::grad({picked}, {act}, {}, /*retain_graph=*/j + 1 < count)[0];
    // Channel weights: the gradient averaged over space (none for flat activations).
    std::vector<int64_t> space;
    for (int64_t d = 2; d < grad.dim(); ++d) space.push_back(d);
    at::Tensor weights = space.empty() ? grad : grad.mean(space, /*keepdim=*/true);
    at::Tensor cam = (weights * act).sum(1, /*keepdim=*/true).detach();
    maps.push_back(relu ? cam.relu() : cam);
  }
  return at::stack(maps, 1);
}

// act * d F_t / d act at the hook point, one block, one target column [E].
at::Tensor gradient_x_activation(HookPoint& hook, const at::Tensor& x, const at::Tensor& targets) {
  auto [act, out] = hook.run(x, /*leaf=*/true);
  at::Tensor picked = pick_targets(out, targets.view({-1, 1})).sum();
  return (torch::autograd::grad({picked}, {act})[0] * act).detach();
}

// Conductance of a block of E examples for one target column [E] (Captum's
// LayerConductance): sum_k dF/dy(x_k) * (y(x_{k+1}) - y(x_k)) over the path's
// points x_k = b + a_k (x - b), k = 0..K (the quadrature's K + 1 points), y the
// hook point's value. Points are evaluated `per_chunk` at a time; the last
// point of a chunk pairs with the first of the next.
at::Tensor conductance_block(HookPoint& hook, const at::Tensor& x, const at::Tensor& b, const at::Tensor& target,
                             const std::vector<double>& alphas, int64_t per_chunk, OpContext& ctx) {
  int64_t e = x.size(0);
  at::Tensor total, last_act, last_grad;
  for_chunks(
      ctx, static_cast<int64_t>(alphas.size()), per_chunk,
      [&](int64_t k0, int64_t k1) {
        std::vector<at::Tensor> points;
        for (int64_t k = k0; k < k1; ++k) points.push_back(b + alphas[static_cast<size_t>(k)] * (x - b));
        auto [act, out] = hook.run(at::cat(points, 0), /*leaf=*/true);
        at::Tensor picked = pick_targets(out, target.repeat({k1 - k0}).view({-1, 1})).sum();
        at::Tensor grad = torch::autograd::grad({picked}, {act})[0];
        std::vector<int64_t> shape{k1 - k0, e};
        shape.insert(shape.end(), act.sizes().begin() + 1, act.sizes().end());
        at::Tensor acts = act.detach().view(shape), grads = grad.view(shape);
        if (last_act.defined()) {
          acts = at::cat({last_act.unsqueeze(0), acts}, 0);
          grads = at::cat({last_grad.unsqueeze(0), grads}, 0);
        }
        int64_t k = acts.size(0);
        if (k > 1) {
          at::Tensor part = (grads.slice(0, 0, k - 1) * (acts.slice(0, 1, k) - acts.slice(0, 0, k - 1))).sum(0);
          total = total.defined() ? total + part : part;
        }
        last_act = acts[k - 1];
        last_grad = grads[k - 1];
      },
      ChunkProgress::Quiet);
  return total;
}

// What the path methods at a hook point (layer IG, conductance) read from a
// call: the hook point, the inputs, their baselines and the targets.
struct LayerPath {
  HookPoint hook;
  at::Tensor x, b;
  Targets t;
};

LayerPath layer_path(const OpArgs& a, OpContext& ctx) {
  torch::jit::Module m = model_arg(a, "model", ctx.device);
  at::Tensor x = a.tensor("inputs").to(ctx.device);
  at::Tensor b = baselines_of(a, x, ctx);
  Targets t = targets_of(a, m, x);
  return LayerPath{hook_of(a, m), x, b, t};
}

// Grad-CAM maps for every target, [N, T, 1, H, W] upsampled to the input's
// H x W by `mode` (bilinear, nearest), or the layer's size with "none".
at::Tensor grad_cam_maps(const OpArgs& a, torch::jit::Module& m, const at::Tensor& x, const Targets& t, bool relu,
                         const std::string& mode, OpContext& ctx) {
  HookPoint hook = hook_of(a, m);
  int64_t n = x.size(0);
  std::vector<at::Tensor> parts;
  for_chunks(ctx, n, items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n), [&](int64_t i, int64_t end) {
    parts.push_back(grad_cam_block(hook, x.slice(0, i, end), t.index.slice(0, i, end), relu));
  });
  at::Tensor maps = at::cat(parts, 0);  // [N, T, 1, h, w]
  if (mode != "none" && maps.dim() == 5 && x.dim() == 4) {
    at::Tensor flat = maps.flatten(0, 1);
    std::vector<int64_t> size{x.size(2), x.size(3)};
    flat = mode == "bilinear" ? at::upsample_bilinear2d(flat, size, false) : at::upsample_nearest2d(flat, size);
    maps = flat.view({n, t.count(), 1, x.size(2), x.size(3)});
  }
  return maps;
}

}  // namespace

void register_attr_layer(OpLibrary& lib) {
  OpSignature act("attr.layer_activation",
                  "The activation at a hook point for each input, as Captum's LayerActivation (model.activations "
                  "is the same in batches, for several hook points at once).");
  lib.define(hook_params(model_and_inputs(act)).returns("tensor", "Shaped like the activation [N, ...]"),
             [](const OpArgs& a, OpContext& ctx) {
               HookPoint hook = hook_of(a, model_arg(a, "model", ctx.device));
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               torch::NoGradGuard no_grad;
               std::vector<at::Tensor> parts;
               for_chunks(ctx, x.size(0), items_per_chunk(ctx, kForwardBytesFactor * example_bytes(x), x.size(0)),
                          [&](int64_t i, int64_t end) { parts.push_back(hook.run(x.slice(0, i, end)).first); });
               return Value(at::cat(parts, 0));
             });

  OpSignature gxa("attr.layer_gradient_x_activation",
                  "The activation at a hook point times the gradient of the target's output there, as Captum's "
                  "LayerGradientXActivation.");
  lib.define(hook_params(attribution_inputs(gxa)).returns("tensor", "Shaped like the activation [N, ...]"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               HookPoint hook = hook_of(a, m);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               Targets t = targets_of(a, m, x);
               at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
                 std::vector<at::Tensor> parts;
                 for_chunks(ctx, x.size(0),
                            items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), x.size(0)),
                            [&](int64_t i, int64_t end) {
                              parts.push_back(gradient_x_activation(hook, x.slice(0, i, end), tj.slice(0, i, end)));
                            });
                 return at::cat(parts, 0);
               });
               return Value(shape_output(out, t));
             });

  OpSignature cam("attr.grad_cam",
                  "Grad-CAM (Selvaraju et al., 2017): the activation at a hook point weighted per channel by its "
                  "spatially averaged gradient, summed over channels, then (by default) rectified and upsampled "
                  "to the input's size so that it lies over the image.");
  hook_params(attribution_inputs(cam))
      .param("relu", "bool", Operand::boolean(true),
             "Keep positive evidence only, as the paper (Captum's relu_attributions defaults to false)")
      .param("interpolate", "string", Operand::string("bilinear"), "Upsampling to the input's H x W")
      .choices({"bilinear", "nearest", "none"});
  lib.define(cam.returns("tensor", "Maps [N, 1, H, W] (layer size with interpolate=none; [N, T, ...] for several targets)"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               Targets t = targets_of(a, m, x);
               return Value(shape_output(grad_cam_maps(a, m, x, t, a.bool_("relu"), a.string("interpolate"), ctx), t));
             });

  OpSignature ggc("attr.guided_grad_cam",
                  "Guided Grad-CAM (Selvaraju et al., 2017), as Captum's GuidedGradCam: guided backpropagation "
                  "(attr.guided_backprop) times the rectified Grad-CAM map of the hook point, upsampled to the "
                  "input's size, for every channel.");
  hook_params(attribution_inputs(ggc))
      .param("interpolate", "string", Operand::string("nearest"), "Upsampling of the Grad-CAM map (Captum: nearest)")
      .choices({"nearest", "bilinear"});
  lib.define(ggc.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    if (x.dim() != 4) throw OpError("attr.guided_grad_cam needs images [N, C, H, W]; inputs are " + describe(Value(x)));
    Targets t = targets_of(a, m, x);
    at::Tensor maps = grad_cam_maps(a, m, x, t, /*relu=*/true, a.string("interpolate"), ctx);  // [N, T, 1, H, W]
    if (maps.dim() != 5)
      throw OpError("attr.guided_grad_cam needs a hook point with spatial dimensions [N, C, h, w]; '" +
                    a.string("layer") + "' has none");
    HookedModel h = hooked(m);
    ReluRulePlan plan(h, ReluRule::Guided);
    if (plan.relus() == 0)
      throw OpError("attr.guided_grad_cam's guided backpropagation overrides ReLU modules (torch.nn.ReLU), and the "
                    "model has none (a functional torch.relu is not a module)");
    at::Tensor guided;
    {
      ActivePlan active(plan);
      guided = per_target(t, [&](const at::Tensor& tj) { return gradients(h.module, x, tj, ctx); });  // [N, T, C, H, W]
    }
    return Value(shape_output(guided * maps, t));
  });

  OpSignature lig("attr.layer_integrated_gradients",
                  "Layer integrated gradients, as Captum: the hook point's value moves along the straight path "
                  "from its value on the baseline to its value on the input (replacing it in forward passes of "
                  "the input), the target's gradients there are integrated and multiply layer(x) - layer(b).");
  ig_params(hook_params(attribution_inputs(lig)));
  lib.define(lig.returns("tensor", "Attributions shaped like the activation at the hook point"),
             [](const OpArgs& a, OpContext& ctx) {
               LayerPath p = layer_path(a, ctx);
               HookPoint& hook = p.hook;
               const at::Tensor &x = p.x, &b = p.b;
               const Targets& t = p.t;
               Quadrature q = quadrature(a.string("method"), a.int_("steps"), &ctx);
               // As Captum: the path runs in the hook point's space, from its
               // value on the baseline to its value on the input; each point
               // replaces the site's value in a forward pass of the input itself.
               at::Tensor act_x, act_b;
               {
                 torch::NoGradGuard no_grad;
                 act_x = hook.run(x).first;
                 act_b = hook.run(b).first;
               }
               at::Tensor gap = act_x - act_b;
               auto activation_gradient = [&](const at::Tensor& points, const at::Tensor& targets,
                                              const at::Tensor& examples) {
                 at::Tensor leaf = points.detach().requires_grad_(true);
                 at::Tensor out = hook.output_with(x.index_select(0, examples), leaf);
                 at::Tensor picked = pick_targets(out, targets.view({-1, 1})).sum();
                 return torch::autograd::grad({picked}, {leaf})[0];
               };
               at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
                 return path_integral(act_x, act_b, tj, q, ctx, activation_gradient) * gap;
               });
               return Value(shape_output(out, t));
             });

  OpSignature cond("attr.layer_conductance",
                   "Layer conductance (Dhamdhere et al., 2018), as Captum's LayerConductance: the flow of "
                   "integrated gradients through each element of a hook point. Along the straight path from the "
                   "baseline to the input (steps + 1 points of the quadrature), the target's gradient at the hook "
                   "point times the change of the hook point's value to the next point, summed. Summed over the "
                   "hook point's elements it is the input's integrated gradients total, when every path from input "
                   "to output passes through the hook point.");
  ig_params(hook_params(attribution_inputs(cond)));
  lib.define(cond.returns("tensor", "Attributions shaped like the activation at the hook point"),
             [](const OpArgs& a, OpContext& ctx) {
               LayerPath p = layer_path(a, ctx);
               HookPoint& hook = p.hook;
               const at::Tensor &x = p.x, &b = p.b;
               const Targets& t = p.t;
               // Captum evaluates steps + 1 points of the method's rule.
               std::vector<double> alphas = quadrature(a.string("method"), a.int_("steps") + 1, &ctx).alphas;
               int64_t n = x.size(0), k = static_cast<int64_t>(alphas.size());
               int64_t per_point = kGradientBytesFactor * example_bytes(x);
               // Whole paths of several examples at once where they fit, else one
               // example's path in chunks of points.
               int64_t examples = items_per_chunk(ctx, per_point * k, n);
               int64_t points = items_per_chunk(ctx, per_point * examples, k);
               at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
                 std::vector<at::Tensor> parts;
                 for_chunks(ctx, n, examples, [&](int64_t i, int64_t end) {
                   parts.push_back(conductance_block(hook, x.slice(0, i, end), b.slice(0, i, end),
                                                     tj.slice(0, i, end), alphas, points, ctx));
                 });
                 return at::cat(parts, 0);
               });
               return Value(shape_output(out, t));
             });
}

}  // namespace pipette::stdlib
