// Attribution for language models, as Captum's LLMAttribution (feature
// ablation, Shapley values) and LLMGradientAttribution (layer integrated
// gradients on the embedding): how much each part of a prompt raises the
// log-probability of a given continuation, in total and per continuation token.
// On pipette's lm.* models and any TorchScript language model with the same
// interface (engine/language_model.hpp).
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <cmath>
#include <numeric>

#include "engine/language_model.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/attr/path_integral.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// A prompt cut into features (its tokens, or the segments the caller gave),
// the continuation to explain, and how a prompt with some features absent reads.
struct LlmCase {
  std::vector<std::string> features;        // labels, in order
  std::vector<std::vector<int64_t>> parts;  // the ids of each feature
  std::vector<int64_t> present_only;        // ids of what is always kept before the features (<bos>)
  std::vector<int64_t> baseline;            // ids an absent feature becomes (one per feature: tokens; none: segments)
  std::vector<int64_t> target;              // the continuation's ids
  std::vector<std::string> target_tokens;
  bool per_token = true;
};

LlmCase llm_case(const OpArgs& a, LanguageModel& lm, bool takes_segments) {
  const WordTokenizer& tok = lm.tokenizer();
  LlmCase c;
  c.present_only = {1};  // <bos>
  c.target = tok.encode(a.string("continuation"), "continuation");
  if (c.target.empty()) throw OpError("continuation is empty: there is nothing to explain");
  for (int64_t id : c.target) c.target_tokens.push_back(tok.vocab()[static_cast<size_t>(id)]);
  if (takes_segments && !a.is_none("segments")) {
    c.per_token = false;
    for (const auto& v : a["segments"].toListRef()) {
      c.features.push_back(v.toStringRef());
      c.parts.push_back(tok.encode(v.toStringRef(), "segments"));
    }
  } else {
    const std::vector<int64_t> ids = tok.encode(a.string("prompt"), "prompt");
    for (int64_t id : ids) {
      c.features.push_back(tok.vocab()[static_cast<size_t>(id)]);
      c.parts.push_back({id});
    }
    const std::string& b = a.string("baseline");
    int64_t bid = tok.id(b);
    if (bid < 0) throw OpError("baseline token '" + b + "' is not in the model's vocabulary");
    c.baseline.assign(ids.size(), bid);
  }
  if (c.features.empty()) throw OpError("the prompt has no features to attribute to");
  if (static_cast<int64_t>(c.present_only.size() + c.target.size()) > lm.context())
    throw OpError("the continuation does not fit the model's context of " + std::to_string(lm.context()) + " tokens");
  return c;
}

// The prompt's ids with features where `present` is false absent: replaced
// by the baseline token (tokens), or left out (segments, as Captum's
// template input with empty baselines).
std::vector<int64_t> prompt_ids(const LlmCase& c, const std::vector<bool>& present) {
  std::vector<int64_t> ids = c.present_only;
  for (size_t i = 0; i < c.parts.size(); ++i) {
    if (present[i]) {
      ids.insert(ids.end(), c.parts[i].begin(), c.parts[i].end());
    } else if (c.per_token) {
      ids.push_back(c.baseline[i]);
    }
  }
  return ids;
}

// log p of each continuation token after each prompt [P, m] (teacher
// forcing), in chunks under the memory budget, without gradients.
at::Tensor continuation_logprobs(OpContext& ctx, LanguageModel& lm, const LlmCase& c,
                                 const std::vector<std::vector<bool>>& masks) {
  const int64_t p = static_cast<int64_t>(masks.size()), m = static_cast<int64_t>(c.target.size());
  at::Tensor out = at::empty({p, m}, at::kDouble);
  at::NoGradGuard no_grad;
  const int64_t per_chunk = items_per_chunk(ctx, 4 * lm.context() * lm.tokenizer().size() * 4, p);
  for_chunks(ctx, p, per_chunk, [&](int64_t i0, int64_t i1) {
    std::vector<std::vector<int64_t>> seqs;
    std::vector<int64_t> from;
    for (int64_t i = i0; i < i1; ++i) {
      std::vector<int64_t> s = prompt_ids(c, masks[static_cast<size_t>(i)]);
      if (static_cast<int64_t>(s.size() + c.target.size()) - 1 > lm.context())
        throw OpError("the prompt and continuation (" + std::to_string(s.size() + c.target.size()) +
                      " tokens) do not fit the model's context of " + std::to_string(lm.context()));
      from.push_back(static_cast<int64_t>(s.size()));
      s.insert(s.end(), c.target.begin(), c.target.end());
      seqs.push_back(std::move(s));
    }
    TokenBatch b = token_batch(seqs, from, ctx.device);
    at::Tensor lp = target_logprobs(lm.module(), b).to(at::kDouble).cpu();  // [rows, T]
    for (int64_t r = 0; r < i1 - i0; ++r)
      out[i0 + r].copy_(lp[r].slice(0, from[static_cast<size_t>(r)] - 1, from[static_cast<size_t>(r)] - 1 + m));
  });
  return out;
}

