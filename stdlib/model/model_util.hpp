// Shared by the ops that run models: model.*, train.*, attr.*, metric.*.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <vector>

#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"
#include "engine/op_impl.hpp"

namespace pipette::stdlib {

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

// f over the `inputs` argument (a tensor or a dataset's model input field),
// `batch` examples at a time, without gradients: f returns one or more
// tensors per batch, each concatenated over the batches.
std::vector<at::Tensor> batched_multi(const OpArgs& a, OpContext& ctx,
                                      const std::function<std::vector<at::Tensor>(const at::Tensor&)>& f);
at::Tensor batched(const OpArgs& a, OpContext& ctx, const std::function<at::Tensor(const at::Tensor&)>& f);

}  // namespace pipette::stdlib
