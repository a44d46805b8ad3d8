// train.lm, lm.generate, lm.logprob, lm.perplexity: pipette's language
// models (stdlib/lm/gpt.hpp), trained on documents and read through the SDK's
// LanguageModel (engine/language_model.hpp), so that plugins score and
// generate exactly as these ops do.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>

#include "engine/chunks.hpp"
#include "engine/language_model.hpp"
#include "engine/model_arg.hpp"
#include "engine/step_training.hpp"
#include "engine/trained_params.hpp"
#include "engine/word_tokenizer.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/diffusion/denoiser_training.hpp"
#include "stdlib/lm/gpt.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

}  // namespace

void register_lm(OpLibrary& lib) {
  OpSignature train("train.lm",
                    "Trains a language model on documents: pipette's GPT (pre-LayerNorm causal transformer, learned "
                    "positions; TorchScript, forward(tokens) -> logits in Python) with a word-level tokenizer built "
                    "from the documents and saved in the model (its `vocab` attribute), or, with MODEL, continues "
                    "training that model on them (its tokenizer; a word it does not know is an error). Each "
                    "document is <bos> text <eos>, cut into windows of the context; a step takes about BATCH_TOKENS "
                    "tokens of windows, shuffled once per pass, with AdamW, warm-up and a cosine decay. The loss "
                    "becoming NaN or Inf stops with an error: no NaN model is returned.");
  train.input("documents", "list<string>", "The training texts")
      .optional("model", "model", "Continue training this language model (train.lm's) instead of a new one")
      .param("extra_vocab", "list<string>", Operand::list({}),
             "Texts whose words join a new model's vocabulary without being trained on (answers a later corpus uses)")
      .param("context", "int", Operand::integer(64), "Positions the model sees (a new model)")
      .range(2, 4096)
      .param("width", "int", Operand::integer(128), "Residual width (a multiple of heads; a new model)")
      .range(8, 4096)
      .param("blocks", "int", Operand::integer(4), "Transformer blocks (a new model)")
      .range(1, 96)
      .param("heads", "int", Operand::integer(4), "Attention heads (a new model)")
      .range(1, 64)
      .param("batch_tokens", "int", Operand::integer(2048), "Tokens per step (whole windows, at least one)")
      .range(1);
  step_training_params(train, 2000, 1e-3, 100, 0.01)
      .optional("params", "list<string>",
                "Train only the parameters whose paths match one of these patterns (\"blocks.2.*\"); the others "
                "stay bitwise as they were")
      .optional("epochs", "float",
                "Passes over the documents' windows instead of STEPS (steps = epochs * windows / windows per step, "
                "rounded up): the same exposure for corpora of different lengths")
      .param("checkpoints", "list<int>", Operand::list({}), "Steps after which a copy of the model is kept")
      .optional("seed", "int", "Overrides the derived seed (initialisation, batches)")
      .stochastic()
      .returns("record{model: model, loss: float, losses: tensor, checkpoints: list<model>, trained: list<string>}",
               "the model, the mean loss of the last 10 % of steps, every step's loss, the CHECKPOINTS' copies in "
               "order, and the paths of the parameters trained");
  lib.define(train, [](const OpArgs& a, OpContext& ctx) {
    std::vector<std::string> docs = string_list(a, "documents");
    if (docs.empty()) throw OpError("documents is empty: nothing to train on");
    at::Generator gen = ctx.generator();
    torch::jit::Module m;
    if (a.is_none("model")) {
      std::vector<std::string> all = docs;
      for (const auto& t : string_list(a, "extra_vocab")) all.push_back(t);
      GptConfig c;
      c.vocab = WordTokenizer::from_corpus(all).vocab();
      c.context = a.int_("context");
      c.width = a.int_("width");
      c.blocks = a.int_("blocks");
      c.heads = a.int_("heads");
      m = build_gpt(c, gen);
      m.to(ctx.device);
    } else {
      torch::NoGradGuard no_grad;
      m = clone_model(model_arg(a, "model", ctx.device));
    }
    LanguageModel lm(m);
    DocumentWindows rows(lm, docs, "documents", gen);
    int64_t per_step = std::max<int64_t>(1, std::llround(static_cast<double>(a.int_("batch_tokens")) / rows.mean_length()));
    per_step = std::min<int64_t>(per_step, rows.size());
    StepTraining cfg = step_training(a);
    if (!a.is_none("epochs")) {
      if (a.float_("epochs") <= 0) throw OpError("epochs must be positive");
      cfg.steps = std::max<int64_t>(
          1, static_cast<int64_t>(std::ceil(a.float_("epochs") * static_cast<double>(rows.size()) / static_cast<double>(per_step))));
      ctx.log(OpContext::Info, fmt::format("{} epochs of {} windows: {} steps", a.float_("epochs"), rows.size(), cfg.steps));
    }
    cfg.params = trained_parameters(m, a);
    cfg.what = "train.lm";
    for (int64_t s : int_list(a, "checkpoints")) {
      if (s < 1 || s > cfg.steps)
        throw OpError(fmt::format("checkpoints: step {} is not one of the {} steps", s, cfg.steps));
      cfg.checkpoints.push_back(s);
    }
    std::sort(cfg.checkpoints.begin(), cfg.checkpoints.end());
    StepResult r = train_steps(m, cfg, ctx, [&](int64_t) { return mean_nll(m, rows.next(per_step, ctx.device)); });
    m.to(at::kCPU);
    c10::List<c10::IValue> checkpoints(c10::AnyType::get());
    for (auto& c : r.checkpoints) {
      c.to(at::kCPU);
      checkpoints.push_back(c._ivalue());
    }
    return make_record({{"model", Value(m._ivalue())},
                        {"loss", Value(tail_mean(r.losses))},
                        {"losses", Value(at::tensor(r.losses, at::kDouble).to(at::kFloat))},
                        {"checkpoints", Value(checkpoints)},
                        {"trained", string_list_value(r.trained)}});
  });

  lib.define(
      OpSignature("lm.generate",
                  "Continuations of prompts from a language model (train.lm's, or any TorchScript module with "
                  "forward(tokens) -> logits and the attributes vocab and context_length): greedy with TEMPERATURE "
                  "0, otherwise sampled (TOP_K > 0 keeps the k likeliest tokens) from the node's seed. Batched; a "
                  "continuation ends at <eos>, before the first STOP string, after MAX_TOKENS or at the context's "
                  "end. The prompt is not repeated in the output.")
          .input("model", "model", "A language model")
          .input("prompts", "string|list<string>", "One prompt or several")
          .param("max_tokens", "int", Operand::integer(32), "Most tokens to generate")
          .range(1)
          .param("temperature", "float", Operand::real(0.0), "0 = greedy; otherwise the sampling temperature")
          .range(0)
          .param("top_k", "int", Operand::integer(0), "Sample from the K likeliest tokens (0 = all)")
          .range(0)
          .param("stop", "list<string>", Operand::list({}), "Strings that end a continuation (\"\\n\": one line)")
          .optional("seed", "int", "Overrides the derived seed (sampling)")
          .stochastic()
          .returns("list<string>", "One continuation per prompt"),
      [](const OpArgs& a, OpContext& ctx) {
        LanguageModel lm(model_arg(a, "model", ctx.device));
        Generation g;
        g.max_tokens = a.int_("max_tokens");
        g.temperature = a.float_("temperature");
        g.top_k = a.int_("top_k");
        g.stop = string_list(a, "stop");
        at::Generator gen = ctx.generator();
        return string_list_value(generate_texts(ctx, lm, string_list(a, "prompts"), g, gen, "prompts"));
      });

  lib.define(
      OpSignature("lm.logprob",
                  "Log-probabilities of continuations given prompts under a language model: per pair the sum and "
                  "the mean over the continuation's tokens of log p(token | prompt, tokens before it), natural log, "
                  "batched under the memory budget. A prompt and continuation are joined as the model reads text "
                  "(\"Q: ... A:\" then \"cat\"): tokens, not characters.")
          .input("model", "model", "A language model")
          .input("prompts", "string|list<string>", "One prompt, or one per continuation")
          .input("continuations", "string|list<string>", "The texts to score")
          .returns("record{sum: tensor, mean: tensor, tokens: tensor}",
                   "sum and mean log-probability [N] (float64) and the continuations' token counts [N]"),
      [](const OpArgs& a, OpContext& ctx) {
        LanguageModel lm(model_arg(a, "model", ctx.device));
        std::vector<std::string> prompts = string_list(a, "prompts"), conts = string_list(a, "continuations");
        if (prompts.size() == 1 && conts.size() > 1) prompts.assign(conts.size(), prompts[0]);
        ContinuationScores s = score_continuations(ctx, lm, prompts, conts, "continuations");
        return make_record({{"sum", Value(s.sum())}, {"mean", Value(s.mean())}, {"tokens", Value(s.tokens())}});
      });

  lib.define(
      OpSignature("lm.perplexity",
                  "Perplexity of a language model on texts: exp of the mean negative log-likelihood per token over "
                  "all of them, each text read as a document (<bos> text <eos>, the <eos> predicted too), as "
                  "train.lm trains; a text longer than the context is read in windows.")
          .input("model", "model", "A language model")
          .input("texts", "string|list<string>", "Held-out texts")
          .returns("float", "exp(mean NLL per token)"),
      [](const OpArgs& a, OpContext& ctx) {
        LanguageModel lm(model_arg(a, "model", ctx.device));
        std::vector<std::string> texts = string_list(a, "texts");
        if (texts.empty()) throw OpError("texts is empty");
        double nll = 0;
        int64_t count = 0;
        for (const auto& t : document_logprobs(ctx, lm, texts, "texts")) {
          nll -= t.sum().item<double>();
          count += t.numel();
        }
        return Value(std::exp(nll / static_cast<double>(count)));
      });
}

}  // namespace pipette::stdlib
