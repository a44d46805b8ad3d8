// What the Quantus-named metrics share: their preprocessing of attributions
// (normalise by the largest magnitude, absolute values), the perturbation
// baselines, per-input scores reduced to a mean or kept, and the statistics
// (Pearson, Spearman with average ranks) they report.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>

#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"
#include "stdlib/attr/attribution.hpp"

namespace pipette::stdlib {

// normalise, abs (default `abs_default`; not declared with declare_abs=false,
// for metrics whose explainer declares it: explainer_params), reduce,
// softmax (default `softmax_default`).
OpSignature& quantus_params(OpSignature& s, bool abs_default, bool softmax_default, bool declare_abs = true);

// reduce: "mean" (one number) or "none" (the score of every input).
OpSignature& reduce_param(OpSignature& s);

// Attributions for x as Quantus prepares them: broadcast to x's shape
// ([N, 1, H, W] over the channels), flattened [N, F] in double, divided by
// each input's largest |value| when normalise (Quantus divides by the batch's:
// per input, an input's score does not depend on the others), then |.| when abs.
at::Tensor prepared_attributions(const at::Tensor& attributions, const at::Tensor& x, const OpArgs& a);
// The same preprocessing for attributions shaped [N, F] already.
at::Tensor prepared(const at::Tensor& flat, const OpArgs& a);

// The baseline value per input [N] in x's dtype: "black" (the input's
// minimum, as Quantus), "white" (maximum), "mean", or a number.
OpSignature& perturb_baseline_param(OpSignature& s, const std::string& default_value);
at::Tensor baseline_values(const OpArgs& a, const at::Tensor& x);

// The target score of every input under perturbations: scores [N, P] of
// `perturbations` perturbed copies built by build(p0, p1) -> [p1 - p0, N, ...];
// softmax probabilities or logits as the call's `softmax` says.
at::Tensor perturbed_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                            const PerturbationBuilder& build, const OpArgs& a, OpContext& ctx);
// The target scores of the inputs themselves [N].
at::Tensor own_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, const OpArgs& a, OpContext& ctx);

// Pearson and Spearman (average ranks for ties, as scipy) correlations of each
// row pair [N, K] -> [N]; NaN where a row is constant.
at::Tensor pearson_rows(const at::Tensor& a, const at::Tensor& b);
at::Tensor spearman_rows(const at::Tensor& a, const at::Tensor& b);

// The call's result from per-input scores [N] (NaN where undefined): their
// mean over the defined inputs (reduce="mean"; a warning names how many were
// undefined and why; none defined is an error), or the scores themselves
// (reduce="none", NaN kept, with the same warning).
Value reduce_scores(const at::Tensor& scores, const std::string& metric, const std::string& why, const OpArgs& a,
                    OpContext& ctx);
// The same mean for metrics without reduce=: an error when none is defined.
double mean_where_defined(const at::Tensor& values, const at::Tensor& undefined, const std::string& metric,
                          const std::string& why, OpContext& ctx);

void register_quantus_faithfulness(OpLibrary& lib);
void register_quantus_robustness(OpLibrary& lib);

}  // namespace pipette::stdlib
