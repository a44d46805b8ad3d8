// metric.*: explanation quality metrics, named as in Quantus. Faithfulness
// metrics score perturbed inputs through the same batched evaluator as the
// perturbation methods; robustness metrics re-explain with a gradient method.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <limits>

#include "stdlib/attr/attribution.hpp"
#include "stdlib/metric/quantus_common.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Per-feature relevance [N, F]: images [N, C, H, W] are scored per pixel (the
// channels summed), anything else per element.
at::Tensor feature_relevance(const at::Tensor& attributions) {
  if (attributions.dim() == 4) return attributions.sum(1).flatten(1);
  return attributions.flatten(1);
}

// |relevance| per feature [N, F] in double, for the metrics of attributions alone.
at::Tensor magnitudes(const OpArgs& a) {
  return feature_relevance(a.tensor("attributions")).abs().to(at::kDouble);
}

// Attributions for `x`: shaped like it, or with one channel for images (Grad-CAM, RISE).
at::Tensor attributions_for(const OpArgs& a, const at::Tensor& x) {
  at::Tensor attr = a.tensor("attributions").to(x.device());
  bool same = attr.sizes() == x.sizes();
  bool one_channel = x.dim() == 4 && attr.dim() == 4 && attr.size(1) == 1 && attr.size(0) == x.size(0) &&
                     attr.size(2) == x.size(2) && attr.size(3) == x.size(3);
  if (!same && !one_channel)
    throw OpError("attributions " + describe(Value(attr)) + " are not shaped like the inputs " + describe(Value(x)) +
                  " (one target per call; images may have one channel)");
  return attr;
}

OpSignature& curve_params(OpSignature& s) {
  return target_param(model_and_inputs(s).input("attributions", "tensor", "Attributions for the inputs"))
      .param("steps", "int", Operand::integer(20), "Points on the curve after the start")
      .range(1)
      .param("baseline", "float", Operand::real(0.0), "Value of removed (deletion) or not yet inserted features")
      .param("output_kind", "string", Operand::string("auto"),
             "What the model returns: logits (softmaxed to probabilities), probs (used as they are), or auto: probs "
             "when every output row of the inputs is non-negative and sums to 1, else logits")
      .choices({"auto", "logits", "probs"});
}

// Whether the model's outputs are to be softmaxed: a model that ends in
// softmax gave wrong curves when its probabilities were softmaxed again
// (insertion AUC 0.948 -> 0.459 on one such model).
Score curve_score(const OpArgs& a, torch::jit::Module& m, const at::Tensor& x, OpContext& ctx) {
  const std::string& kind = a.string("output_kind");
  if (kind == "logits") return Score::Probability;
  if (kind == "probs") return Score::Logit;
  torch::NoGradGuard no_grad;
  // A few inputs tell: a softmax output sums to 1 on every row, logits almost never do.
  at::Tensor raw = logits_of(m, x.slice(0, 0, std::min<int64_t>(x.size(0), 16)));
  bool probs = rows_are_probabilities(raw);
  if (probs)
    ctx.log(OpContext::Info,
            "the model's outputs are probabilities already (rows non-negative, summing to 1): used as they are, "
            "not softmaxed again (output_kind=\"logits\" forces the softmax)");
  return probs ? Score::Logit : Score::Probability;
}


// Pixel flipping: the target's softmax probability as the most relevant
// features are removed (or inserted into the baseline), [N, steps + 1].
at::Tensor flipping_curve(const OpArgs& a, OpContext& ctx, bool insertion) {
  torch::jit::Module m = model_arg(a, "model", ctx.device);
  at::Tensor x = a.tensor("inputs").to(ctx.device);
  at::Tensor relevance = feature_relevance(attributions_for(a, x));  // [N, F]
  Targets t = targets_of(a, m, x);
  if (t.multi) throw OpError("pixel flipping takes one target per example");
  int64_t n = x.size(0), steps = a.int_("steps"), features = relevance.size(1);
  at::Tensor flat = relevance.to(at::kDouble);
  int64_t constant = (std::get<0>(flat.max(1)) - std::get<0>(flat.min(1))).eq(0).sum().item<int64_t>();
  if (constant > 0)
    ctx.log(OpContext::Warn, std::to_string(constant) + " of " + std::to_string(n) +
                                 " attributions give every feature the same relevance (e.g. all zero): their "
                                 "order of removal is arbitrary, and so is their curve");
  Score score = curve_score(a, m, x, ctx);
  // rank[i, f] = position of feature f when example i's features are sorted by relevance, descending.
  at::Tensor rank = relevance.argsort(1, /*descending=*/true).argsort(1, /*descending=*/false);
  bool per_pixel = x.dim() == 4;
  at::Tensor base = at::full_like(x, a.float_("baseline"));
  at::Tensor curve = at::empty({n, steps + 1}, x.options());
  evaluate_perturbations(
      m, x, t, steps + 1,
      [&](int64_t p0, int64_t p1) {
        std::vector<at::Tensor> keep;
        for (int64_t k = p0; k < p1; ++k) {
          int64_t moved = static_cast<int64_t>(std::llround(static_cast<double>(k) / steps * features));
          at::Tensor flipped = rank.lt(moved);  // the `moved` most relevant features
          at::Tensor kept = insertion ? flipped : flipped.logical_not();
          keep.push_back(per_pixel ? kept.view({n, 1, x.size(2), x.size(3)}) : kept.view(x.sizes()));
        }
        return blend(x, base, at::stack(keep, 0));
      },
      [&](int64_t p0, int64_t p1, const at::Tensor& s) { curve.slice(1, p0, p1).copy_(s.select(2, 0).t()); }, ctx,
      score);
  return curve;
}