// The result every LLM method returns.
Value llm_result(const LlmCase& c, const at::Tensor& token_attr /* [m, n] */) {
  return make_record({{"tokens", string_list_value(c.features)},
                      {"continuation_tokens", string_list_value(c.target_tokens)},
                      {"seq_attr", Value(token_attr.sum(0))},
                      {"token_attr", Value(token_attr.contiguous())}});
}

OpSignature& llm_params(OpSignature& s, bool segments) {
  s.input("model", "model", "A language model (train.lm's, or any TorchScript model with vocab and context_length)")
      .input("prompt", "string", "The prompt (its tokens are the features, after <bos>)")
      .input("continuation", "string", "The text whose log-probability after the prompt is explained");
  if (segments)
    s.optional("segments", "list<string>",
               "Features as segments of text instead of tokens: the prompt is their concatenation, and an absent "
               "segment is left out (Captum's TextTemplateInput with empty baselines); prompt= is then ignored");
  return s.param("baseline", "string", Operand::string("<pad>"),
                 "The token an absent prompt token becomes (Captum's TextTokenInput baselines)");
}

const char* kLlmReturns =
    "tokens: the features (prompt tokens or segments); continuation_tokens; token_attr [m, n]: each feature's "
    "attribution to each continuation token's log-probability; seq_attr [n]: to the continuation's total "
    "log-probability (their sum)";

}  // namespace

