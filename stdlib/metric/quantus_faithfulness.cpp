// Faithfulness metrics named and parameterised as Quantus': faithfulness
// estimate and correlation, monotonicity (Arya; Nguyen), selectivity and
// IROF. Every perturbed input of every example is scored through the
// attribution methods' block evaluator (evaluate_perturbations).
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>

#include "stdlib/metric/quantus_common.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

struct Case {
  torch::jit::Module model;
  at::Tensor x;      // [N, ...]
  at::Tensor attr;   // prepared [N, F], F = x's elements per example
  Targets t;
  at::Tensor base;   // [N] baseline value
};

Case case_of(const OpArgs& a, OpContext& ctx) {
  Case c{model_arg(a, "model", ctx.device), input_batch(a, ctx), {}, {}, {}};
  c.attr = prepared_attributions(a.tensor("attributions"), c.x, a);
  c.t = targets_of(a, c.model, c.x);
  if (c.t.multi) throw OpError("this metric takes one target per input");
  c.base = baseline_values(a, c.x);
  return c;
}

// x with the features where `removed` [k, N, F] is true set to each input's baseline: [k, N, ...].
at::Tensor with_removed(const Case& c, const at::Tensor& removed) {
  std::vector<int64_t> shape{removed.size(0)};
  shape.insert(shape.end(), c.x.sizes().begin(), c.x.sizes().end());
  at::Tensor flat = c.x.reshape({1, c.x.size(0), -1});
  at::Tensor base = c.base.view({1, -1, 1});
  return at::where(removed, base, flat).view(shape);
}

// [k, N, F] masks of the features order[:, j*step:(j+1)*step] for j in [j0, j1).
at::Tensor step_masks(const at::Tensor& order, int64_t step, int64_t j0, int64_t j1, bool cumulative) {
  const int64_t f = order.size(1);
  // rank[i, feature] = its position in input i's order.
  at::Tensor rank = std::get<1>(order.sort(/*stable=*/true, 1, /*descending=*/false));
  std::vector<at::Tensor> out;
  for (int64_t j = j0; j < j1; ++j) {
    at::Tensor lo = at::full({1}, cumulative ? 0 : j * step, rank.options());
    at::Tensor m = rank.ge(lo).logical_and(rank.lt(std::min(f, (j + 1) * step)));
    out.push_back(m);
  }
  return at::stack(out, 0);
}

// Rong et al.'s noisy linear imputation of the masked pixels of images
// [B, C, H, W] (mask [B, 1, H, W] true where removed): each removed pixel
// becomes the weighted mean of its neighbours (1/6 for the four sides, 1/12
// for the diagonals, as ROAD's reference and Quantus), which is one sparse
// symmetric linear system per image solved here by conjugate gradients on
// the whole batch at once; then Gaussian noise of `noise` on the imputed pixels.
at::Tensor noisy_linear_imputation(const at::Tensor& x, const at::Tensor& mask, double noise, at::Generator& gen,
                                   OpContext& ctx) {
  const int64_t c = x.size(1);
  at::Tensor xd = x.to(at::kDouble);
  at::Tensor k = at::tensor({1.0 / 12, 1.0 / 6, 1.0 / 12, 1.0 / 6, 0.0, 1.0 / 6, 1.0 / 12, 1.0 / 6, 1.0 / 12}, xd.options())
                     .view({1, 1, 3, 3})
                     .repeat({c, 1, 1, 1});
  auto neighbours = [&](const at::Tensor& v) {  // sum of weighted in-image neighbours
    return at::conv2d(v, k, {}, at::IntArrayRef{1, 1}, at::IntArrayRef{1, 1}, at::IntArrayRef{1, 1}, c);
  };
  at::Tensor m = mask.to(at::kDouble).expand_as(xd);
  at::Tensor known = 1 - m;
  at::Tensor diag = neighbours(at::ones_like(xd));
  // (D - W_MM) v = W_MK x_K on the masked pixels.
  auto apply = [&](const at::Tensor& v) { return m * (diag * v - neighbours(v * m)); };
  at::Tensor b = m * neighbours(xd * known);
  at::Tensor v = at::zeros_like(xd), r = b.clone(), p = r.clone();
  auto dot = [](const at::Tensor& u, const at::Tensor& w) { return (u * w).flatten(1).sum(1).view({-1, 1, 1, 1}); };
  at::Tensor rr = dot(r, r);
  const double stop = 1e-24 * std::max(1.0, b.pow(2).sum().item<double>());
  for (int it = 0; it < 10000 && rr.max().item<double>() > stop; ++it) {
    if (it % 64 == 0 && ctx.cancelled()) throw OpError("cancelled");
    at::Tensor ap = apply(p);
    at::Tensor alpha = rr / dot(p, ap).clamp_min(1e-300);
    v = v + alpha * p;
    r = r - alpha * ap;
    at::Tensor next = dot(r, r);
    p = r + (next / rr.clamp_min(1e-300)) * p;
    rr = next;
  }
  at::Tensor z = at::randn(x.sizes(), gen, at::TensorOptions().dtype(at::kDouble)).to(x.device());
  return (xd * known + (v + noise * z) * m).to(x.scalar_type());
}

