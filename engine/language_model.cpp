#include "engine/language_model.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "engine/chunks.hpp"
#include "engine/value.hpp"

namespace pipette {

namespace {

std::vector<std::string> vocab_of(const torch::jit::Module& m, const std::string& what) {
  if (!m.hasattr("vocab") || !m.hasattr("context_length"))
    throw OpError(what + ": not a language model (it needs the attributes vocab and context_length, as train.lm's "
                         "models have)");
  std::vector<std::string> vocab;
  for (const auto& w : m.attr("vocab").toListRef()) vocab.push_back(w.toStringRef());
  return vocab;
}

// A row's working set in inference (no gradients: one block's activations
// live at a time): per position the logits and their log-softmax, and a
// block's hidden values, about 16 floats per unit of width (the MLP's 4x
// hidden layer, attention's q, k, v and output, the residual stream).
int64_t bytes_per_row(LanguageModel& lm, int64_t positions) {
  int64_t width = lm.module().hasattr("width") ? lm.module().attr("width").toInt() : 1024;
  return positions * (lm.tokenizer().size() * 12 + width * 16 * 4);
}

}  // namespace

LanguageModel::LanguageModel(torch::jit::Module m, const std::string& what)
    : module_(std::move(m)), tokenizer_(vocab_of(module_, what)), context_(module_.attr("context_length").toInt()) {}

std::vector<int64_t> LanguageModel::document(const std::string& text, const std::string& what) const {
  std::vector<int64_t> ids{WordTokenizer::kBos};
  for (int64_t i : tokenizer_.encode(text, what)) ids.push_back(i);
  ids.push_back(WordTokenizer::kEos);
  return ids;
}

std::vector<std::vector<int64_t>> LanguageModel::windows(const std::vector<int64_t>& ids) const {
  std::vector<std::vector<int64_t>> out;
  size_t step = static_cast<size_t>(context_);
  for (size_t start = 0; start + 1 < ids.size(); start += step)
    out.emplace_back(ids.begin() + static_cast<std::ptrdiff_t>(start),
                     ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), start + step + 1)));
  return out;
}

TokenBatch token_batch(const std::vector<std::vector<int64_t>>& seqs, const std::vector<int64_t>& scored_from,
                       c10::Device device) {
  int64_t n = static_cast<int64_t>(seqs.size()), t = 1;
  for (const auto& s : seqs) t = std::max<int64_t>(t, static_cast<int64_t>(s.size()) - 1);
  at::Tensor inputs = at::zeros({n, t}, at::kLong), targets = at::zeros({n, t}, at::kLong);
  at::Tensor weight = at::zeros({n, t}, at::kFloat);
  auto in = inputs.accessor<int64_t, 2>(), tg = targets.accessor<int64_t, 2>();
  auto w = weight.accessor<float, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto& s = seqs[static_cast<size_t>(i)];
    for (int64_t j = 0; j + 1 < static_cast<int64_t>(s.size()); ++j) {
      in[i][j] = s[static_cast<size_t>(j)];
      tg[i][j] = s[static_cast<size_t>(j + 1)];
      w[i][j] = j + 1 >= scored_from[static_cast<size_t>(i)] ? 1.0f : 0.0f;
    }
  }
  return {inputs.to(device), targets.to(device), weight.to(device)};
}

DocumentWindows::DocumentWindows(const LanguageModel& lm, const std::vector<std::string>& docs,
                                 const std::string& what, at::Generator gen)
    : gen_(std::move(gen)) {
  for (size_t i = 0; i < docs.size(); ++i)
    for (auto& w : lm.windows(lm.document(docs[i], fmt::format("{} (document {})", what, i)))) rows_.push_back(std::move(w));
}

double DocumentWindows::mean_length() const {
  double total = 0;
  for (const auto& r : rows_) total += static_cast<double>(r.size() - 1);
  return rows_.empty() ? 0 : total / static_cast<double>(rows_.size());
}

TokenBatch DocumentWindows::next(int64_t n, c10::Device device) {
  std::vector<std::vector<int64_t>> b;
  while (static_cast<int64_t>(b.size()) < n && !rows_.empty()) {
    if (cursor_ >= order_.size()) {
      at::Tensor perm = at::randperm(size(), gen_, at::kLong);
      order_.assign(perm.data_ptr<int64_t>(), perm.data_ptr<int64_t>() + perm.numel());
      cursor_ = 0;
    }
    b.push_back(rows_[static_cast<size_t>(order_[cursor_++])]);
  }
  return token_batch(b, std::vector<int64_t>(b.size(), 1), device);
}

