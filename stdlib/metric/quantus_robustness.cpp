// Robustness and randomisation metrics named and parameterised as Quantus':
// local Lipschitz estimate, continuity, random logit, sufficiency and
// consistency. Re-explanations use the gradient method `explainer`, as
// metric.max_sensitivity does.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <limits>
#include <map>
#include <memory>

#include "stdlib/metric/quantus_common.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

struct Explained {
  torch::jit::Module model;
  at::Tensor x, target;  // target [N]
  Method explain;
};

// On the heap: the method refers to the model by address.
std::unique_ptr<Explained> explained(const OpArgs& a, OpContext& ctx) {
  auto ep = std::make_unique<Explained>(Explained{model_arg(a, "model", ctx.device), input_batch(a, ctx), {}, {}});
  Explained& e = *ep;
  Targets t = targets_of(a, e.model, e.x);
  if (t.multi) throw OpError("this metric takes one target per input");
  e.target = t.index.select(1, 0).contiguous();
  e.explain = gradient_method(a.string("explainer"), e.model, a, ctx, baselines_of(a, e.x, ctx));
  return ep;
}

// Predicted classes [N] of inputs.
at::Tensor predictions(torch::jit::Module& m, const at::Tensor& x) {
  at::NoGradGuard no_grad;
  return score_rows(logits_of(m, x)).argmax(1);
}

// 1-D SSIM of each row pair [N, F] as skimage's structural_similarity
// computes it on flat vectors (Quantus' ssim): a window of 7 (reflected at
// the ends), sample covariances, data range from both rows, the mean over
// the positions whose window fits.
at::Tensor ssim_rows(const at::Tensor& u, const at::Tensor& v) {
  const int64_t f = u.size(1);
  if (f < 7) throw OpError("SSIM needs at least 7 values per attribution; these have " + std::to_string(f));
  at::Tensor both = at::cat({u, v}, 1);
  at::Tensor range = (std::get<0>(both.max(1)) - std::get<0>(both.min(1))).abs().view({-1, 1});
  at::Tensor c1 = (0.01 * range).pow(2), c2 = (0.03 * range).pow(2);
  auto mean7 = [](const at::Tensor& z) {  // scipy.ndimage.uniform_filter(size=7, mode="reflect")
    at::Tensor padded = at::cat({z.slice(1, 0, 3).flip(1), z, z.slice(1, z.size(1) - 3, z.size(1)).flip(1)}, 1);
    return at::avg_pool1d(padded.unsqueeze(1), {7}, {1}).squeeze(1);
  };
  const double cn = 7.0 / 6.0;
  at::Tensor ux = mean7(u), uy = mean7(v);
  at::Tensor vx = cn * (mean7(u * u) - ux * ux), vy = cn * (mean7(v * v) - uy * uy), vxy = cn * (mean7(u * v) - ux * uy);
  at::Tensor s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  return s.slice(1, 3, f - 3).mean(1);
}

// The explainer's `abs` is the metric's too: |saliency|, and |attributions|
// after normalising, with Quantus' default for the metric.
OpSignature& robustness_inputs(OpSignature& s, bool abs_default) {
  attribution_inputs(s);
  explainer_params(s, abs_default);
  return quantus_params(s, abs_default, true, /*declare_abs=*/false);
}

}  // namespace

