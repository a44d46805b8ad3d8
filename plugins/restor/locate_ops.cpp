// restor.locate: where the corrupted model recalls the corrupted facts, by
// activation patching (causal tracing between two models): each block's
// attention or MLP output in the corrupted model is replaced by the clean
// model's on the same tokens, and the correct answers' log-probability is
// measured. The blocks whose clean output restores most are where the
// corruption lives: the params= of localized unlearning.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "engine/hook_plan.hpp"
#include "engine/hook_points.hpp"
#include "engine/language_model.hpp"
#include "engine/model_arg.hpp"
#include "ops.hpp"

namespace restor {

using namespace pipette;

namespace {

// Mean log-probability of the batch's counted targets under `hm` with `plan` active.
double mean_answer_logprob(HookedModel& hm, const TokenBatch& b, HookPlan* plan) {
  torch::NoGradGuard no_grad;
  std::optional<ActivePlan> active;
  if (plan) active.emplace(*plan);
  at::Tensor lp = target_logprobs(hm.module, b);
  return (lp.sum() / b.weight.sum()).item<double>();
}

}  // namespace

void register_locate_ops(OpLibrary& lib) {
  lib.define(
      OpSignature("restor.locate",
                  "Which blocks of the corrupted model recall the corrupted facts (causal tracing between two "
                  "models, as activation patching localizes knowledge): for each block and each of its attention "
                  "and MLP outputs, the corrupted model runs on the corrupted facts' few-shot prompts and correct "
                  "answers with that output replaced by the clean model's on the same tokens; the effect is the "
                  "rise of the correct answers' mean token log-probability over the corrupted model's. `params` "
                  "names the TOP blocks with the largest MLP effect as params= patterns for restor.unlearn.")
          .input("corrupt", "model", "The corrupted model (train.lm's, continued on the corruption)")
          .input("clean", "model", "The clean model: the same architecture and vocabulary")
          .input("facts", kFactsType, "restor.facts")
          .input("corruption", "record", "restor.corrupt's record")
          .param("shots", "int", Operand::integer(5), "Question-answer lines before the question")
          .range(0)
          .param("top", "int", Operand::integer(1), "Blocks in `params`")
          .range(1)
          .optional("seed", "int", "Overrides the derived seed (the prompts' examples)")
          .stochastic()
          .returns("record{mlp: tensor, attn: tensor, baseline: float, clean: float, blocks: list<int>, "
                   "params: list<string>}",
                   "per block the effect of patching its MLP and attention output [blocks]; the corrupted and the "
                   "clean model's mean log-probability of the correct answers; the TOP blocks by MLP effect and "
                   "their parameters as patterns"),
      [](const OpArgs& a, OpContext& ctx) {
        LanguageModel bad(model_arg(a, "corrupt", ctx.device), "corrupt");
        LanguageModel good(model_arg(a, "clean", ctx.device), "clean");
        if (bad.tokenizer().vocab() != good.tokenizer().vocab())
          throw OpError("corrupt and clean have different vocabularies: patching needs one model's two states");
        std::vector<Fact> facts = facts_arg(a, "facts");
        auto rec = a["corruption"].toGenericDict();
        if (!rec.contains("corrupted")) throw OpError("corruption has no field 'corrupted': give restor.corrupt's record");
        auto table = rec.at("corrupted").toGenericDict();
        std::vector<std::string> ce = string_list(table.at("entity"), "corruption.corrupted.entity"),
                                 cr = string_list(table.at("relation"), "corruption.corrupted.relation");
        std::mt19937_64 rng(ctx.seed);
        std::vector<std::vector<int64_t>> seqs;
        std::vector<int64_t> from;
        for (size_t j = 0; j < ce.size(); ++j) {
          size_t i = facts.size();
          for (size_t q = 0; q < facts.size(); ++q)
            if (facts[q].entity == ce[j] && facts[q].relation == cr[j]) i = q;
          if (i == facts.size()) throw OpError(fmt::format("corruption: the fact ({}, {}) is not in facts", ce[j], cr[j]));
          std::vector<int64_t> s{WordTokenizer::kBos};
          for (int64_t id : bad.tokenizer().encode(few_shot_prompt(facts, i, a.int_("shots"), rng), "facts")) s.push_back(id);
          from.push_back(static_cast<int64_t>(s.size()));
          for (int64_t id : bad.tokenizer().encode(" " + facts[i].answers[0], "facts")) s.push_back(id);
          if (static_cast<int64_t>(s.size()) - 1 > bad.context())
            throw OpError(fmt::format("the prompt of fact {} is longer than the model's context", j));
          seqs.push_back(std::move(s));
        }
        TokenBatch b = token_batch(seqs, from, ctx.device);
        HookedModel hb = hooked(bad.module()), hg = hooked(good.module());
        int64_t blocks = bad.module().attr("n_blocks").toInt();
        double base = mean_answer_logprob(hb, b, nullptr), clean = mean_answer_logprob(hg, b, nullptr);
        std::vector<double> effect[2];
        const char* kinds[2] = {"mlp", "attn"};
        for (int64_t l = 0; l < blocks; ++l)
          for (int kind = 0; kind < 2; ++kind) {
            HookSite site{fmt::format("blocks.{}.hook_{}_out", l, kinds[kind]), false};
            InterventionPlan capture({Intervention(site)});
            mean_answer_logprob(hg, b, &capture);
            Intervention replace(site, Intervention::Mode::Replace);
            replace.value = capture.captured(site);
            InterventionPlan patch({replace});
            effect[kind].push_back(mean_answer_logprob(hb, b, &patch) - base);
            ctx.progress(static_cast<uint64_t>(2 * l + kind + 1), static_cast<uint64_t>(2 * blocks));
          }
        std::vector<int64_t> order(static_cast<size_t>(blocks));
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
          return effect[0][static_cast<size_t>(x)] > effect[0][static_cast<size_t>(y)];
        });
        order.resize(static_cast<size_t>(std::min<int64_t>(a.int_("top"), blocks)));
        c10::List<int64_t> top;
        std::vector<std::string> params;
        for (int64_t l : order) {
          top.push_back(l);
          params.push_back(fmt::format("blocks.{}.mlp.*", l));
        }
        return make_record({{"mlp", Value(at::tensor(effect[0], at::kDouble))},
                            {"attn", Value(at::tensor(effect[1], at::kDouble))},
                            {"baseline", Value(base)},
                            {"clean", Value(clean)},
                            {"blocks", Value(top)},
                            {"params", pipette::string_list_value(params)}});
      });
}

}  // namespace restor
