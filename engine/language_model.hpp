// Language models for every op that reads, scores, generates with or trains
// one (lm.*, train.lm, the restor plugin): a TorchScript module with
// forward(tokens [N, T] long) -> logits [N, T, vocab] and the attributes
// `vocab` (its word-level tokenizer, engine/word_tokenizer.hpp) and
// `context_length`, as pipette's GPT (stdlib/lm/gpt.hpp) has them.
// Sequences are right-padded rows; a row's log-probabilities count only at
// the positions a mask says, so padding never enters a loss or a score.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include "engine/op_impl.hpp"
#include "engine/word_tokenizer.hpp"

namespace pipette {

class PIPETTE_API LanguageModel {
 public:
  // `what` names the argument in errors ("model: not a language model ...").
  LanguageModel(torch::jit::Module m, const std::string& what = "model");
  torch::jit::Module& module() { return module_; }
  const WordTokenizer& tokenizer() const { return tokenizer_; }
  int64_t context() const { return context_; }

  // <bos> text <eos> as ids; an unknown word is an error naming `what`.
  std::vector<int64_t> document(const std::string& text, const std::string& what) const;
  // A document cut into windows of at most context + 1 tokens (each window
  // predicts context tokens), the next starting where the last one's
  // predictions ended.
  std::vector<std::vector<int64_t>> windows(const std::vector<int64_t>& ids) const;

 private:
  torch::jit::Module module_;
  WordTokenizer tokenizer_;
  int64_t context_ = 0;
};

// Rows for next-token prediction: inputs [N, T] and targets [N, T] (the
// inputs shifted by one), weight [N, T] 1 where a target counts, on `device`.
struct PIPETTE_API TokenBatch {
  at::Tensor inputs, targets, weight;
  int64_t rows() const { return inputs.size(0); }
};

// Sequences (each at most context + 1 ids) as a batch; the targets of
// sequence i count from position scored_from[i] of the sequence on (1 = every
// token after <bos>; a prompt's length + 1 = its continuation only).
PIPETTE_API TokenBatch token_batch(const std::vector<std::vector<int64_t>>& seqs,
                                   const std::vector<int64_t>& scored_from, c10::Device device);

// Documents as training reads them: every document's windows
// (LanguageModel::windows), served `n` at a time without replacement and
// reshuffled from `gen` after each pass; first(n) is always the same n, what
// learning curves are measured on. train.lm and every restor method batch
// with it.
class PIPETTE_API DocumentWindows {
 public:
  DocumentWindows(const LanguageModel& lm, const std::vector<std::string>& docs, const std::string& what,
                  at::Generator gen);
  bool empty() const { return rows_.empty(); }
  int64_t size() const { return static_cast<int64_t>(rows_.size()); }
  double mean_length() const;  // predicted tokens per window
  TokenBatch next(int64_t n, c10::Device device);
  TokenBatch first(int64_t n, c10::Device device) const;

 private:
  std::vector<std::vector<int64_t>> rows_;
  at::Generator gen_;
  std::vector<int64_t> order_;
  size_t cursor_ = 0;
};

// log p(target) at every position [N, T] (0 where the weight is 0), with
// gradients when grad mode is on; the model's logits [N, T, vocab] through
// `logits_out` when asked for.
PIPETTE_API at::Tensor target_logprobs(torch::jit::Module& m, const TokenBatch& b, at::Tensor* logits_out = nullptr);

// The mean negative log-likelihood per counted token: training's loss.
PIPETTE_API at::Tensor mean_nll(torch::jit::Module& m, const TokenBatch& b);

// Per-row scores of continuations given prompts.
struct PIPETTE_API ContinuationScores {
  std::vector<at::Tensor> token_logprobs;  // per row [tokens of the continuation], double
  std::vector<at::Tensor> argmax_hits;     // per row: the model's argmax was the token (bool)
  at::Tensor sum() const;                  // [N] double
  at::Tensor mean() const;                 // [N] double
  at::Tensor tokens() const;               // [N] long
};

// Scores continuation[i] after prompt[i] (both text; the prompt gets <bos>,
// the continuation is scored token by token, no <eos>), in chunks under the
// op's memory budget, without gradients.
PIPETTE_API ContinuationScores score_continuations(OpContext& ctx, LanguageModel& lm,
                                                   const std::vector<std::string>& prompts,
                                                   const std::vector<std::string>& continuations,
                                                   const std::string& what);

// Every token's log-probability in each document read as train.lm trains on
// it (<bos> text <eos>, <eos> predicted too, cut into windows of the context:
// a window's tokens are predicted from the ones before them in that window),
// per document [tokens + 1], double; chunked under the memory budget, no
// gradients. Perplexity and membership inference read documents this way.
PIPETTE_API std::vector<at::Tensor> document_logprobs(OpContext& ctx, LanguageModel& lm,
                                                      const std::vector<std::string>& docs, const std::string& what);

struct PIPETTE_API Generation {
  int64_t max_tokens = 32;
  double temperature = 0;  // 0 = greedy
  int64_t top_k = 0;       // 0 = every token
  std::vector<std::string> stop;  // the text ends before the first of these
};

// Continuations of the prompts (without them), batched under the memory
// budget; sampling draws from `gen`, so a seed gives the same texts. A row
// ends at <eos>, a stop string, max_tokens or the context's end.
PIPETTE_API std::vector<std::string> generate_texts(OpContext& ctx, LanguageModel& lm,
                                                    const std::vector<std::string>& prompts, const Generation& g,
                                                    at::Generator& gen, const std::string& what);

}  // namespace pipette