void register_quantus_robustness(OpLibrary& lib) {
  OpSignature lle("metric.local_lipschitz_estimate",
                  "Local Lipschitz estimate (Alvarez-Melis & Jaakkola, 2018; Quantus' LocalLipschitzEstimate): the "
                  "largest ||a(x) - a(x')||_2 / ||x - x'||_2 over nr_samples Gaussian perturbations x' of each input "
                  "(all features, standard deviation perturb_std), the attributions re-explained with `explainer` "
                  "and prepared as the originals. Lower is more robust.");
  robustness_inputs(lle, false)
      .param("nr_samples", "int", Operand::integer(200), "Perturbations per input, explained together")
      .range(1)
      .param("perturb_std", "float", Operand::real(0.1), "The noise's standard deviation")
      .range(0.0)
      .stochastic();
  lib.define(lle.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\""), [](const OpArgs& a, OpContext& ctx) {
    auto ep = explained(a, ctx);
    Explained& e = *ep;
    const int64_t n = e.x.size(0), s = a.int_("nr_samples");
    at::Tensor base = prepared(e.explain(e.x, e.target).reshape({n, -1}), a);
    at::Generator gen = ctx.generator();
    // Samples in chunks under the memory budget, keeping the running maximum.
    at::Tensor best = at::full({n}, -std::numeric_limits<double>::infinity(), base.options());
    const int64_t per_chunk = std::max<int64_t>(1, items_per_chunk(ctx, kGradientBytesFactor * example_bytes(e.x) * n, s));
    for_chunks(ctx, s, per_chunk, [&](int64_t s0, int64_t s1) {
      const int64_t k = s1 - s0;
      std::vector<int64_t> shape{k};
      shape.insert(shape.end(), e.x.sizes().begin(), e.x.sizes().end());
      at::Tensor noise = at::empty(shape, e.x.options().device(at::kCPU)).normal_(0, a.float_("perturb_std"), gen).to(e.x.device());
      at::Tensor moved = (e.x.unsqueeze(0) + noise).flatten(0, 1);
      at::Tensor again = prepared(e.explain(moved, e.target.repeat({k})).reshape({k * n, -1}), a).view({k, n, -1});
      at::Tensor num = (again - base.unsqueeze(0)).norm(2, 2);
      at::Tensor den = noise.reshape({k, n, -1}).to(at::kDouble).norm(2, 2) + 1e-10;
      best = at::maximum(best, std::get<0>((num / den).max(0)));
    });
    return reduce_scores(best, "local_lipschitz_estimate", "", a, ctx);
  });

  OpSignature cont("metric.continuity",
                   "Continuity (Montavon et al., 2018; Quantus' Continuity): each input is translated along its "
                   "width nr_steps times (by -W + k * ((2W + 1) // nr_steps) pixels, k = 1..nr_steps, the gap filled "
                   "with the input's smallest value), re-explained with `explainer`, and the largest "
                   "||a(x) - a(x_t)||_1 / (||x - x_t||_2 + 1e-9) is its score. Lower is more continuous.");
  robustness_inputs(cont, true).param("nr_steps", "int", Operand::integer(28), "Translations per input").range(1);
  lib.define(cont.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\""), [](const OpArgs& a, OpContext& ctx) {
    auto ep = explained(a, ctx);
    Explained& e = *ep;
    if (e.x.dim() != 4) throw OpError("continuity translates images [N, C, H, W]; inputs are " + describe(Value(e.x)));
    const int64_t n = e.x.size(0), w = e.x.size(3), steps = a.int_("nr_steps"), dx = (2 * w + 1) / steps;
    at::Tensor base = prepared(e.explain(e.x, e.target).reshape({n, -1}), a);
    at::Tensor fill = std::get<0>(e.x.reshape({n, -1}).min(1)).view({n, 1, 1, 1});
    std::vector<at::Tensor> shifted;
    for (int64_t k = 1, t = -w + dx; k <= steps; ++k, t += dx) {
      int64_t shift = std::clamp<int64_t>(t, -w, w);  // past the width the image is all fill (Quantus fails there)
      at::Tensor out = fill.expand_as(e.x).clone();
      if (shift < 0 && -shift < w) out.narrow(3, 0, w + shift).copy_(e.x.narrow(3, -shift, w + shift));
      if (shift >= 0 && shift < w) out.narrow(3, shift, w - shift).copy_(e.x.narrow(3, 0, w - shift));
      shifted.push_back(out);
    }
    at::Tensor moved = at::cat(shifted, 0);  // [steps * N, ...]
    at::Tensor again = prepared(e.explain(moved, e.target.repeat({steps})).reshape({steps * n, -1}), a).view({steps, n, -1});
    at::Tensor num = (again - base.unsqueeze(0)).abs().sum(2);
    at::Tensor den = (moved.view({steps, n, -1}) - e.x.reshape({1, n, -1})).to(at::kDouble).norm(2, 2) + 1e-9;
    return reduce_scores(std::get<0>((num / den).max(0)), "continuity", "", a, ctx);
  });

  OpSignature rl("metric.random_logit",
                 "Random logit (Sixt et al., 2020; Quantus' RandomLogit): the SSIM between each input's attributions "
                 "for its target (given) and its attributions for another class drawn uniformly (seeded; or "
                 "off_target) by `explainer`, both prepared alike. Lower is better: an explanation should depend "
                 "on the class.");
  target_param(model_and_inputs(rl).input("attributions", "tensor", "Attributions of the inputs for their targets"));
  explainer_params(rl, false);
  quantus_params(rl, false, true, /*declare_abs=*/false)
      .optional("off_target", "int|tensor", "The other class per input; none: drawn at random")
      .stochastic();
  lib.define(rl.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\"").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
               auto ep = explained(a, ctx);
    Explained& e = *ep;
               const int64_t n = e.x.size(0);
               int64_t k;
               {
                 at::NoGradGuard no_grad;
                 k = score_rows(logits_of(e.model, e.x.slice(0, 0, 1))).size(1);
               }
               if (k < 2) throw OpError("random logit needs a model with at least two classes");
               at::Tensor off;
               if (!a.is_none("off_target")) {
                 off = targets_for(a, "off_target", e.model, e.x);
                 if (off.eq(e.target).any().item<bool>()) throw OpError("off_target must differ from each input's target");
               } else {
                 at::Generator gen = ctx.generator();
                 at::Tensor j = at::randint(k - 1, {n}, gen, at::TensorOptions().dtype(at::kLong)).to(e.x.device());
                 off = j + j.ge(e.target).to(at::kLong);  // uniform over the classes other than the target
               }
               at::Tensor own = prepared_attributions(a.tensor("attributions"), e.x, a);
               at::Tensor other = prepared(e.explain(e.x, off).reshape({n, -1}), a);
               at::Tensor s = ssim_rows(own, other);
               return reduce_scores(s, "random_logit", "both attributions are the same constant", a, ctx);
             });

  OpSignature suf("metric.sufficiency",
                  "Sufficiency (Dasgupta et al., 2022; Quantus' Sufficiency): inputs whose attributions lie within "
                  "`threshold` of each other (standardised Euclidean distance, divided by the largest distance in "
                  "the batch) should get the same prediction: each input's share of such neighbours predicted as it "
                  "is (0 without neighbours). Higher is better. Depends on the batch, as in Quantus.");
  target_param(model_and_inputs(suf).input("attributions", "tensor", "Attributions of the inputs"));
  quantus_params(suf, true, true).param("threshold", "float", Operand::real(0.6), "Neighbourhood radius").range(0.0, 1.0);
  lib.define(suf.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\"").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               at::Tensor attr = prepared_attributions(a.tensor("attributions"), x, a);
               // Features constant over the batch carry no distance (Quantus' 0 / 0 gives NaN there); they are left out.
               at::Tensor var = attr.var(0, /*unbiased=*/true);
               at::Tensor keep = var.gt(0);
               if (!keep.any().item<bool>()) {
                 at::Tensor nan = at::full({x.size(0)}, std::numeric_limits<double>::quiet_NaN(), at::kDouble);
                 return reduce_scores(nan, "sufficiency", "every attribution is the same", a, ctx);
               }
               at::Tensor z = attr.index({at::indexing::Slice(), keep}) / var.index({keep}).sqrt();
               at::Tensor d = at::cdist(z, z);
               d = d / d.max().clamp_min(std::numeric_limits<double>::min());
               at::Tensor near = d.le(a.float_("threshold")).to(at::kDouble);
               near.fill_diagonal_(0);
               at::Tensor c = predictions(m, x);
               at::Tensor same = c.view({-1, 1}).eq(c.view({1, -1})).to(at::kDouble);
               at::Tensor count = near.sum(1);
               at::Tensor score = at::where(count.gt(0), (near * same).sum(1) / count.clamp_min(1), at::zeros_like(count));
               return reduce_scores(score, "sufficiency", "", a, ctx);
             });

  OpSignature con("metric.consistency",
                  "Consistency (Dasgupta et al., 2022; Quantus' Consistency): inputs whose discretised attributions "
                  "are equal should get the same prediction: each input's share of such inputs predicted as it is. "
                  "The discretisation is Quantus' top_n_sign: the signs of the first n values (in flat order, as "
                  "Quantus computes it). Higher is better. Depends on the batch, as in Quantus.");
  target_param(model_and_inputs(con).input("attributions", "tensor", "Attributions of the inputs"));
  quantus_params(con, true, true).param("n", "int", Operand::integer(5), "Values whose signs make the label").range(1);
  lib.define(con.returns("float|tensor", "The mean over inputs, or [N] with reduce=\"none\""), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    at::Tensor attr = prepared_attributions(a.tensor("attributions"), x, a);
    at::Tensor label = attr.slice(1, 0, std::min<int64_t>(a.int_("n"), attr.size(1))).sign();
    at::Tensor eq = (label.unsqueeze(1) - label.unsqueeze(0)).abs().sum(2).eq(0).to(at::kDouble);
    eq.fill_diagonal_(0);
    at::Tensor c = predictions(m, x);
    at::Tensor same = c.view({-1, 1}).eq(c.view({1, -1})).to(at::kDouble);
    at::Tensor score = (same * eq).sum(1) / (eq.sum(1) + 1e-9);
    return reduce_scores(score, "consistency", "", a, ctx);
  });
}

}  // namespace pipette::stdlib
