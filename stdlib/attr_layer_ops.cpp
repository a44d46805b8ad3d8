// Layer attribution at a hook point (any submodule or method call, by path):
// Grad-CAM, layer integrated gradients, layer activation and layer gradient x
// activation, as Captum's LayerGradCam, LayerIntegratedGradients,
// LayerActivation and LayerGradientXActivation on the same module.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "stdlib/attribution.hpp"
#include "stdlib/model_util.hpp"
#include "stdlib/path_integral.hpp"
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
               HookPoint hook = hook_of(a, m);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               Targets t = targets_of(a, m, x);
               int64_t n = x.size(0);
               std::vector<at::Tensor> parts;
               for_chunks(ctx, n, items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n),
                          [&](int64_t i, int64_t end) {
                            parts.push_back(grad_cam_block(hook, x.slice(0, i, end), t.index.slice(0, i, end),
                                                           a.bool_("relu")));
                          });
               at::Tensor maps = at::cat(parts, 0);  // [N, T, 1, h, w]
               std::string mode = a.string("interpolate");
               if (mode != "none" && maps.dim() == 5 && x.dim() == 4) {
                 at::Tensor flat = maps.flatten(0, 1);
                 std::vector<int64_t> size{x.size(2), x.size(3)};
                 flat = mode == "bilinear" ? at::upsample_bilinear2d(flat, size, false)
                                           : at::upsample_nearest2d(flat, size);
                 maps = flat.view({n, t.count(), 1, x.size(2), x.size(3)});
               }
               return Value(shape_output(maps, t));
             });

  OpSignature lig("attr.layer_integrated_gradients",
                  "Layer integrated gradients, as Captum: the hook point's value moves along the straight path "
                  "from its value on the baseline to its value on the input (replacing it in forward passes of "
                  "the input), the target's gradients there are integrated and multiply layer(x) - layer(b).");
  ig_params(hook_params(attribution_inputs(lig)));
  lib.define(lig.returns("tensor", "Attributions shaped like the activation at the hook point"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               HookPoint hook = hook_of(a, m);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               at::Tensor b = baselines_of(a, x, ctx);
               Targets t = targets_of(a, m, x);
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
}

}  // namespace pipette::stdlib
