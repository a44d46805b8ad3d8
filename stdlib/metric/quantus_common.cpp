#include "stdlib/metric/quantus_common.hpp"

#include "engine/model_call.hpp"

#include <cmath>
#include <limits>

namespace pipette::stdlib {

OpSignature& reduce_param(OpSignature& s) {
  return s.param("reduce", "string", Operand::string("mean"), "mean: one number; none: the score of every input [N]")
      .choices({"mean", "none"});
}

OpSignature& quantus_params(OpSignature& s, bool abs_default, bool softmax_default, bool declare_abs) {
  s.param("normalise", "bool", Operand::boolean(true), "Divide each input's attributions by their largest |value| first");
  if (declare_abs)
    s.param("abs", "bool", Operand::boolean(abs_default), "Take |attributions| (after normalising), as Quantus' default for this metric");
  s.param("softmax", "bool", Operand::boolean(softmax_default),
          "Score the target's softmax probability (true) or its logit, as Quantus' default for this metric");
  return reduce_param(s);
}

at::Tensor prepared(const at::Tensor& flat, const OpArgs& a) {
  at::Tensor f = flat.to(at::kDouble);
  if (a.bool_("normalise")) f = f / f.abs().amax(1, true).clamp_min(std::numeric_limits<double>::min());
  if (a.bool_("abs")) f = f.abs();
  return f;
}

at::Tensor prepared_attributions(const at::Tensor& attributions, const at::Tensor& x, const OpArgs& a) {
  at::Tensor attr = attributions.to(x.device());
  bool one_channel = x.dim() == 4 && attr.dim() == 4 && attr.size(1) == 1 && attr.size(0) == x.size(0) &&
                     attr.size(2) == x.size(2) && attr.size(3) == x.size(3);
  if (attr.sizes() != x.sizes() && !one_channel)
    throw OpError("attributions " + describe(Value(attr)) + " are not shaped like the inputs " + describe(Value(x)) +
                  " (images may have one channel)");
  return prepared(attr.expand_as(x).reshape({x.size(0), -1}), a);
}

OpSignature& perturb_baseline_param(OpSignature& s, const std::string& default_value) {
  return s.param("baseline", "float|string", Operand::string(default_value),
                 "What removed features become: \"black\" (the input's smallest value, as Quantus), \"white\" (its "
                 "largest), \"mean\" (its mean), or a number");
}

at::Tensor baseline_values(const OpArgs& a, const at::Tensor& x) {
  at::Tensor flat = x.reshape({x.size(0), -1});
  const Value& v = a["baseline"];
  if (v.isDouble() || v.isInt()) return at::full({x.size(0)}, a.float_("baseline"), x.options());
  const std::string& kind = v.toStringRef();
  if (kind == "black") return std::get<0>(flat.min(1));
  if (kind == "white") return std::get<0>(flat.max(1));
  if (kind == "mean") return flat.mean(1);
  throw OpError("baseline=\"" + kind + "\" is not one of \"black\", \"white\", \"mean\" or a number");
}

namespace {

// softmax=true scores probabilities, but a model that returns probabilities
// already (rows non-negative, summing to 1) is not softmaxed a second time:
// Quantus' wrapper adds no second softmax either.
Score score_kind(torch::jit::Module& m, const at::Tensor& x, const OpArgs& a, OpContext& ctx) {
  if (!a.bool_("softmax") || x.size(0) == 0) return Score::Logit;
  at::NoGradGuard no_grad;
  UnloggedPasses probing;
  if (!rows_are_probabilities(logits_of(m, x.slice(0, 0, std::min<int64_t>(x.size(0), 16))))) return Score::Probability;
  ctx.log(OpContext::Debug, "the model's outputs are probabilities already: scored as they are, not softmaxed again");
  return Score::Logit;
}

}  // namespace

at::Tensor perturbed_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                            const PerturbationBuilder& build, const OpArgs& a, OpContext& ctx) {
  at::Tensor out = at::empty({x.size(0), perturbations}, x.options().dtype(at::kDouble));
  evaluate_perturbations(
      m, x, t, perturbations, build,
      [&](int64_t p0, int64_t p1, const at::Tensor& s) { out.slice(1, p0, p1).copy_(s.select(2, 0).t()); }, ctx,
      score_kind(m, x, a, ctx));
  return out;
}

at::Tensor own_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, const OpArgs& a, OpContext& ctx) {
  return perturbed_scores(m, x, t, 1, [&](int64_t, int64_t) { return x.unsqueeze(0); }, a, ctx).select(1, 0);
}

at::Tensor pearson_rows(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor da = a.to(at::kDouble) - a.to(at::kDouble).mean(1, true);
  at::Tensor db = b.to(at::kDouble) - b.to(at::kDouble).mean(1, true);
  at::Tensor den = da.norm(2, 1) * db.norm(2, 1);
  at::Tensor r = ((da * db).sum(1) / den).clamp(-1, 1);
  return at::where(den.gt(0), r, at::full_like(r, std::numeric_limits<double>::quiet_NaN()));
}

namespace {

// Ranks 1..K of each row, ties given their average rank (scipy's rankdata).
at::Tensor average_ranks(const at::Tensor& v) {
  at::Tensor out = at::empty_like(v, v.options().dtype(at::kDouble));
  at::Tensor d = v.to(at::kDouble).cpu();
  for (int64_t i = 0; i < d.size(0); ++i) {
    at::Tensor row = d[i];
    at::Tensor order = std::get<1>(row.sort(/*stable=*/true, 0, false));
    auto o = order.accessor<int64_t, 1>();
    auto r = row.accessor<double, 1>();
    std::vector<double> rank(static_cast<size_t>(row.size(0)));
    for (int64_t s = 0; s < row.size(0);) {
      int64_t e = s;
      while (e + 1 < row.size(0) && r[o[e + 1]] == r[o[s]]) ++e;
      for (int64_t k = s; k <= e; ++k) rank[static_cast<size_t>(o[k])] = (s + e) / 2.0 + 1;
      s = e + 1;
    }
    out[i].copy_(at::tensor(rank, at::kDouble));
  }
  return out.to(v.device());
}

}  // namespace

at::Tensor spearman_rows(const at::Tensor& a, const at::Tensor& b) { return pearson_rows(average_ranks(a), average_ranks(b)); }

double mean_where_defined(const at::Tensor& values, const at::Tensor& undefined, const std::string& metric,
                          const std::string& why, OpContext& ctx) {
  int64_t bad = undefined.sum().item<int64_t>(), n = undefined.size(0);
  if (bad == n)
    throw OpError(metric + " is undefined for every input: " + why + " (" + std::to_string(n) + " of " +
                  std::to_string(n) + ")");
  if (bad > 0)
    ctx.log(OpContext::Warn, metric + " is undefined for " + std::to_string(bad) + " of " + std::to_string(n) +
                                 " inputs (" + why + "); they are left out of the mean");
  return values.masked_select(undefined.logical_not()).mean().item<double>();
}

Value reduce_scores(const at::Tensor& scores, const std::string& metric, const std::string& why, const OpArgs& a,
                    OpContext& ctx) {
  at::Tensor s = scores.to(at::kDouble).cpu();
  at::Tensor undefined = s.isnan();
  if (a.string("reduce") == "mean") return Value(mean_where_defined(s, undefined, metric, why, ctx));
  int64_t bad = undefined.sum().item<int64_t>();
  if (bad > 0)
    ctx.log(OpContext::Warn, metric + " is NaN for " + std::to_string(bad) + " of " + std::to_string(s.size(0)) +
                                 " inputs: " + why);
  return Value(s);
}

}  // namespace pipette::stdlib
