// Calling a model the way every op does, built-in or plugin: its forward pass
// with errors in the user's terms, its outputs as rows of scores, and the
// classes ("targets") an op explains or attacks.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>

#include "engine/model_pass_log.hpp"  // logits_of logs its passes; UnloggedPasses
#include "engine/op_impl.hpp"

namespace pipette {

// "[*, 1, 28, 28]": what the user's inputs (or a value per input) look like,
// whatever batch an op happened to pass the model.
PIPETTE_API std::string per_example_shape(const at::Tensor& x);

// forward(x) as a tensor with one row per input, finite; an OpError that says
// what went wrong in the user's terms otherwise (the model's own error with the
// example's shape, a non-tensor output, an output that reduces over the batch,
// NaN outputs and whether the input or the model made them). Logged while a
// ModelPassLog exists.
PIPETTE_API at::Tensor logits_of(torch::jit::Module& m, const at::Tensor& x);

// The model's outputs as rows of scores [N, K] for picking targets: a model
// that returns one number per input ([N]) has one output (target 0 or none).
PIPETTE_API at::Tensor score_rows(const at::Tensor& outputs);
// `index` [N, T] (or [N]) picked from score rows, with out-of-range targets said
// in the user's terms: "target 11, but the model has 4 outputs".
PIPETTE_API at::Tensor pick_targets(const at::Tensor& outputs, const at::Tensor& index);

// Whether a model's outputs [N, K] are probabilities already (every row
// non-negative and summing to 1, within the rounding of their dtype): a model
// that ends in softmax, whose outputs must not be softmaxed again.
PIPETTE_API bool rows_are_probabilities(const at::Tensor& outputs);

// A classifier's softmax probabilities of its classes, one row per input.
PIPETTE_API at::Tensor class_probabilities(torch::jit::Module& m, const at::Tensor& x);

// A classifier's verdict on inputs of known class, from class_probabilities
// [N, K] and labels [N]: the probability of each label, the predicted class
// and whether it is the label. model.accuracy and the probes that score
// generated images (localize.locogen) read the same numbers.
struct ClassifierVerdict {
  at::Tensor probability;  // [N] of the label
  at::Tensor predictions;  // [N] int64
  at::Tensor correct;      // [N] bool
};
PIPETTE_API ClassifierVerdict classifier_verdict(const at::Tensor& probabilities, const at::Tensor& labels);

// The target argument as one class index per example: none -> the model's
// predicted class, an int -> that class for all, a tensor -> one per example.
PIPETTE_API at::Tensor targets_for(const OpArgs& a, const std::string& name, torch::jit::Module& m,
                                   const at::Tensor& inputs);

// A class per row of `rows` from an int, a list<int> or a tensor: one for all,
// one per row, or one per group of consecutive rows (P labels for P prompts
// whose N images each are rows p * N .. p * N + N - 1, as every sampler orders
// them). Anything else is an OpError naming `name` and both counts.
PIPETTE_API at::Tensor labels_per_row(const OpArgs& a, const std::string& name, int64_t rows);

}  // namespace pipette
