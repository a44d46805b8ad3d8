// The hook point a layer method explains (layer="features.2"), on top of
// the SDK's hook mechanism (engine/hook_points.hpp, engine/hook_plan.hpp).
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>

#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

#include "engine/hook_plan.hpp"
#include "engine/hook_points.hpp"

namespace pipette::stdlib {

// A hook point by path (`layer="features.2"`: any submodule or method call of
// the model, engine/hook_points.hpp): the activation there and the model's
// outputs, from one forward pass.
struct HookPoint {
  HookedModel model;
  HookSite site;
  // {activation, outputs}. With `leaf`, the activation is detached as a new
  // leaf of autograd that requires gradients: read them there, as Captum's
  // layer methods do.
  std::pair<at::Tensor, at::Tensor> run(const at::Tensor& x, bool leaf = false);
  // The outputs for inputs `x` with the hook point's value replaced by
  // `value` (at every call of it), as Captum's layer methods evaluate
  // points in a layer's space.
  at::Tensor output_with(const at::Tensor& x, const at::Tensor& value);
};
OpSignature& hook_params(OpSignature& s);  // `layer`
HookPoint hook_of(const OpArgs& a, const torch::jit::Module& m);

}  // namespace pipette::stdlib
