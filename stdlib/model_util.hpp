// Shared by the ops that run models: model.*, train.*, attr.*, metric.*.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <vector>

#include "engine/model_arg.hpp"
#include "engine/op_impl.hpp"

namespace pipette::stdlib {

// The model argument `name`, on `device`. A model value may be shared by other
// nodes, so one that lives elsewhere is cloned before it moves.
torch::jit::Module model_arg(const OpArgs& a, const std::string& name, c10::Device device);

// A copy of `m` for forward passes only (no gradients), where that is faster:
// frozen and optimised for inference, which on CPU turns convolutions into
// MKL-DNN ones with pre-packed weights (3x faster forward passes of the
// quickstart's CNN, same outputs). Everything else gets `m` itself: models in
// training mode (freezing would fix dropout and batch statistics), models
// without convolutions (an MLP's matrix products gain nothing), models on a
// GPU, and models the passes cannot freeze.
torch::jit::Module forward_only(const torch::jit::Module& m);

// Peak bytes that forward passes allocate per example beyond their input,
// measured on a forward pass of the first few examples of `x` (through
// LibTorch's memory-profiling hook, so on CPU and CUDA alike). Sizes blocks
// of perturbed inputs to the model: a tiny MLP needs a few hundred bytes per
// example, a CNN tens of kilobytes. Falls back to `fallback` when nothing
// was reported (e.g. a backend that allocates outside LibTorch).
int64_t forward_bytes_per_example(torch::jit::Module& m, const at::Tensor& x, int64_t fallback);

// "[*, 1, 28, 28]": what the user's inputs (or a value per input) look like,
// whatever batch an op happened to pass the model.
std::string per_example_shape(const at::Tensor& x);

// forward(x) as a tensor; a clear error when the model returns something else.
at::Tensor logits_of(torch::jit::Module& m, const at::Tensor& x);

// The model's outputs as rows of scores [N, K] for picking targets: a model
// that returns one number per input ([N]) has one output (target 0 or none).
at::Tensor score_rows(const at::Tensor& outputs);
// `index` [N, T] (or [N]) picked from score rows, with out-of-range targets said
// in the user's terms: "target 11, but the model has 4 outputs".
at::Tensor pick_targets(const at::Tensor& outputs, const at::Tensor& index);

// The target argument as one class index per example: none -> the model's
// predicted class, an int -> that class for all, a tensor -> one per example.
at::Tensor targets_for(const OpArgs& a, const std::string& name, torch::jit::Module& m, const at::Tensor& inputs);

// f over the `inputs` argument (a tensor or a dataset's model input field),
// `batch` examples at a time, without gradients: f returns one or more
// tensors per batch, each concatenated over the batches.
std::vector<at::Tensor> batched_multi(const OpArgs& a, OpContext& ctx,
                                      const std::function<std::vector<at::Tensor>(const at::Tensor&)>& f);
at::Tensor batched(const OpArgs& a, OpContext& ctx, const std::function<at::Tensor(const at::Tensor&)>& f);

// How many items (examples, path points, perturbations...) to evaluate at once
// so that the working set stays under the op's memory budget: `bytes_per_item`
// is the caller's estimate for one item, `total` caps the result. At least 1.
int64_t items_per_chunk(const OpContext& ctx, int64_t bytes_per_item, int64_t total);

}  // namespace pipette::stdlib
