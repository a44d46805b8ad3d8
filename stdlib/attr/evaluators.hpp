// The batched evaluators every attribution method runs: gradients of target
// outputs, and target scores of blocks of perturbed inputs, chunked under the
// op's memory budget (engine/chunks.hpp) along whatever axis grows, so a method
// only says how to build a block of inputs.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>

#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

#include "stdlib/attr/targets.hpp"

namespace pipette::stdlib {

// Working memory of one example's forward and backward pass (activations and
// their gradients of a small network), as a multiple of the example's bytes.
constexpr int64_t kGradientBytesFactor = 64;
// The same for a forward pass alone, where it cannot be measured
// (forward_bytes_per_example measures it for perturbation blocks). Not
// smaller: convolutions unfold their inputs, so a forward pass needs about as
// much scratch per example as the activations a backward pass keeps.
constexpr int64_t kForwardBytesFactor = 64;
// Copies of an input that building a block of perturbed inputs makes (mask,
// difference, blend).
constexpr int64_t kBuildBytesFactor = 4;

int64_t example_bytes(const at::Tensor& x);

// The call's `inputs` on the node's device, a non-empty batch [N, ...]; an
// OpError otherwise (an empty batch would reach torch as a bare cat error).
at::Tensor input_batch(const OpArgs& a, const OpContext& ctx);

// Options for scores and attributions of inputs x: x's own for floating
// inputs, double for integer ones (token ids), whose scores must not be
// truncated to integers.
at::TensorOptions score_options(const at::Tensor& x);

// d/dx sum_i F(x_i)[target_i] for a block, in one backward pass.
at::Tensor target_gradient(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target);

// Gradients of the target outputs for inputs [M, ...] with targets [M], chunked
// under the budget.
at::Tensor gradients(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, OpContext& ctx);

// F(x)[target] for every example and target: [N, T], no gradient.
at::Tensor target_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, OpContext& ctx);

// Scores of P perturbations of each of N examples, chunked along P under the
// budget: `build(p0, p1)` returns the inputs for perturbations [p0, p1) of every
// example, shaped [p1 - p0, N, ...]; `consume(p0, p1, scores)` then receives
// F(input)[target] for them, [p1 - p0, N, T]. The passes run on forward_only(m)
// (model_util.hpp): a frozen, inference-optimised copy where that is faster.
//
// How many perturbations a pass evaluates: the fewest that make a pass of
// kPerturbationPassExamples examples, or more while they stay within
// kPerturbationChunkBytes, and never more than the op's budget
// (items_per_chunk) allows. Measured with bench/attribution, best of 20, three
// interleaved rounds (docs/ops/attribution.md): a pass of the CNN needs a few
// hundred images to run at full speed (occlusion took 1.47x as long in chunks
// of 70 images), so the CNN's chunks are what the 16 MiB cap gives; the tiny
// image MLP's perturbation cases ran 0-11% slower in 8 MiB chunks than in
// 16 MiB ones, at a third to a half of the peak memory (occlusion 8 -> 2.5-4.2
// MiB), and 15-28% slower in 4 MiB ones: each chunk costs a dozen small tensor
// operations to build its inputs, which a tiny model does not hide.
constexpr int64_t kPerturbationPassExamples = 256;
constexpr int64_t kPerturbationChunkBytes = 8ll << 20;
int64_t perturbations_per_pass(const OpContext& ctx, int64_t bytes_per_example, int64_t examples, int64_t perturbations);
using PerturbationBuilder = std::function<at::Tensor(int64_t p0, int64_t p1)>;
using ScoreConsumer = std::function<void(int64_t p0, int64_t p1, const at::Tensor& scores)>;
// Scores are the target's logit, or its softmax probability (pixel flipping).
enum class Score { Logit, Probability };
void evaluate_perturbations(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                            const PerturbationBuilder& build, const ScoreConsumer& consume, OpContext& ctx,
                            Score score = Score::Logit);
// All of them at once: [P, N, T].
at::Tensor perturbation_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                               const PerturbationBuilder& build, OpContext& ctx);

// sum(attributions) - (F(x) - F(b)) per input, [N] in double, from the call's
// model, inputs, attributions (one target), baselines and target; F(x) and
// F(b) come from one batched forward pass. attr.convergence_delta and
// metric.completeness.
at::Tensor completeness_gap(const OpArgs& a, OpContext& ctx);

}  // namespace pipette::stdlib