// Trapezoid rule over [0, 1] for curves [N, K + 1], per example.
at::Tensor curve_auc(const at::Tensor& curves) {
  int64_t steps = curves.size(1) - 1;
  return (curves.sum(1) - (curves.select(1, 0) + curves.select(1, steps)) / 2) / static_cast<double>(steps);
}

// A per-input score [N] with NaN where `undefined`: the metric's result under reduce=.
at::Tensor with_nan(const at::Tensor& values, const at::Tensor& undefined) {
  at::Tensor v = values.to(at::kDouble).cpu();
  return at::where(undefined.cpu(), at::full_like(v, std::numeric_limits<double>::quiet_NaN()), v);
}

// Spearman rank correlation of each row pair of a and b [N, D].
at::Tensor spearman(const at::Tensor& a, const at::Tensor& b) {
  auto ranks = [](const at::Tensor& v) { return v.argsort(1, false).argsort(1, false).to(at::kDouble); };
  at::Tensor ra = ranks(a), rb = ranks(b);
  ra = ra - ra.mean(1, true);
  rb = rb - rb.mean(1, true);
  return (ra * rb).sum(1) / (ra.norm(2, 1) * rb.norm(2, 1)).clamp_min(1e-12);
}

// Layers of a model: its parameters grouped by name without the last part
// ("fc1_weight", "fc1_bias" -> "fc1"; "features.0.weight" -> "features.0"), in order.
std::vector<std::pair<std::string, std::vector<std::string>>> layers_of(torch::jit::Module& m) {
  std::vector<std::pair<std::string, std::vector<std::string>>> layers;
  for (const auto& p : m.named_parameters(/*recurse=*/true)) {
    std::string layer = p.name.substr(0, p.name.find_last_of("._"));
    if (layers.empty() || layers.back().first != layer) layers.push_back({layer, {}});
    layers.back().second.push_back(p.name);
  }
  return layers;
}

}  // namespace