void register_attr_llm(OpLibrary& lib) {
  OpSignature fa("attr.llm_feature_ablation",
                 "Feature ablation on a language model's prompt, as Captum's LLMAttribution(FeatureAblation): each "
                 "feature's attribution is the continuation's log-probability with the whole prompt minus with that "
                 "feature absent, for the total and for each continuation token.");
  llm_params(fa, true).returns("record", kLlmReturns);
  lib.define(fa, [](const OpArgs& a, OpContext& ctx) {
    LanguageModel lm(model_arg(a, "model", ctx.device));
    LlmCase c = llm_case(a, lm, true);
    const size_t n = c.features.size();
    std::vector<std::vector<bool>> masks{std::vector<bool>(n, true)};
    for (size_t i = 0; i < n; ++i) {
      masks.emplace_back(n, true);
      masks.back()[i] = false;
    }
    at::Tensor lp = continuation_logprobs(ctx, lm, c, masks);  // [1 + n, m]
    return llm_result(c, (lp[0].unsqueeze(0) - lp.slice(0, 1)).t());
  });

  OpSignature sv("attr.llm_shapley",
                 "Shapley values of a language model's prompt features, as Captum's LLMAttribution(ShapleyValues) "
                 "and (with n_samples) ShapleyValueSampling: each feature's mean marginal gain in the "
                 "continuation's log-probability over orders of adding features to the all-absent prompt; exact "
                 "(all subsets) when n_samples is none and there are at most 12 features.");
  llm_params(sv, true)
      .optional("n_samples", "int", "Random orders (Shapley value sampling); none: exact up to 12 features, else 25")
      .range(1)
      .stochastic()
      .returns("record", kLlmReturns);
  lib.define(sv, [](const OpArgs& a, OpContext& ctx) {
    LanguageModel lm(model_arg(a, "model", ctx.device));
    LlmCase c = llm_case(a, lm, true);
    const int64_t n = static_cast<int64_t>(c.features.size()), m = static_cast<int64_t>(c.target.size());
    at::Tensor attr = at::zeros({m, n}, at::kDouble);
    if (a.is_none("n_samples") && n <= 12) {
      // Exact: phi_i = sum over S not containing i of |S|! (n - |S| - 1)! / n! (F(S + i) - F(S)).
      std::vector<std::vector<bool>> masks;
      for (int64_t s = 0; s < (int64_t{1} << n); ++s) {
        std::vector<bool> present(static_cast<size_t>(n));
        for (int64_t i = 0; i < n; ++i) present[static_cast<size_t>(i)] = (s >> i) & 1;
        masks.push_back(present);
      }
      at::Tensor lp = continuation_logprobs(ctx, lm, c, masks);  // [2^n, m]
      std::vector<double> fact(static_cast<size_t>(n + 1), 1.0);
      for (int64_t i = 1; i <= n; ++i) fact[static_cast<size_t>(i)] = fact[static_cast<size_t>(i - 1)] * i;
      for (int64_t s = 0; s < (int64_t{1} << n); ++s) {
        int64_t size = __builtin_popcountll(static_cast<unsigned long long>(s));
        for (int64_t i = 0; i < n; ++i)
          if (!((s >> i) & 1)) {
            double w = fact[static_cast<size_t>(size)] * fact[static_cast<size_t>(n - size - 1)] / fact[static_cast<size_t>(n)];
            attr.select(1, i) += w * (lp[s | (int64_t{1} << i)] - lp[s]);
          }
      }
      return llm_result(c, attr);
    }
    const int64_t samples = a.is_none("n_samples") ? 25 : a.int_("n_samples");
    at::Generator gen = ctx.generator();
    std::vector<std::vector<bool>> masks;
    std::vector<std::vector<int64_t>> orders;
    for (int64_t r = 0; r < samples; ++r) {
      at::Tensor perm = at::randperm(n, gen, at::TensorOptions().dtype(at::kLong));
      std::vector<int64_t> order(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + n);
      std::vector<bool> present(static_cast<size_t>(n), false);
      masks.push_back(present);
      for (int64_t i : order) {
        present[static_cast<size_t>(i)] = true;
        masks.push_back(present);
      }
      orders.push_back(order);
    }
    at::Tensor lp = continuation_logprobs(ctx, lm, c, masks);  // [samples * (n + 1), m]
    for (int64_t r = 0; r < samples; ++r)
      for (int64_t j = 0; j < n; ++j)
        attr.select(1, orders[static_cast<size_t>(r)][static_cast<size_t>(j)]) +=
            lp[r * (n + 1) + j + 1] - lp[r * (n + 1) + j];
    return llm_result(c, attr / static_cast<double>(samples));
  });

  OpSignature ig("attr.llm_gradient",
                 "Layer integrated gradients on a language model's token embedding, as Captum's "
                 "LLMGradientAttribution(LayerIntegratedGradients): for each continuation token, the embedding of "
                 "the prompt moves from the baseline token's embedding to the prompt's (the continuation's prefix "
                 "kept), the token's log-probability's gradients there are integrated, times the difference, and "
                 "summed over the embedding's width. Each row sums to the log-probability's change (completeness).");
  llm_params(ig, false)
      .param("layer", "string", Operand::string("hook_embed"), "The embedding's hook point (pipette's GPT: hook_embed)");
  ig_params(ig).returns("record", kLlmReturns);
  lib.define(ig, [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module model = model_arg(a, "model", ctx.device);
    LanguageModel lm(model);
    LlmCase c = llm_case(a, lm, false);
    HookPoint hook = hook_of(a, model);
    const int64_t n = static_cast<int64_t>(c.features.size()), m = static_cast<int64_t>(c.target.size());
    // One sequence gives every continuation token's log-probability: <bos> prompt continuation[:-1].
    std::vector<bool> all(static_cast<size_t>(n), true), none(static_cast<size_t>(n), false);
    std::vector<int64_t> ids = prompt_ids(c, all), base = prompt_ids(c, none);
    const int64_t lead = static_cast<int64_t>(ids.size());
    ids.insert(ids.end(), c.target.begin(), c.target.end() - 1);
    base.insert(base.end(), c.target.begin(), c.target.end() - 1);
    if (static_cast<int64_t>(ids.size()) > lm.context())
      throw OpError("the prompt and continuation do not fit the model's context of " + std::to_string(lm.context()));
    auto row = [&](const std::vector<int64_t>& v) { return at::tensor(v, at::kLong).view({1, -1}).to(ctx.device); };
    at::Tensor e, e0;
    {
      at::NoGradGuard no_grad;
      e = hook.run(row(ids)).first;    // [1, L, D]
      e0 = hook.run(row(base)).first;
    }
    Quadrature q = quadrature(a.string("method"), a.int_("steps"), &ctx);
    at::Tensor grads = at::zeros({m, e.size(1), e.size(2)}, e.options());
    const int64_t k = static_cast<int64_t>(q.alphas.size());
    const int64_t per_chunk = items_per_chunk(ctx, kGradientBytesFactor * e.numel() * e.element_size(), k);
    for_chunks(ctx, k, per_chunk, [&](int64_t j0, int64_t j1) {
      std::vector<at::Tensor> pts;
      for (int64_t j = j0; j < j1; ++j) pts.push_back(e0 + q.alphas[static_cast<size_t>(j)] * (e - e0));
      at::Tensor points = at::cat(pts, 0).detach().requires_grad_(true);  // [J, L, D]
      at::Tensor logits = hook.output_with(row(ids).expand({j1 - j0, -1}), points);  // [J, L, V]
      at::Tensor logp = logits.log_softmax(-1);
      for (int64_t t = 0; t < m; ++t) {
        at::Tensor lp = logp.select(1, lead - 1 + t).select(1, c.target[static_cast<size_t>(t)]);  // [J]
        at::Tensor w = at::tensor(std::vector<double>(q.weights.begin() + j0, q.weights.begin() + j1), lp.options());
        at::Tensor g = torch::autograd::grad({(lp * w).sum()}, {points}, {}, /*retain_graph=*/t + 1 < m)[0];
        grads[t] += g.sum(0);
      }
    });
    at::Tensor per_position = (grads * (e - e0)).sum(-1).to(at::kDouble).cpu();  // [m, L]
    // The features are the prompt's positions after <bos>.
    return llm_result(c, per_position.slice(1, 1, 1 + n));
  });
}

}  // namespace pipette::stdlib
