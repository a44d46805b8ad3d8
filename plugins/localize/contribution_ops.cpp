// localize.contributions and localize.top_blocks: Zarei et al.'s per-block
// contribution of a phrase's words to the image (NeurIPS 2025). While the
// model samples, at every step and in every block, the conditional branch's
// cross-attention weights on the phrase's words times their values, heads
// merged, through the output projection (its bias included by default, as the
// reference code does), give each image token a vector; its L2 norm averaged
// over image tokens and images is c[block, step]. Accumulated as the sampler
// runs, through the SDK's hook points, so memory does not grow with steps or
// blocks.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>
#include <map>

#include "engine/chunks.hpp"
#include "engine/diffusion_sampling.hpp"
#include "engine/hook_points.hpp"
#include "engine/model_arg.hpp"
#include "engine/vocabulary.hpp"
#include "ops.hpp"

namespace localize {

using pipette::HookSite;

namespace {

// Reads each block's cross-attention values and weights as a forward pass
// reaches them, and adds the phrase's contribution to sums[block][step].
class ContributionPlan final : public pipette::HookPlan {
 public:
  ContributionPlan(const torch::jit::Module& model, int64_t blocks, int64_t heads, bool bias, at::Tensor phrase_keys)
      : heads_(heads), bias_(bias), keys_(std::move(phrase_keys)), values_(static_cast<size_t>(blocks)) {
    for (int64_t b = 0; b < blocks; ++b) {
      std::string path = fmt::format("blocks.{}.cross", b);
      role_[path + ".hook_v"] = {b, false};
      role_[path + ".hook_pattern"] = {b, true};
      torch::jit::Module cross = model.attr("blocks").toModule().attr(std::to_string(b)).toModule().attr("cross").toModule();
      o_weight_.push_back(cross.attr("o_weight").toTensor());
      o_bias_.push_back(cross.attr("o_bias").toTensor());
    }
  }

  // The step and the number of images the next forward pass is for; sums is [blocks, steps].
  void at_step(int64_t step, at::Tensor* sums) {
    step_ = step;
    sums_ = sums;
  }

  at::Tensor visit(const HookSite& site, const at::Tensor& value) override {
    if (site.input) return value;
    auto it = role_.find(site.path);
    if (it == role_.end()) return value;
    auto [block, is_pattern] = it->second;
    int64_t n = keys_.size(0);  // conditional rows: the second half of the batch
    if (!is_pattern) {
      values_[static_cast<size_t>(block)] = value.slice(0, value.size(0) - n).detach();
      return value;
    }
    at::NoGradGuard no_grad;
    at::Tensor a = value.slice(0, value.size(0) - n) * keys_.view({n, 1, 1, -1}).to(value.dtype());  // [n, H, T, K]
    const at::Tensor& v = values_[static_cast<size_t>(block)];                                         // [n, K, D]
    int64_t d = v.size(2), dh = d / heads_;
    at::Tensor vh = v.view({n, v.size(1), heads_, dh}).transpose(1, 2);                               // [n, H, K, dh]
    at::Tensor z = at::matmul(a, vh).transpose(1, 2).reshape({n, a.size(2), d});                     // [n, T, D]
    at::Tensor out = at::linear(z, o_weight_[static_cast<size_t>(block)],
                                bias_ ? o_bias_[static_cast<size_t>(block)] : at::Tensor());
    (*sums_)[block][step_] += out.norm(2, -1).mean(1).sum().to(at::kDouble).item<double>();
    return value;
  }

 private:
  int64_t heads_;
  bool bias_;
  at::Tensor keys_;  // [n, 1 + L]: 1 where the key is one of the phrase's words
  std::vector<at::Tensor> values_, o_weight_, o_bias_;
  std::map<std::string, std::pair<int64_t, bool>> role_;
  int64_t step_ = 0;
  at::Tensor* sums_ = nullptr;
};

std::vector<int64_t> phrase_ids(const OpArgs& a, int64_t vocab_size) {
  std::vector<std::string> vocab = pipette::vocabulary_arg(a, "vocab"), phrase;
  if (static_cast<int64_t>(vocab.size()) != vocab_size)
    throw OpError(fmt::format("the vocabulary has {} words, the model {}: give the vocab the model was trained with",
                              vocab.size(), vocab_size));
  const Value& p = a["phrase"];
  if (p.isString()) phrase.push_back(p.toStringRef());
  else
    for (const auto& w : p.toListRef()) phrase.push_back(w.toStringRef());
  std::vector<int64_t> ids;
  for (const auto& w : phrase) ids.push_back(pipette::word_id(vocab, w, "phrase"));
  if (ids.empty()) throw OpError("phrase names no word");
  return ids;
}

std::vector<int64_t> top_blocks(const at::Tensor& scores, int64_t k) {
  std::vector<int64_t> order(static_cast<size_t>(scores.size(0)));
  for (size_t b = 0; b < order.size(); ++b) order[b] = static_cast<int64_t>(b);
  auto acc = scores.accessor<float, 1>();
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return acc[x] > acc[y]; });
  order.resize(static_cast<size_t>(k));
  return order;
}

}  // namespace

