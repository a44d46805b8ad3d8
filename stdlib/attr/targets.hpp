// Which outputs an attribution explains: one or several targets per example,
// and the parameters (model, inputs, target) every attr.* method declares.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>

#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

namespace pipette::stdlib {

// Targets as [N, T] class indices. `multi` is set when the user asked for
// several per example (a [N, T] tensor): the method then returns [N, T, ...]
// instead of [N, ...].
struct Targets {
  at::Tensor index;  // [N, T], long
  bool multi = false;
  int64_t count() const { return index.size(1); }
};
Targets targets_of(const OpArgs& a, torch::jit::Module& m, const at::Tensor& x);
// Methods that need one pass per target: fn(targets [N]) -> [N, ...] for each
// target column, stacked [N, T, ...].
at::Tensor per_target(const Targets& t, const std::function<at::Tensor(const at::Tensor&)>& fn);
// [N, T, ...] -> [N, ...] unless the call asked for several targets.
at::Tensor shape_output(const at::Tensor& per_target, const Targets& t);

// The parameters every method declares: model, inputs, target; or in two
// steps for methods with more inputs (model, inputs, ..., target).
OpSignature& attribution_inputs(OpSignature& s);
OpSignature& model_and_inputs(OpSignature& s);
OpSignature& target_param(OpSignature& s);

}  // namespace pipette::stdlib
