// attr.tcav: testing with concept activation vectors (Kim et al., 2018), as
// Captum's TCAV: a linear classifier at a hook point separates a concept's
// examples from random ones; its normal is the concept's direction (CAV); the
// TCAV score is the share of inputs whose target output grows along it; a
// two-sided t-test against CAVs of random sets says whether the concept
// matters beyond chance.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <cmath>

#include "stdlib/attr/attribution.hpp"
#include "stdlib/core/statistics.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// The value at the hook point for every example [N, D] (flattened), in chunks.
at::Tensor activations(HookPoint& hook, const at::Tensor& x, OpContext& ctx) {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> parts;
  for_chunks(ctx, x.size(0), items_per_chunk(ctx, kForwardBytesFactor * example_bytes(x), x.size(0)),
             [&](int64_t i, int64_t e) { parts.push_back(hook.run(x.slice(0, i, e)).first.flatten(1).to(at::kDouble)); },
             ChunkProgress::Quiet);
  return at::cat(parts, 0);
}

// d F_t / d activation for every input [N, D] (flattened).
at::Tensor layer_gradients(HookPoint& hook, const at::Tensor& x, const at::Tensor& target, OpContext& ctx) {
  std::vector<at::Tensor> parts;
  for_chunks(ctx, x.size(0), items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), x.size(0)),
             [&](int64_t i, int64_t e) {
               auto [act, out] = hook.run(x.slice(0, i, e), /*leaf=*/true);
               at::Tensor picked = pick_targets(out, target.slice(0, i, e).view({-1, 1})).sum();
               parts.push_back(torch::autograd::grad({picked}, {act})[0].flatten(1).to(at::kDouble));
             },
             ChunkProgress::Quiet);
  return at::cat(parts, 0);
}

// The unit normal of a ridge-regularised least-squares classifier of
// `pos` (+1) against `neg` (-1) [*, D], from its dual form (an N x N solve),
// and its training accuracy.
std::pair<at::Tensor, double> cav(const at::Tensor& pos, const at::Tensor& neg, double ridge) {
  at::Tensor x = at::cat({pos, neg}, 0);
  at::Tensor mean = x.mean(0, true);
  at::Tensor xc = x - mean;
  at::Tensor y = at::cat({at::ones({pos.size(0)}, x.options()), -at::ones({neg.size(0)}, x.options())});
  at::Tensor gram = xc.matmul(xc.t()) + ridge * at::eye(x.size(0), x.options());
  at::Tensor alpha = at::linalg_solve(gram, (y - y.mean()).unsqueeze(1)).squeeze(1);
  at::Tensor w = xc.t().matmul(alpha);
  double norm = w.norm().item<double>();
  if (!(norm > 0)) throw OpError("the concept's examples and the random ones are the same at the hook point: no CAV");
  at::Tensor score = xc.matmul(w) + y.mean();
  double accuracy = score.gt(0).eq(y.gt(0)).to(at::kDouble).mean().item<double>();
  return {w / norm, accuracy};
}

}  // namespace

