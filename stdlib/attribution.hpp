// The machinery every attr.* method shares: targets (one or several per
// example), baselines, hook points, and the two batched evaluators, one for
// gradients and one for forward passes over perturbed inputs. Both chunk their
// work under the op's memory budget along whatever axis grows, so a method
// only says how to build a block of inputs.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>

#include "engine/hook_plan.hpp"
#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

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
// baselines (float | tensor | "zero" | "blur" | "uniform") and blur_sigma.
OpSignature& baseline_params(OpSignature& s);
at::Tensor baselines_of(const OpArgs& a, const at::Tensor& x, OpContext& ctx);

// Runs `fn(begin, end)` over [0, total) in chunks of `per_chunk` items,
// reporting progress and stopping when the run is cancelled.
void for_chunks(OpContext& ctx, int64_t total, int64_t per_chunk, const std::function<void(int64_t, int64_t)>& fn);

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

// The input with the elements where `keep` is 0 replaced by the baseline:
// b + keep * (x - b), `keep` [k, N or 1, ...] -> [k, N, ...].
at::Tensor blend(const at::Tensor& x, const at::Tensor& baseline, const at::Tensor& keep);

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

// sum(attributions) - (F(x) - F(b)) per input, [N] in double, from the call's
// model, inputs, attributions (one target), baselines and target; F(x) and
// F(b) come from one batched forward pass. attr.convergence_delta and
// metric.completeness.
at::Tensor completeness_gap(const OpArgs& a, OpContext& ctx);

// A gradient method (saliency, input_x_gradient, integrated_gradients) as a
// function of (inputs, targets [M]) on model `m`, its parameters (abs, steps,
// method) read from the call. `baselines` are for the first inputs it is given
// and repeat for copies of them (noise tunnel). For ops that re-explain
// perturbed inputs or perturbed models: noise tunnel, sensitivity, MPRT.
using Method = std::function<at::Tensor(const at::Tensor& x, const at::Tensor& target)>;
Method gradient_method(const std::string& name, torch::jit::Module& m, const OpArgs& a, OpContext& ctx,
                       const at::Tensor& baselines);
// method (choices above), abs, and integrated gradients' parameters.
OpSignature& explainer_params(OpSignature& s);

void register_attr_gradient(OpLibrary& lib);      // saliency, IG, noise tunnel, gradient SHAP, delta
void register_attr_perturbation(OpLibrary& lib);  // occlusion, ablation, Shapley, KernelSHAP, LIME, RISE
void register_attr_layer(OpLibrary& lib);         // Grad-CAM, layer IG

}  // namespace pipette::stdlib