void register_contribution_ops(pipette::OpLibrary& lib) {
  OpSignature contributions("localize.contributions",
                  "Zarei et al.'s contribution of a phrase to each block, while the model samples PROMPTS: at every "
                  "step and block, the conditional branch's cross-attention weights on the phrase's words times "
                  "their values, heads merged, through the output projection (with its bias, as the reference "
                  "code; bias=false without), L2 norm per image token, mean over image tokens and images. "
                  "Accumulated during sampling: memory does not grow with steps or blocks.");
  contributions.input("model", "model", "A text-to-image model (diffusion.train_text)")
          .input("prompts", "tensor", "Prompts with the phrase, word ids [P, L] (data.tokenize)")
          .input("vocab", "list<string>", "The model's vocabulary (data.captioned's vocab)")
          .input("phrase", "string|list<string>", "The knowledge's words (\"red\", or [\"red\", \"striped\"])")
          .param("k", "int", Operand::integer(2), "How many blocks to locate (the reference: 6 of PixArt's 28)")
          .range(1)
          .param("bias", "bool", Operand::boolean(true), "Include the output projection's bias (as the reference)");
  pipette::guided_sampling_params(contributions, 4)
          .optional("seed", "int", "Overrides the derived seed (the noise)")
          .stochastic()
          .returns("record{matrix: tensor, blocks: tensor, located: list<int>}",
                   "matrix [blocks, steps] (steps from the noisiest), blocks [blocks] (the mean over steps), "
                   "located: the K blocks with the largest mean, largest first");
  lib.define(
      contributions,
      [](const OpArgs& a, OpContext& ctx) -> Value {
        torch::jit::Module model = pipette::text_model_arg(a, "model", ctx.device);
        int64_t blocks = pipette::block_count(model);
        int64_t k = a.int_("k");
        if (k > blocks) throw OpError(fmt::format("k = {}, but the model has {} blocks", k, blocks));
        at::Tensor prompts = pipette::prompt_tokens(a, "prompts", model);
        std::vector<int64_t> ids = phrase_ids(a, model.attr("vocab_size").toInt());
        at::Tensor found = at::zeros(prompts.sizes(), at::kBool);
        for (int64_t id : ids) found |= prompts.eq(id);
        for (int64_t i = 0; i < prompts.size(0); ++i)
          if (!found[i].any().item<bool>())
            throw OpError(fmt::format("prompt {} holds none of the phrase's words", i));
        int64_t per = a.int_("n");
        at::Tensor tokens = prompts.repeat_interleave(per, 0);
        // Keys: the null word first, then the prompt's words.
        at::Tensor keys = at::cat({at::zeros({tokens.size(0), 1}, at::kBool), found.repeat_interleave(per, 0)}, 1);
        int64_t heads = model.hasattr("heads") ? model.attr("heads").toInt() : 0;
        if (heads <= 0) throw OpError("the model does not say how many attention heads it has (retrain it)");
        pipette::HookedModel hooked = pipette::hooked(model);
        pipette::DiffusionModel dm(model);
        auto ladder = pipette::timestep_ladder(dm.timesteps - 1, a.int_("steps"));
        int64_t steps = static_cast<int64_t>(ladder.size()), s = dm.image_size;
        at::Generator gen = ctx.generator();
        at::Tensor noise = at::randn({tokens.size(0), dm.channels, s, s}, gen, at::kFloat);
        at::Tensor sums = at::zeros({blocks, steps}, at::kDouble);
        double w = a.float_("guidance");
        int64_t total = tokens.size(0);
        int64_t chunk = pipette::text_images_per_chunk(ctx, model, total);
        pipette::for_chunks(
            ctx, total, chunk,
            [&](int64_t i, int64_t end) {
          ContributionPlan plan(model, blocks, heads, a.bool_("bias"), keys.slice(0, i, end).to(ctx.device));
          pipette::Denoiser guided = pipette::guided_denoiser(hooked.module, tokens.slice(0, i, end).to(ctx.device), w);
          int64_t step = 0;
          pipette::Denoiser counted = [&](const at::Tensor& x, int64_t t) {
            plan.at_step(step++, &sums);
            pipette::ActivePlan active(plan);
            return guided(x, t);
          };
          pipette::reverse_process(dm, noise.slice(0, i, end).to(ctx.device), ladder, 0.0, gen,
                                   pipette::chunk_progress(ctx, i, end - i, total), counted);
            },
            pipette::ChunkProgress::Quiet);  // the sampler reports its steps
        at::Tensor matrix = (sums / static_cast<double>(total)).to(at::kFloat);
        at::Tensor per_block = matrix.mean(1);
        return pipette::make_record({{"matrix", Value(matrix)},
                                     {"blocks", Value(per_block)},
                                     {"located", Value(c10::List<int64_t>(top_blocks(per_block, k)))}});
      });

  lib.define(OpSignature("localize.top_blocks",
                         "The K blocks with the largest scores, largest first (ties to the lower block): a "
                         "contribution matrix [blocks, steps] is averaged over steps first, as the reference does.")
                 .input("scores", "tensor", "[blocks] or [blocks, steps]")
                 .param("k", "int", Operand::integer(2), "How many")
                 .range(1)
                 .returns("list<int>"),
             [](const OpArgs& a, OpContext&) -> Value {
               at::Tensor s = a.tensor("scores").to(at::kFloat);
               if (s.dim() == 2) s = s.mean(1);
               if (s.dim() != 1) throw OpError("scores must be [blocks] or [blocks, steps]");
               if (a.int_("k") > s.size(0))
                 throw OpError(fmt::format("k = {}, but there are {} blocks", a.int_("k"), s.size(0)));
               return Value(c10::List<int64_t>(top_blocks(s, a.int_("k"))));
             });
}

}  // namespace localize
