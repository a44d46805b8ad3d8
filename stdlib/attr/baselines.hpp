// Reference inputs of attribution methods (baselines=) and blending an input
// with its baseline.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <string>

#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

namespace pipette::stdlib {

// baselines (float | tensor | "zero" | "blur" | "uniform") and blur_sigma.
OpSignature& baseline_params(OpSignature& s);
at::Tensor baselines_of(const OpArgs& a, const at::Tensor& x, OpContext& ctx);

// Separable Gaussian blur of images [N, C, H, W] (or [N, H, W]) with a kernel
// of sigma pixels, edges replicated so that borders keep their brightness; an
// OpError naming `who` for other shapes.
at::Tensor gaussian_blur(const at::Tensor& x, double sigma, const std::string& who);

// The input with the elements where `keep` is 0 replaced by the baseline:
// b + keep * (x - b), `keep` [k, N or 1, ...] -> [k, N, ...].
at::Tensor blend(const at::Tensor& x, const at::Tensor& baseline, const at::Tensor& keep);

}  // namespace pipette::stdlib
