// Shared by the ops that run models: model.*, train.*, attr.*, metric.*.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include "engine/op_impl.hpp"

namespace pipette::stdlib {

// The model argument `name`, on `device`. A model value may be shared by other
// nodes, so one that lives elsewhere is cloned before it moves.
torch::jit::Module model_arg(const OpArgs& a, const std::string& name, c10::Device device);

// forward(x) as a tensor; a clear error when the model returns something else.
at::Tensor logits_of(torch::jit::Module& m, const at::Tensor& x);

// The target argument as one class index per example: none -> the model's
// predicted class, an int -> that class for all, a tensor -> one per example.
at::Tensor targets_for(const OpArgs& a, const std::string& name, torch::jit::Module& m, const at::Tensor& inputs);

// How many items (examples, path points, perturbations...) to evaluate at once
// so that the working set stays under the op's memory budget: `bytes_per_item`
// is the caller's estimate for one item, `total` caps the result. At least 1.
int64_t items_per_chunk(const OpContext& ctx, int64_t bytes_per_item, int64_t total);

}  // namespace pipette::stdlib