void register_metric(OpLibrary& lib) {
  register_quantus_faithfulness(lib);
  register_quantus_robustness(lib);
  // What a metric call with shards=N and reduce="mean" lowers to: the mean of
  // the shards' per-input scores, over the defined ones, as the unsharded
  // call computes it.
  lib.define(OpSignature("metric.mean_of_shards", "The mean of a sharded metric's per-input scores over the inputs "
                                                  "where it is defined (NaN elsewhere): what shards=N with "
                                                  "reduce=\"mean\" lowers to.")
                 .input("scores", "tensor", "Per-input scores [N], NaN where undefined")
                 .param("metric", "string", Operand::string("metric"), "The metric's name, for messages")
                 .passes_nonfinite()
                 .returns("float"),
             [](const OpArgs& a, OpContext& ctx) {
               at::Tensor s = a.tensor("scores").to(at::kCPU, at::kDouble).flatten();
               std::string name = a.string("metric");
               if (name.rfind("metric.", 0) == 0) name = name.substr(7);
               return Value(mean_where_defined(s, s.isnan(), name, "see the shards' warnings", ctx));
             });
  OpSignature del("metric.deletion",
                  "Deletion curve AUC (pixel flipping, Samek et al.): remove the most relevant features first, "
                  "replacing them with BASELINE, and track the softmax probability of the target class. Lower is "
                  "better: a faithful explanation destroys the prediction quickly.");
  lib.define(reduce_param(curve_params(del)).returns("float|tensor", "Mean area under the deletion curves, over [0, 1] removed ([N] with reduce=\"none\")"),
             [](const OpArgs& a, OpContext& ctx) { return reduce_scores(curve_auc(flipping_curve(a, ctx, false)), "deletion", "", a, ctx); });
  OpSignature ins("metric.insertion",
                  "Insertion curve AUC (Petsiuk et al., 2018): start from the baseline and insert the most relevant "
                  "features first, tracking the softmax probability of the target class. Higher is better.");
  lib.define(reduce_param(curve_params(ins)).returns("float|tensor", "Mean area under the insertion curves, over [0, 1] inserted ([N] with reduce=\"none\")"),
             [](const OpArgs& a, OpContext& ctx) { return reduce_scores(curve_auc(flipping_curve(a, ctx, true)), "insertion", "", a, ctx); });
  OpSignature curve("metric.flipping_curve",
                    "The deletion (or insertion) curves themselves, for viz.curve: the target's softmax "
                    "probability after each step.");
  curve_params(curve).param("insertion", "bool", Operand::boolean(false), "Insert instead of delete");
  lib.define(curve.returns("tensor", "[N, steps + 1] probabilities"),
             [](const OpArgs& a, OpContext& ctx) { return Value(flipping_curve(a, ctx, a.bool_("insertion"))); });

  OpSignature inf("metric.infidelity",
                  "Infidelity (Yeh et al., 2019): E[(I . attributions - (F(x) - F(x - I)))^2] over Gaussian "
                  "perturbations I, estimated from n_perturb draws per input, all scored in batched forward passes. "
                  "Lower is better.");
  target_param(model_and_inputs(inf).input("attributions", "tensor", "Attributions for the inputs"))
      .param("n_perturb", "int", Operand::integer(16), "Perturbations per input")
      .range(1)
      .param("stdevs", "float", Operand::real(0.1), "Standard deviation of the perturbation")
      .range(0.0)
      .param("normalize", "bool", Operand::boolean(false),
             "Scale attributions by the least-squares optimal factor first (Captum's normalize)")
      .stochastic();
  reduce_param(inf);
  lib.define(inf.returns("float|tensor", "Mean infidelity over the inputs ([N] with reduce=\"none\")"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    at::Tensor attr = attributions_for(a, x).expand_as(x);
    Targets t = targets_of(a, m, x);
    int64_t perturb = a.int_("n_perturb");
    at::Generator gen = ctx.generator();
    at::Tensor fx = target_scores(m, x, t, ctx).select(1, 0);  // [N]
    std::vector<int64_t> shape{perturb};
    shape.insert(shape.end(), x.sizes().begin(), x.sizes().end());
    at::Tensor noise = at::empty(shape, x.options().device(at::kCPU)).normal_(0, a.float_("stdevs"), gen).to(x.device());
    at::Tensor s = perturbation_scores(
        m, x, t, perturb, [&](int64_t p0, int64_t p1) { return x.unsqueeze(0) - noise.slice(0, p0, p1); }, ctx);
    at::Tensor explained = (noise * attr.unsqueeze(0)).flatten(2).sum(2);  // [P, N]: I . a
    at::Tensor change = fx.unsqueeze(0) - s.select(2, 0);                // [P, N]
    if (a.bool_("normalize")) {
      at::Tensor beta = (explained * change).mean(0) / (explained * explained).mean(0).clamp_min(1e-12);
      explained = explained * beta.unsqueeze(0);
    }
    return reduce_scores((explained - change).pow(2).mean(0), "infidelity", "", a, ctx);
  });

  OpSignature comp("metric.completeness",
                   "Completeness (Sundararajan et al.; Quantus' Completeness): |sum(attributions) - (F(x) - F(b))| "
                   "per input, averaged. 0 for a complete method such as exact integrated gradients.");
  baseline_params(target_param(model_and_inputs(comp).input("attributions", "tensor", "Attributions for the inputs")));
  reduce_param(comp);
  lib.define(comp.returns("float|tensor", "Mean absolute completeness error ([N] with reduce=\"none\")"), [](const OpArgs& a, OpContext& ctx) {
    return reduce_scores(completeness_gap(a, ctx).abs(), "completeness", "", a, ctx);
  });

  for (bool max : {true, false}) {
    OpSignature sens(max ? "metric.max_sensitivity" : "metric.avg_sensitivity",
                     std::string("Explanation sensitivity (Yeh et al., 2019; Quantus' ") +
                         (max ? "MaxSensitivity" : "AvgSensitivity") +
                         "): re-explain inputs perturbed uniformly within +-radius with the gradient method `explainer`, "
                         "and report the " + (max ? "largest" : "mean") +
                         " change ||a(x') - a(x)|| / ||a(x)|| over n_samples draws, averaged over inputs. Lower is "
                         "more robust.");
    attribution_inputs(sens)
        .param("radius", "float", Operand::real(0.02), "Half-width of the uniform perturbation")
        .range(0.0)
        .param("n_samples", "int", Operand::integer(10), "Perturbed copies per input, explained together")
        .range(1);
    reduce_param(explainer_params(sens).stochastic());
    lib.define(sens.returns("float|tensor", "Mean over inputs of the sensitivity ([N] with reduce=\"none\")"), [max](const OpArgs& a, OpContext& ctx) {
      torch::jit::Module m = model_arg(a, "model", ctx.device);
      at::Tensor x = a.tensor("inputs").to(ctx.device);
      Targets t = targets_of(a, m, x);
      if (t.multi) throw OpError("sensitivity takes one target per example");
      at::Tensor target = t.index.select(1, 0).contiguous();
      int64_t s = a.int_("n_samples"), n = x.size(0);
      Method explain = gradient_method(a.string("explainer"), m, a, ctx, baselines_of(a, x, ctx));
      at::Tensor base = explain(x, target).flatten(1);  // [N, D]
      at::Generator gen = ctx.generator();
      std::vector<int64_t> shape{s};
      shape.insert(shape.end(), x.sizes().begin(), x.sizes().end());
      double r = a.float_("radius");
      at::Tensor noise = at::empty(shape, x.options().device(at::kCPU)).uniform_(-r, r, gen).to(x.device());
      at::Tensor moved = explain((x.unsqueeze(0) + noise).flatten(0, 1), target.repeat({s})).view({s, n, -1});
      at::Tensor change = (moved - base.unsqueeze(0)).norm(2, 2) / base.norm(2, 1).clamp_min(1e-12).unsqueeze(0);
      at::Tensor per_input = max ? std::get<0>(change.max(0)) : change.mean(0);
      return reduce_scores(per_input, max ? "max_sensitivity" : "avg_sensitivity", "", a, ctx);
    });
  }

  OpSignature mprt("metric.mprt",
                   "Model parameter randomisation test (Adebayo et al., 2018; Quantus' MPRT): randomise the "
                   "model's layers one after another from the output down (cascading), re-explain with the given "
                   "gradient method after each, and measure the Spearman rank correlation with the original "
                   "attributions. An explanation that depends on what the model learned loses similarity.");
  attribution_inputs(mprt);
  explainer_params(mprt)
      .param("absolute", "bool", Operand::boolean(true), "Compare |attributions|, as Quantus does by default")
      .stochastic();
  reduce_param(mprt);
  lib.define(mprt.returns("tensor", "[L]: mean similarity after randomising the top 1, 2, ..., L layers ([N, L] with reduce=\"none\")"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               Targets t = targets_of(a, m, x);
               if (t.multi) throw OpError("metric.mprt takes one target per example");
               at::Tensor target = t.index.select(1, 0).contiguous();
               at::Tensor b = baselines_of(a, x, ctx);
               bool absolute = a.bool_("absolute");
               auto explain = [&](torch::jit::Module& model) {
                 at::Tensor e = gradient_method(a.string("explainer"), model, a, ctx, b)(x, target).flatten(1);
                 return absolute ? e.abs() : e;
               };
               at::Tensor original = explain(m);
               torch::jit::Module randomised = clone_model(m);
               auto layers = layers_of(randomised);
               if (layers.empty()) throw OpError("the model has no parameters to randomise");
               at::Generator gen = ctx.generator();
               std::vector<at::Tensor> similarity;
               for (auto layer = layers.rbegin(); layer != layers.rend(); ++layer) {
                 {
                   torch::NoGradGuard no_grad;
                   for (const auto& p : randomised.named_parameters(true))
                     if (std::find(layer->second.begin(), layer->second.end(), p.name) != layer->second.end()) {
                       // Same scale as the trained values, new draws.
                       double sd = p.value.numel() > 1 ? p.value.std().item<double>() : 0.1;
                       at::Tensor fresh = at::empty(p.value.sizes(), p.value.options().device(at::kCPU))
                                              .normal_(0, std::max(sd, 1e-3), gen);
                       p.value.copy_(fresh.to(p.value.device()));
                     }
                 }
                 similarity.push_back(spearman(original, explain(randomised)).to(at::kDouble).cpu());
               }
               at::Tensor per_input = at::stack(similarity, 1);  // [N, L]
               return Value(a.string("reduce") == "none" ? per_input : per_input.mean(0));
             });

  OpSignature sparse("metric.sparseness",
                     "Sparseness (Chalasani et al., 2020; Quantus' Sparseness): the Gini index of |attributions| "
                     "per input, averaged. 1 when one feature holds all relevance, 0 when all hold the same.");
  reduce_param(sparse.input("attributions", "tensor", "Attributions [N, ...]"));
  lib.define(sparse.returns("float|tensor", "Mean Gini index over the inputs whose attribution is not all zero ([N], NaN there, with reduce=\"none\")").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
    at::Tensor r = magnitudes(a);
    int64_t d = r.size(1);
    at::Tensor sorted = std::get<0>(r.sort(1)) + 1e-12;
    at::Tensor k = at::arange(1, d + 1, sorted.options());
    at::Tensor gini = ((2 * k - d - 1) * sorted).sum(1) / (static_cast<double>(d) * sorted.sum(1));
    return reduce_scores(with_nan(gini, r.sum(1).eq(0)), "sparseness", "the attribution is all zero", a, ctx);
  });

  OpSignature complexity("metric.complexity",
                         "Complexity (Bhatt et al., 2020; Quantus' Complexity): the entropy of each input's "
                         "relevance distribution |a| / sum |a|, averaged. Lower is simpler.");
  reduce_param(complexity.input("attributions", "tensor", "Attributions [N, ...]"));
  lib.define(complexity.returns("float|tensor", "Mean entropy in nats over the inputs whose attribution is not all zero ([N], NaN there, with reduce=\"none\")").may_return_nonfinite(),
             [](const OpArgs& a, OpContext& ctx) {
    at::Tensor r = magnitudes(a);
    at::Tensor p = r / r.sum(1, true).clamp_min(1e-300);
    at::Tensor entropy = -(p * (p + 1e-300).log()).sum(1);
    return reduce_scores(with_nan(entropy, r.sum(1).eq(0)), "complexity", "the attribution is all zero", a, ctx);
  });

  auto localisation = [](const char* name, const char* doc) {
    OpSignature s(name, doc);
    s.input("attributions", "tensor", "Attributions [N, C, H, W] or [N, ...]")
        .input("masks", "tensor", "Ground-truth regions: nonzero where the evidence is, per pixel [N, H, W] or [N, 1, H, W]");
    reduce_param(s).may_return_nonfinite();
    return s;
  };
  auto relevance_and_mask = [](const OpArgs& a) {
    at::Tensor r = feature_relevance(a.tensor("attributions")).to(at::kDouble);
    at::Tensor masks = a.tensor("masks").to(r.device());
    if (masks.dim() == 4) masks = masks.sum(1);
    at::Tensor m = masks.flatten(1).ne(0);
    if (m.sizes() != r.sizes())
      throw OpError("masks " + describe(Value(a.tensor("masks"))) + " do not cover the attributions' " +
                    std::to_string(r.size(1)) + " features per input");
    return std::make_pair(r, m);
  };
  lib.define(localisation("metric.pointing_game",
                          "Pointing game (Zhang et al., 2018): the fraction of inputs whose most relevant pixel "
                          "lies inside the mask.")
                 .returns("float|tensor", "Hit rate in [0, 1] over the inputs whose attribution has a most relevant pixel ([N] with reduce=\"none\", NaN where it has none)"),
             [relevance_and_mask](const OpArgs& a, OpContext& ctx) {
               auto [r, m] = relevance_and_mask(a);
               at::Tensor hit = m.gather(1, r.argmax(1, true)).squeeze(1);
               // A constant attribution has no most relevant pixel: argmax picks the first.
               at::Tensor flat = (std::get<0>(r.max(1)) - std::get<0>(r.min(1))).eq(0);
               return reduce_scores(with_nan(hit.to(at::kDouble), flat), "the pointing game",
                                    "every pixel is equally relevant, e.g. all zero", a, ctx);
             });
  lib.define(localisation("metric.relevance_mass",
                          "Relevance mass accuracy (Arras et al., 2022): the share of positive relevance that "
                          "falls inside the mask, averaged over inputs.")
                 .returns("float|tensor", "Share in [0, 1], over the inputs with some positive relevance ([N] with reduce=\"none\", NaN where there is none)"),
             [relevance_and_mask](const OpArgs& a, OpContext& ctx) {
               auto [r, m] = relevance_and_mask(a);
               at::Tensor pos = r.clamp_min(0);
               at::Tensor inside = (pos * m.to(at::kDouble)).sum(1) / pos.sum(1).clamp_min(1e-300);
               return reduce_scores(with_nan(inside, pos.sum(1).eq(0)), "relevance mass",
                                    "the attribution has no positive relevance", a, ctx);
             });
}

}  // namespace pipette::stdlib