TokenBatch DocumentWindows::first(int64_t n, c10::Device device) const {
  std::vector<std::vector<int64_t>> b(rows_.begin(), rows_.begin() + std::min<int64_t>(n, size()));
  return token_batch(b, std::vector<int64_t>(b.size(), 1), device);
}

at::Tensor target_logprobs(torch::jit::Module& m, const TokenBatch& b, at::Tensor* logits_out) {
  at::Tensor logits = m.forward({b.inputs}).toTensor();
  if (logits_out) *logits_out = logits;
  at::Tensor lp = at::log_softmax(logits.to(at::kFloat), -1).gather(-1, b.targets.unsqueeze(-1)).squeeze(-1);
  return lp * b.weight;
}

at::Tensor mean_nll(torch::jit::Module& m, const TokenBatch& b) {
  // The fused log-softmax and NLL of F.cross_entropy, padding ignored.
  at::Tensor logits = m.forward({b.inputs}).toTensor().to(at::kFloat);
  at::Tensor targets = b.targets.masked_fill(b.weight == 0, -100);
  return at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}), targets.reshape({-1}), {},
                                at::Reduction::Mean, -100);
}

at::Tensor ContinuationScores::sum() const {
  std::vector<double> s;
  for (const auto& t : token_logprobs) s.push_back(t.sum().item<double>());
  return at::tensor(s, at::kDouble);
}

at::Tensor ContinuationScores::mean() const {
  std::vector<double> s;
  for (const auto& t : token_logprobs) s.push_back(t.numel() ? t.mean().item<double>() : 0.0);
  return at::tensor(s, at::kDouble);
}

at::Tensor ContinuationScores::tokens() const {
  std::vector<int64_t> s;
  for (const auto& t : token_logprobs) s.push_back(t.numel());
  return at::tensor(s, at::kLong);
}

ContinuationScores score_continuations(OpContext& ctx, LanguageModel& lm, const std::vector<std::string>& prompts,
                                       const std::vector<std::string>& continuations, const std::string& what) {
  if (prompts.size() != continuations.size())
    throw OpError(fmt::format("{}: {} prompts but {} continuations", what, prompts.size(), continuations.size()));
  std::vector<std::vector<int64_t>> seqs;
  std::vector<int64_t> from;
  int64_t longest = 1;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> s{WordTokenizer::kBos};
    for (int64_t id : lm.tokenizer().encode(prompts[i], what + " (prompt " + std::to_string(i) + ")")) s.push_back(id);
    from.push_back(static_cast<int64_t>(s.size()));
    std::vector<int64_t> c = lm.tokenizer().encode(continuations[i], what + " (continuation " + std::to_string(i) + ")");
    if (c.empty()) throw OpError(fmt::format("{}: continuation {} is empty", what, i));
    s.insert(s.end(), c.begin(), c.end());
    if (static_cast<int64_t>(s.size()) - 1 > lm.context())
      throw OpError(fmt::format("{}: prompt and continuation {} are {} tokens, more than the model's context of {}",
                                what, i, s.size() - 1, lm.context()));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
    seqs.push_back(std::move(s));
  }
  ContinuationScores out;
  torch::NoGradGuard no_grad;
  int64_t n = static_cast<int64_t>(seqs.size());
  for_chunks(ctx, n, items_per_chunk(ctx, bytes_per_row(lm, longest), n), [&](int64_t begin, int64_t end) {
    std::vector<std::vector<int64_t>> part(seqs.begin() + begin, seqs.begin() + end);
    std::vector<int64_t> part_from(from.begin() + begin, from.begin() + end);
    TokenBatch b = token_batch(part, part_from, ctx.device);
    at::Tensor logits;
    at::Tensor lp = target_logprobs(lm.module(), b, &logits).to(at::kCPU, at::kDouble);
    at::Tensor hits = (logits.argmax(-1) == b.targets).to(at::kCPU);
    at::Tensor w = b.weight.to(at::kCPU) > 0;
    for (int64_t i = 0; i < end - begin; ++i) {
      out.token_logprobs.push_back(lp[i].masked_select(w[i]));
      out.argmax_hits.push_back(hits[i].masked_select(w[i]));
    }
  });
  return out;
}

