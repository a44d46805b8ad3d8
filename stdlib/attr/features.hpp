// Feature groups of perturbation methods (feature_mask=): which elements are
// perturbed together, and their per-feature results spread back over the input.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>

#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

namespace pipette::stdlib {

// Feature groups: an integer mask broadcastable to one input ([N or 1, ...]),
// numbered 0..F-1; none = every element its own feature.
struct Features {
  at::Tensor mask;  // long, [N or 1, ...] broadcastable to the inputs
  int64_t count = 0;
};
OpSignature& feature_mask_param(OpSignature& s);
Features features_of(const OpArgs& a, const at::Tensor& x);
// Per-feature values [*, N, T, F] spread over the elements: [*, N, T, ...].
at::Tensor spread(const at::Tensor& per_feature, const Features& f, const at::Tensor& x);
// keep masks [k, N or 1, ...] from per-feature presence [k, F] (1 = keep).
at::Tensor keep_from_presence(const at::Tensor& presence, const Features& f);

}  // namespace pipette::stdlib