void register_attr_tcav(OpLibrary& lib) {
  OpSignature s("attr.tcav",
                "TCAV (Kim et al., 2018), as Captum's TCAV: for each concept and each of the random sets, a linear "
                "classifier (ridge-regularised least squares) at the hook point separates the concept's examples "
                "from the random set's; its unit normal is a concept activation vector (CAV). The TCAV score is "
                "the share of inputs whose target output's directional derivative along the CAV is positive "
                "(magnitude: the summed positive derivatives over the summed absolute ones). The same for CAVs "
                "of one random set against another gives the scores chance makes; a two-sided t-test of the "
                "concept's scores against them gives a p-value per concept.");
  hook_params(attribution_inputs(s))
      .input("concepts", "record", "The concepts' examples by name: {striped: tensor [K, ...], dotted: ...}")
      .input("random", "list<tensor>", "Random example sets [K, ...] (at least 2), each a negative class for the CAVs")
      .param("ridge", "float", Operand::real(1e-2), "The classifier's regularisation, relative to the Gram matrix's scale")
      .range(1e-12)
      .param("alpha", "float", Operand::real(0.05), "Significance level of the t-test")
      .range(0.0, 1.0);
  s.returns("record",
            "concepts: the names; score [C]: the mean TCAV score over random sets; scores [C, R]; magnitude [C]; "
            "random_scores [R (R - 1) / 2]: the scores of CAVs of each pair of random sets; p_value [C]; significant [C] (p < alpha); "
            "accuracy [C, R]: the CAV classifiers' training accuracy");
  s.may_return_nonfinite();  // a p-value is NaN when every score is the same (warned)
  lib.define(s, [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    HookPoint hook = hook_of(a, m);
    at::Tensor x = input_batch(a, ctx);
    Targets t = targets_of(a, m, x);
    if (t.multi) throw OpError("attr.tcav takes one target per input");
    at::Tensor grads = layer_gradients(hook, x, t.index.select(1, 0).contiguous(), ctx);  // [N, D]
    std::vector<at::Tensor> randoms;
    for (const auto& v : a["random"].toListRef()) randoms.push_back(activations(hook, v.toTensor().to(ctx.device), ctx));
    if (randoms.size() < 2) throw OpError("attr.tcav needs at least 2 random sets for its significance test");
    std::vector<std::string> names;
    std::vector<at::Tensor> concepts;
    for (const auto& kv : a["concepts"].toGenericDict()) {
      names.push_back(kv.key().toStringRef());
      concepts.push_back(activations(hook, kv.value().toTensor().to(ctx.device), ctx));
      if (concepts.back().size(1) != grads.size(1))
        throw OpError("concept '" + names.back() + "' has a different value at the hook point than the inputs");
    }
    if (names.empty()) throw OpError("attr.tcav needs at least one concept");
    const double ridge = a.float_("ridge");
    auto scores_along = [&](const at::Tensor& v) {
      at::Tensor d = grads.matmul(v);  // directional derivatives [N]
      double score = d.gt(0).to(at::kDouble).mean().item<double>();
      double total = d.abs().sum().item<double>();
      return std::pair<double, double>{score, total > 0 ? d.clamp_min(0).sum().item<double>() / total : 0.0};
    };
    auto scaled_ridge = [&](const at::Tensor& p, const at::Tensor& q) {
      at::Tensor both = at::cat({p, q}, 0);
      return ridge * (both - both.mean(0, true)).pow(2).sum(1).mean().item<double>();
    };
    std::vector<double> random_scores;
    // Unordered pairs: the CAV of (j, i) is minus that of (i, j), so its score
    // is one minus the other's and would count one draw twice.
    for (size_t i = 0; i < randoms.size(); ++i)
      for (size_t j = i + 1; j < randoms.size(); ++j)
        random_scores.push_back(scores_along(cav(randoms[i], randoms[j], scaled_ridge(randoms[i], randoms[j])).first).first);
    at::Tensor rs = at::tensor(random_scores, at::kDouble);
    const int64_t c = static_cast<int64_t>(names.size()), r = static_cast<int64_t>(randoms.size());
    at::Tensor score = at::empty({c, r}, at::kDouble), magnitude = at::empty({c, r}, at::kDouble), acc = at::empty({c, r}, at::kDouble);
    at::Tensor p = at::empty({c}, at::kDouble);
    for (int64_t i = 0; i < c; ++i) {
      for (int64_t j = 0; j < r; ++j) {
        auto [v, accuracy] = cav(concepts[static_cast<size_t>(i)], randoms[static_cast<size_t>(j)],
                                 scaled_ridge(concepts[static_cast<size_t>(i)], randoms[static_cast<size_t>(j)]));
        auto [sc, mag] = scores_along(v);
        score[i][j] = sc;
        magnitude[i][j] = mag;
        acc[i][j] = accuracy;
      }
      p[i] = t_test_p_value(score[i], rs);
      if (std::isnan(p[i].item<double>()))
        ctx.log(OpContext::Warn, "concept '" + names[static_cast<size_t>(i)] +
                                     "': its scores and the random ones are all the same value; the t-test is undefined (NaN)");
    }
    return make_record({{"concepts", string_list_value(names)},
                        {"score", Value(score.mean(1))},
                        {"scores", Value(score)},
                        {"magnitude", Value(magnitude.mean(1))},
                        {"random_scores", Value(rs)},
                        {"p_value", Value(p)},
                        {"significant", Value(p.lt(a.float_("alpha")))},
                        {"accuracy", Value(acc)}});
  });
}

}  // namespace pipette::stdlib