std::vector<at::Tensor> document_logprobs(OpContext& ctx, LanguageModel& lm, const std::vector<std::string>& docs,
                                          const std::string& what) {
  std::vector<std::vector<int64_t>> rows;
  std::vector<size_t> owner;
  for (size_t i = 0; i < docs.size(); ++i)
    for (auto& w : lm.windows(lm.document(docs[i], fmt::format("{} (document {})", what, i)))) {
      rows.push_back(std::move(w));
      owner.push_back(i);
    }
  std::vector<std::vector<at::Tensor>> parts(docs.size());
  torch::NoGradGuard no_grad;
  int64_t n = static_cast<int64_t>(rows.size());
  for_chunks(ctx, n, items_per_chunk(ctx, bytes_per_row(lm, lm.context() + 1), n), [&](int64_t begin, int64_t end) {
    std::vector<std::vector<int64_t>> part(rows.begin() + begin, rows.begin() + end);
    TokenBatch b = token_batch(part, std::vector<int64_t>(part.size(), 1), ctx.device);
    at::Tensor lp = target_logprobs(lm.module(), b).to(at::kCPU, at::kDouble);
    at::Tensor w = b.weight.to(at::kCPU) > 0;
    for (int64_t i = 0; i < end - begin; ++i) parts[owner[static_cast<size_t>(begin + i)]].push_back(lp[i].masked_select(w[i]));
  });
  std::vector<at::Tensor> out;
  for (auto& p : parts) out.push_back(p.empty() ? at::zeros({0}, at::kDouble) : at::cat(p));
  return out;
}

std::vector<std::string> generate_texts(OpContext& ctx, LanguageModel& lm, const std::vector<std::string>& prompts,
                                        const Generation& g, at::Generator& gen, const std::string& what) {
  std::vector<std::vector<int64_t>> seqs;
  int64_t longest = 1;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int64_t> s{WordTokenizer::kBos};
    for (int64_t id : lm.tokenizer().encode(prompts[i], what + " (prompt " + std::to_string(i) + ")")) s.push_back(id);
    if (static_cast<int64_t>(s.size()) > lm.context())
      throw OpError(fmt::format("{}: prompt {} is {} tokens, the model's context holds {}", what, i, s.size(),
                                lm.context()));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(s.size()));
    seqs.push_back(std::move(s));
  }
  int64_t total = std::min(lm.context(), longest + g.max_tokens);
  std::vector<std::string> out(prompts.size());
  torch::NoGradGuard no_grad;
  int64_t n = static_cast<int64_t>(seqs.size());
  for_chunks(ctx, n, items_per_chunk(ctx, bytes_per_row(lm, total), n), [&](int64_t begin, int64_t end) {
    int64_t rows = end - begin;
    at::Tensor buf = at::zeros({rows, total}, at::kLong);
    std::vector<int64_t> len(static_cast<size_t>(rows)), start(static_cast<size_t>(rows));
    std::vector<bool> done(static_cast<size_t>(rows), false);
    std::vector<std::vector<int64_t>> made(static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) {
      const auto& s = seqs[static_cast<size_t>(begin + r)];
      for (size_t j = 0; j < s.size(); ++j) buf[r][static_cast<int64_t>(j)] = s[j];
      len[static_cast<size_t>(r)] = start[static_cast<size_t>(r)] = static_cast<int64_t>(s.size());
    }
    for (int64_t step = 0; step < g.max_tokens; ++step) {
      int64_t upto = 0;
      for (int64_t r = 0; r < rows; ++r)
        if (!done[static_cast<size_t>(r)]) upto = std::max(upto, len[static_cast<size_t>(r)]);
      if (upto == 0) break;
      if (ctx.cancelled()) throw OpError("cancelled");
      at::Tensor logits = lm.module().forward({buf.narrow(1, 0, upto).to(ctx.device)}).toTensor().to(at::kCPU, at::kFloat);
      for (int64_t r = 0; r < rows; ++r) {
        size_t ri = static_cast<size_t>(r);
        if (done[ri]) continue;
        at::Tensor row = logits[r][len[ri] - 1];
        row.select(0, WordTokenizer::kPad).fill_(-1e30f);
        row.select(0, WordTokenizer::kBos).fill_(-1e30f);
        int64_t next;
        if (g.temperature <= 0) {
          next = row.argmax().item<int64_t>();
        } else {
          at::Tensor z = row / g.temperature;
          if (g.top_k > 0 && g.top_k < z.size(0)) {
            double kth = std::get<0>(z.topk(g.top_k)).min().item<double>();
            z = z.masked_fill(z < kth, -1e30);
          }
          next = at::multinomial(at::softmax(z, 0), 1, false, gen).item<int64_t>();
        }
        if (next == WordTokenizer::kEos) {
          done[ri] = true;
          continue;
        }
        made[ri].push_back(next);
        buf[r][len[ri]] = next;
        ++len[ri];
        std::string text = lm.tokenizer().decode(made[ri]);
        for (const auto& stop : g.stop) {
          size_t at = text.find(stop);
          if (!stop.empty() && at != std::string::npos) {
            done[ri] = true;
            text = text.substr(0, at);
          }
        }
        out[static_cast<size_t>(begin + r)] = text;
        if (len[ri] >= total) done[ri] = true;
      }
    }
  });
  return out;
}

}  // namespace pipette