void check_step(int64_t features, int64_t step, const at::Tensor& x) {
  if (step < 1 || step > features)
    throw OpError("features_in_step=" + std::to_string(step) + " must be between 1 and the " + std::to_string(features) +
                  " features of an input (" + per_example_shape(x) + ")");
}

}  // namespace

void register_quantus_faithfulness(OpLibrary& lib) {
  auto common = [](OpSignature& s, bool abs, bool softmax, const std::string& baseline) -> OpSignature& {
    target_param(model_and_inputs(s).input("attributions", "tensor", "Attributions of the inputs (one target)"));
    perturb_baseline_param(s, baseline);
    return quantus_params(s, abs, softmax);
  };

  OpSignature est("metric.faithfulness_estimate",
                  "Faithfulness estimate (Alvarez-Melis & Jaakkola, 2018; Quantus' FaithfulnessEstimate): features "
                  "are removed features_in_step at a time, most relevant first, each step from the original input; "
                  "the Pearson correlation between each step's summed relevance and the drop of the target's "
                  "output. Higher is better; NaN for constant attributions.");
  common(est, false, false, "black").param("features_in_step", "int", Operand::integer(1), "Features removed per step").range(1);
  lib.define(est.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\"").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
               Case c = case_of(a, ctx);
               const int64_t f = c.attr.size(1), s = a.int_("features_in_step");
               check_step(f, s, c.x);
               const int64_t k = (f + s - 1) / s;
               at::Tensor order = std::get<1>(c.attr.sort(/*stable=*/true, 1, /*descending=*/true));
               at::Tensor y0 = own_scores(c.model, c.x, c.t, a, ctx);
               at::Tensor scores = perturbed_scores(
                   c.model, c.x, c.t, k, [&](int64_t p0, int64_t p1) { return with_removed(c, step_masks(order, s, p0, p1, false)); },
                   a, ctx);
               at::Tensor sums = at::empty({c.x.size(0), k}, c.attr.options());
               for (int64_t j = 0; j < k; ++j)
                 sums.select(1, j).copy_(c.attr.gather(1, order.slice(1, j * s, std::min(f, (j + 1) * s))).sum(1));
               return reduce_scores(pearson_rows(sums, y0.unsqueeze(1) - scores), "faithfulness_estimate",
                                    "the attribution (or the output drop) is the same at every step", a, ctx);
             });

  OpSignature corr("metric.faithfulness_correlation",
                   "Faithfulness correlation (Bhatt et al., 2020; Quantus' FaithfulnessCorrelation): in each of "
                   "nr_runs runs a random subset of subset_size features is set to the baseline; the Pearson "
                   "correlation over runs between the subset's summed relevance and the drop of the target's output. "
                   "Higher is better; NaN for constant attributions.");
  common(corr, false, false, "black")
      .param("nr_runs", "int", Operand::integer(100), "Random subsets per input")
      .range(2)
      .param("subset_size", "int", Operand::integer(224), "Features per subset (fewer than the input's pixels, as Quantus)")
      .range(1)
      .stochastic();
  lib.define(corr.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\"").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
               Case c = case_of(a, ctx);
               const int64_t f = c.attr.size(1), runs = a.int_("nr_runs"), size = a.int_("subset_size");
               if (size >= f)
                 throw OpError("subset_size=" + std::to_string(size) + " must be below the " + std::to_string(f) +
                               " features of an input (" + per_example_shape(c.x) + ")");
               const int64_t n = c.x.size(0);
               at::Generator gen = ctx.generator();
               // One random subset per (run, input), as indices: the first `size` of a
               // random permutation (masks are built per block, never [R, N, F] at once).
               std::vector<at::Tensor> picks;
               for (int64_t r = 0; r < runs; ++r)
                 picks.push_back(at::rand({n, f}, gen, at::TensorOptions()).argsort(1, false).slice(1, 0, size));
               at::Tensor subsets = at::stack(picks, 0).to(c.x.device());  // [R, N, size]
               at::Tensor y0 = own_scores(c.model, c.x, c.t, a, ctx);
               at::Tensor scores = perturbed_scores(
                   c.model, c.x, c.t, runs,
                   [&](int64_t p0, int64_t p1) {
                     at::Tensor idx = subsets.slice(0, p0, p1);
                     at::Tensor mask = at::zeros({p1 - p0, n, f}, c.x.options().dtype(at::kBool));
                     mask.scatter_(2, idx, true);
                     return with_removed(c, mask);
                   },
                   a, ctx);
               at::Tensor sums = at::empty({n, runs}, c.attr.options());
               for (int64_t r = 0; r < runs; ++r) sums.select(1, r).copy_(c.attr.gather(1, subsets[r]).sum(1));
               return reduce_scores(pearson_rows(sums, y0.unsqueeze(1) - scores), "faithfulness_correlation",
                                    "the subsets' relevance (or the output drop) is the same in every run", a, ctx);
             });

  OpSignature mono("metric.monotonicity",
                   "Monotonicity (Arya et al., 2019; Quantus' Monotonicity): from the all-baseline input, features "
                   "are put back features_in_step at a time, least relevant first; 1 for an input whose target "
                   "output never falls along the way, else 0. The mean is the share of monotonic inputs. (Quantus "
                   "0.6 never puts the features back, so its score is always true: see docs/ops/metrics.md.)");
  common(mono, true, true, "black").param("features_in_step", "int", Operand::integer(1), "Features restored per step").range(1);
  lib.define(mono.returns("float|tensor", "The share of monotonic inputs, or [N] of 1 and 0 with reduce=\"none\""),
             [](const OpArgs& a, OpContext& ctx) {
               Case c = case_of(a, ctx);
               const int64_t f = c.attr.size(1), s = a.int_("features_in_step");
               check_step(f, s, c.x);
               const int64_t k = (f + s - 1) / s;
               at::Tensor order = std::get<1>(c.attr.sort(/*stable=*/true, 1, /*descending=*/false));
               at::Tensor curve = perturbed_scores(
                   c.model, c.x, c.t, k,
                   [&](int64_t p0, int64_t p1) { return with_removed(c, step_masks(order, s, p0, p1, true).logical_not()); },
                   a, ctx);
               at::Tensor ok = (curve.slice(1, 1, k) - curve.slice(1, 0, k - 1)).ge(0).all(1).to(at::kDouble);
               return reduce_scores(ok, "monotonicity", "", a, ctx);
             });

  OpSignature mc("metric.monotonicity_correlation",
                 "Monotonicity correlation (Nguyen & Rodriguez Martinez, 2020; Quantus' MonotonicityCorrelation): "
                 "features are perturbed features_in_step at a time from the original input, least relevant first, "
                 "nr_samples times each (baseline \"uniform\": one U(0, 1) value per sample); the Spearman "
                 "correlation between each step's summed relevance and the mean squared change of the target's "
                 "output relative to its value. Higher is better; NaN for constant attributions.");
  target_param(model_and_inputs(mc).input("attributions", "tensor", "Attributions of the inputs (one target)"));
  perturb_baseline_param(mc, "uniform");
  quantus_params(mc, true, true)
      .param("features_in_step", "int", Operand::integer(1), "Features perturbed per step")
      .range(1)
      .param("nr_samples", "int", Operand::integer(100), "Perturbations per step (1 suffices for a fixed baseline)")
      .range(1)
      .param("eps", "float", Operand::real(1e-5), "Outputs smaller than this are not divided by")
      .stochastic();
  lib.define(mc.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\"").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
               const Value& bv = a["baseline"];
               const bool uniform = bv.isString() && bv.toStringRef() == "uniform";
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               Case c{m, x, prepared_attributions(a.tensor("attributions"), x, a), targets_of(a, m, x),
                      uniform ? at::zeros({x.size(0)}, x.options()) : baseline_values(a, x)};
               if (c.t.multi) throw OpError("this metric takes one target per input");
               const int64_t f = c.attr.size(1), s = a.int_("features_in_step"), n = x.size(0);
               check_step(f, s, x);
               const int64_t k = (f + s - 1) / s, samples = uniform ? a.int_("nr_samples") : 1;
               at::Tensor order = std::get<1>(c.attr.sort(/*stable=*/true, 1, /*descending=*/false));
               at::Tensor y0 = own_scores(m, x, c.t, a, ctx);
               at::Generator gen = ctx.generator();
               at::Tensor fills = uniform ? at::rand({k, samples, n}, gen, at::TensorOptions().dtype(x.scalar_type())).to(x.device())
                                          : at::Tensor();
               // Perturbation p = step * samples + sample.
               at::Tensor scores = perturbed_scores(
                   m, x, c.t, k * samples,
                   [&](int64_t p0, int64_t p1) {
                     std::vector<at::Tensor> out;
                     for (int64_t p = p0; p < p1; ++p) {
                       Case cp = c;
                       if (uniform) cp.base = fills[p / samples][p % samples];
                       out.push_back(with_removed(cp, step_masks(order, s, p / samples, p / samples + 1, false)).squeeze(0));
                     }
                     return at::stack(out, 0);
                   },
                   a, ctx);
               at::Tensor inv = at::where(y0.abs().ge(a.float_("eps")), 1 / y0.abs(), at::ones_like(y0)).pow(2);
               at::Tensor var = (scores.view({n, k, samples}) - y0.view({n, 1, 1})).pow(2).mean(2) * inv.unsqueeze(1);
               at::Tensor sums = at::empty({n, k}, c.attr.options());
               for (int64_t j = 0; j < k; ++j)
                 sums.select(1, j).copy_(c.attr.gather(1, order.slice(1, j * s, std::min(f, (j + 1) * s))).sum(1));
               return reduce_scores(spearman_rows(sums, var), "monotonicity_correlation",
                                    "the attribution (or the output's change) is the same at every step", a, ctx);
             });

  OpSignature sel("metric.selectivity",
                  "Selectivity (Montavon et al., 2018; Quantus' Selectivity): the image (edge-padded to whole "
                  "patches) loses patch_size x patch_size patches one after another, most relevant first (summed "
                  "relevance), and the target's output is read after each; the area under that curve (trapezoid, "
                  "unit steps, as Quantus' get_auc_score). Lower is better.");
  common(sel, false, true, "black").param("patch_size", "int", Operand::integer(8), "Patch side in pixels").range(1);
  lib.define(sel.returns("float|tensor", "The mean AUC over inputs, or [N] with reduce=\"none\""),
             [](const OpArgs& a, OpContext& ctx) {
               Case c = case_of(a, ctx);
               if (c.x.dim() != 4) throw OpError("selectivity removes patches of images [N, C, H, W]; inputs are " +
                                                 describe(Value(c.x)));
               const int64_t p = a.int_("patch_size"), h = c.x.size(2), w = c.x.size(3), n = c.x.size(0);
               auto pad = [p](int64_t side) {
                 int64_t t = side % p == 0 ? 0 : p - side % p;
                 return std::pair<int64_t, int64_t>{t / 2, t - t / 2};
               };
               auto [ph0, ph1] = pad(h);
               auto [pw0, pw1] = pad(w);
               const int64_t hp = h + ph0 + ph1, wp = w + pw0 + pw1, rows = hp / p, cols = wp / p, count = rows * cols;
               at::Tensor attr = c.attr.view(c.x.sizes());
               at::Tensor apad = at::constant_pad_nd(attr, {pw0, pw1, ph0, ph1}, 0);
               // Patch of each padded pixel, row-major over the grid of patches.
               at::Tensor patch = (at::arange(hp, at::kLong).div(p, "floor").view({hp, 1}) * cols +
                                   at::arange(wp, at::kLong).div(p, "floor").view({1, wp})).to(c.x.device());
               at::Tensor sums = at::zeros({n, count}, apad.options()).index_add_(1, patch.flatten(), apad.sum(1).reshape({n, -1}));
               at::Tensor rank = std::get<1>(sums.sort(/*stable=*/true, 1, /*descending=*/true)).argsort(1, false);  // rank of each patch
               // Pixel (h, w) of the unpadded image lies in patch patch[h + ph0, w + pw0].
               at::Tensor inner = patch.slice(0, ph0, ph0 + h).slice(1, pw0, pw0 + w).flatten();  // [H * W]
               at::Tensor pixel_rank = rank.index_select(1, inner);                                // [N, H * W]
               const int64_t channels = c.x.size(1);
               at::Tensor curve = perturbed_scores(
                   c.model, c.x, c.t, count,
                   [&](int64_t p0, int64_t p1) {
                     std::vector<at::Tensor> masks;
                     for (int64_t j = p0; j < p1; ++j)
                       masks.push_back(pixel_rank.le(j).unsqueeze(1).expand({n, channels, h * w}).reshape({n, -1}));
                     return with_removed(c, at::stack(masks, 0));
                   },
                   a, ctx);
               at::Tensor auc = curve.sum(1) - (curve.select(1, 0) + curve.select(1, count - 1)) / 2;
               if (count == 1) auc = at::zeros_like(auc);
               return reduce_scores(auc, "selectivity", "", a, ctx);
             });

  OpSignature road("metric.road",
                   "ROAD, RemOve And Debias (Rong et al., 2022; Quantus' ROAD): for each percentage, that share of "
                   "each image's pixels, most relevant first (relevance summed over channels), is imputed from its "
                   "neighbours by noisy linear imputation, and the model's accuracy on the label is read. A faithful "
                   "explanation makes accuracy fall fast (most relevant first).");
  target_param(model_and_inputs(road).input("attributions", "tensor", "Attributions of the inputs (one target)"));
  quantus_params(road, false, true)
      .optional("percentages", "list<int>", "Percentages of pixels removed; none: 1, 3, ..., 99 (Quantus)")
      .param("noise", "float", Operand::real(0.01), "Standard deviation of the imputation's noise (0: deterministic)")
      .range(0.0)
      .param("order", "string", Operand::string("morf"), "morf: most relevant first; lerf: least relevant first")
      .choices({"morf", "lerf"})
      .stochastic();
  lib.define(road.returns("tensor", "Accuracy per percentage [P] (the mean over inputs), or [N, P] of 1 and 0 with reduce=\"none\""),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               if (x.dim() != 4) throw OpError("ROAD imputes pixels of images [N, C, H, W]; inputs are " + describe(Value(x)));
               Targets t = targets_of(a, m, x);
               if (t.multi) throw OpError("this metric takes one target per input");
               const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
               at::Tensor attr = prepared_attributions(a.tensor("attributions"), x, a).view(x.sizes()).sum(1).reshape({n, -1});
               std::vector<int64_t> percentages;
               if (a.is_none("percentages"))
                 for (int64_t p = 1; p < 100; p += 2) percentages.push_back(p);
               else
                 for (const auto& v : a["percentages"].toListRef()) {
                   int64_t p = v.toInt();
                   if (p < 0 || p > 100) throw OpError("percentage " + std::to_string(p) + " is outside 0..100");
                   percentages.push_back(p);
                 }
               const bool morf = a.string("order") == "morf";
               at::Tensor rank = std::get<1>(attr.sort(/*stable=*/true, 1, /*descending=*/morf)).argsort(1, false);  // [N, H * W]
               at::Generator gen = ctx.generator();
               const double noise = a.float_("noise");
               at::Tensor label = t.index.select(1, 0);
               at::Tensor hits = at::empty({n, static_cast<int64_t>(percentages.size())}, at::kDouble);
               for (size_t j = 0; j < percentages.size(); ++j) {
                 const int64_t k = h * w * percentages[j] / 100;
                 at::Tensor mask = rank.lt(k).view({n, 1, h, w});
                 at::Tensor imputed = noisy_linear_imputation(x, mask, noise, gen, ctx);
                 at::NoGradGuard no_grad;
                 at::Tensor pred = map_chunks(ctx, imputed, items_per_chunk(ctx, kForwardBytesFactor * example_bytes(x), n),
                                              [&](const at::Tensor& xb, int64_t) { return score_rows(logits_of(m, xb)).argmax(1); },
                                              ChunkProgress::Quiet);
                 hits.select(1, static_cast<int64_t>(j)).copy_(pred.eq(label).to(at::kDouble).cpu());
                 ctx.progress(j + 1, percentages.size());
               }
               if (a.string("reduce") == "none") return Value(hits);
               return Value(hits.mean(0));
             });

  OpSignature irof("metric.irof",
                   "IROF (Rieger & Hansen, 2020; Quantus' IROF): segments of the image are replaced by the mean of "
                   "the current image one after another, the most relevant first (mean relevance over the "
                   "segment), and the target's output relative to the original's is read after each; the area over "
                   "that curve, segments minus the trapezoid area. Segments are `segments` ([H, W] or [N, H, W] "
                   "integer ids, e.g. attr.feature_grid), or a grid of 10 x 10. Higher is better.");
  target_param(model_and_inputs(irof).input("attributions", "tensor", "Attributions of the inputs (one target)"));
  quantus_params(irof, false, true).optional("segments", "tensor", "Segment ids per pixel; none: a 10 x 10 grid");
  lib.define(irof.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\""),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               if (x.dim() != 4) throw OpError("IROF removes segments of images [N, C, H, W]; inputs are " + describe(Value(x)));
               const int64_t n = x.size(0), h = x.size(2), w = x.size(3), channels = x.size(1);
               Targets t = targets_of(a, m, x);
               if (t.multi) throw OpError("this metric takes one target per input");
               at::Tensor attr = prepared_attributions(a.tensor("attributions"), x, a).view(x.sizes());
               at::Tensor seg;
               if (a.is_none("segments")) {
                 at::Tensor r = at::arange(h, at::kLong).mul(std::min<int64_t>(10, h)).div(h, "floor").view({h, 1});
                 at::Tensor cc = at::arange(w, at::kLong).mul(std::min<int64_t>(10, w)).div(w, "floor").view({1, w});
                 seg = (r * std::min<int64_t>(10, w) + cc).expand({n, h, w});
               } else {
                 seg = a.tensor("segments").to(at::kLong);
                 while (seg.dim() > 2 && seg.size(0) == 1 && seg.dim() > 3) seg = seg.squeeze(0);
                 if (seg.dim() == 4 && seg.size(1) == 1) seg = seg.squeeze(1);
                 if (seg.dim() == 2) seg = seg.unsqueeze(0).expand({n, h, w});
                 if (seg.dim() != 3 || seg.size(1) != h || seg.size(2) != w || (seg.size(0) != n && seg.size(0) != 1))
                   throw OpError("segments " + describe(Value(seg)) + " must be ids [H, W] or [N, H, W] for images " +
                                 describe(Value(x)));
                 seg = seg.expand({n, h, w});
               }
               seg = seg.to(x.device()).contiguous();
               at::Tensor y0 = own_scores(m, x, t, a, ctx);
               at::Tensor aoc = at::empty({n}, at::kDouble);
               for (int64_t i = 0; i < n; ++i) {
                 if (ctx.cancelled()) throw OpError("cancelled");
                 at::Tensor ids = std::get<0>(at::_unique(seg[i].flatten(), /*sorted=*/true));
                 const int64_t l = ids.size(0);
                 if (l < 2) throw OpError("IROF needs at least two segments; input " + std::to_string(i) + " has " + std::to_string(l));
                 at::Tensor seg_of = at::searchsorted(ids, seg[i].flatten());            // [H * W] in 0..L-1
                 at::Tensor rel = at::zeros({l}, at::kDouble).to(x.device())
                                      .index_add_(0, seg_of, attr[i].sum(0).flatten().to(at::kDouble));
                 at::Tensor size = at::zeros({l}, at::kDouble).to(x.device()).index_add_(0, seg_of, at::ones({h * w}, rel.options()));
                 at::Tensor order = std::get<1>((rel / (size * static_cast<double>(channels))).sort(/*stable=*/true, 0, /*descending=*/true));
                 // Cumulative: each step replaces one more segment by the mean of the image as it stands.
                 at::Tensor xi = x[i].clone();
                 std::vector<at::Tensor> steps;
                 for (int64_t k = 0; k < l; ++k) {
                   at::Tensor mask = seg_of.eq(order[k]).view({1, h, w});
                   xi = at::where(mask, xi.mean(), xi);
                   steps.push_back(xi);
                 }
                 Targets ti{t.index.slice(0, i, i + 1).expand({l, 1}).contiguous(), false};
                 at::Tensor batch = at::stack(steps, 0);
                 at::Tensor p = perturbed_scores(m, batch, ti, 1, [&](int64_t, int64_t) { return batch.unsqueeze(0); }, a, ctx)
                                    .select(1, 0) / y0[i];
                 double trapz = (p.sum() - (p[0] + p[l - 1]) / 2).item<double>();
                 aoc[i] = static_cast<double>(l) - trapz;
               }
               return reduce_scores(aoc, "irof", "", a, ctx);
             });
}

}  // namespace pipette::stdlib
