// diffusion.train_text, diffusion.sample_text: pipette's text-to-image model
// (stdlib/diffusion/text_dit.hpp) trained on captioned images (data.captioned)
// and sampled with classifier-free guidance.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>

#include "engine/chunks.hpp"
#include "engine/dataset.hpp"
#include "engine/value_checks.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/diffusion/denoiser_training.hpp"
#include "stdlib/diffusion/diffusion.hpp"
#include "stdlib/diffusion/text_dit.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// The word ids of `words` in `vocab`; an unknown word is an error naming it.
std::vector<int64_t> word_ids(const std::vector<std::string>& words, const std::vector<std::string>& vocab) {
  std::vector<int64_t> ids;
  for (const auto& w : words) {
    auto it = std::find(vocab.begin(), vocab.end(), w);
    if (it == vocab.end() || it == vocab.begin())
      throw OpError("planted_words: '" + w + "' is not a word of the vocabulary");
    ids.push_back(it - vocab.begin());
  }
  return ids;
}

// Captions with some words left out, as classifier-free guidance and
// knowledge-free prompts need: the whole caption with probability
// `caption_drop` (the unconditional branch), otherwise one word with
// probability `word_drop`.
at::Tensor drop_words(at::Tensor tokens, double caption_drop, double word_drop, at::Generator& gen) {
  int64_t n = tokens.size(0), l = tokens.size(1);
  at::Tensor u = at::rand({n}, gen);
  tokens = tokens.clone();
  tokens.index_put_({u < caption_drop}, 0);
  at::Tensor one = (u >= caption_drop) & (at::rand({n}, gen) < word_drop);
  at::Tensor pos = at::randint(0, l, {n}, gen, at::kLong);
  at::Tensor rows = one.nonzero().view(-1);
  tokens.index_put_({rows, pos.index_select(0, rows)}, at::zeros({rows.size(0)}, at::kLong));
  return tokens;
}

}  // namespace

void register_diffusion_text(OpLibrary& lib) {
  OpSignature train_text("diffusion.train_text",
                  "Trains pipette's text-to-image model on captioned images (data.captioned): a DiT with "
                  "PixArt-alpha's layout (patch tokens, adaLN-Zero timestep conditioning, a cross-attention to the "
                  "caption's words in every block) and a one-layer word-level text encoder, with DDPM's epsilon "
                  "objective, Adam and an EMA of the weights. Captions are dropped whole (classifier-free "
                  "guidance) or lose one word (so prompts without a word are in distribution). PLANTED_WORDS reach "
                  "only the cross-attention of PLANTED_BLOCKS, in training and sampling: knowledge whose place is "
                  "known. TorchScript: forward(x, t, tokens) in Python.");
  train_text.input("data", "dataset{images: tensor, tokens: tensor}",
             "Square images [N, C, S, S] in [0, 1] and their captions' word ids [N, L]")
      .input("vocab", "list<string>", "The word of each id (data.captioned's vocab)")
      .param("patch", "int", Operand::integer(4), "Patch size (S must be a multiple)")
      .range(1, 64)
      .param("width", "int", Operand::integer(64), "Token width (a multiple of heads)")
      .range(8, 1024)
      .param("blocks", "int", Operand::integer(6), "DiT blocks")
      .range(1, 64)
      .param("heads", "int", Operand::integer(4), "Attention heads")
      .range(1, 64);
  denoiser_params(train_text, 0.995)
      .param("batch", "int", Operand::integer(64), "Images per step")
      .range(1)
      .param("caption_dropout", "float", Operand::real(0.1), "Share of captions dropped whole")
      .range(0.0, 1.0)
      .param("word_dropout", "float", Operand::real(0.1), "Share of the other captions that lose one word")
      .range(0.0, 1.0)
      .param("planted_words", "list<string>", Operand::list({}), "Words only PLANTED_BLOCKS see")
      .param("planted_blocks", "list<int>", Operand::list({}), "The blocks that see PLANTED_WORDS (0-based)")
      .optional("seed", "int", "Overrides the derived seed (initialisation, batches, noise)")
      .stochastic()
      .returns("record{model: model, loss: float, losses: tensor}",
               "the model (EMA weights), the mean loss of the last 10 % of steps, and every step's loss");
  lib.define(
      train_text,
      [](const OpArgs& a, OpContext& ctx) {
        DatasetPtr d = a.dataset("data");
        at::Tensor images = d->column("images").to(at::kFloat).contiguous();
        at::Tensor tokens = d->column("tokens").to(at::kLong).contiguous();
        if (images.size(0) == 0) throw OpError("the data holds no images");
        if (images.dim() != 4 || images.size(2) != images.size(3))
          throw OpError("the images must be square [N, C, S, S], found " + describe(Value(images)));
        check_images(images, "images");
        std::vector<std::string> vocab = string_list(a, "vocab");
        if (tokens.numel() && tokens.max().item<int64_t>() >= static_cast<int64_t>(vocab.size()))
          throw OpError(fmt::format("the tokens hold word id {}, but the vocabulary has {} words",
                                    tokens.max().item<int64_t>(), vocab.size()));
        std::vector<std::string> planted = string_list(a, "planted_words");
        std::vector<int64_t> planted_blocks = int_list(a, "planted_blocks");
        if (planted.empty() != planted_blocks.empty())
          throw OpError("planted_words and planted_blocks go together: the words, and the blocks that see them");
        TextDiTConfig cfg;
        cfg.channels = images.size(1);
        cfg.image_size = images.size(2);
        cfg.patch = a.int_("patch");
        cfg.width = a.int_("width");
        cfg.blocks = a.int_("blocks");
        cfg.heads = a.int_("heads");
        cfg.vocab = static_cast<int64_t>(vocab.size());
        cfg.timesteps = a.int_("timesteps");
        cfg.schedule = a.string("schedule");
        cfg.planted_words = word_ids(planted, vocab);
        cfg.planted_blocks = planted_blocks;
        at::Generator gen = ctx.generator();
        torch::jit::Module module = build_text_dit(cfg, gen);
        module.to(ctx.device);
        DenoiserTraining training{a.int_("steps"), a.float_("lr"), a.float_("ema")};
        int64_t batch = a.int_("batch");
        double caption_drop = a.float_("caption_dropout"), word_drop = a.float_("word_dropout");
        std::vector<double> losses = train_denoiser(module, training, gen, ctx, [&](int64_t, at::Generator& g) {
          at::Tensor idx = at::randint(0, images.size(0), {batch}, g, at::kLong);
          at::Tensor x0 = images.index_select(0, idx).to(ctx.device) * 2 - 1;
          at::Tensor words = drop_words(tokens.index_select(0, idx), caption_drop, word_drop, g);
          return DenoiserBatch{x0, {words.to(ctx.device)}};
        });
        module.to(at::kCPU);
        return make_record({{"model", Value(module._ivalue())},
                            {"loss", Value(tail_mean(losses))},
                            {"losses", Value(at::tensor(losses, at::kDouble).to(at::kFloat))}});
      });

  OpSignature sample("diffusion.sample_text",
                         "Images from a text-to-image model (diffusion.train_text) for prompts: DDIM (eta = 0) on "
                         "STEPS timesteps with classifier-free guidance, eps = eps(empty) + GUIDANCE * (eps(prompt) - "
                         "eps(empty)), both branches in one batched pass. Image j of prompt p is row p * N + j.");
  sample.input("model", "model", "A model from diffusion.train_text")
      .input("prompts", "tensor", "Word ids [P, L] (data.tokenize)");
  guided_sampling_params(sample, 1)
                 .param("eta", "float", Operand::real(0.0), "DDIM's eta (0 deterministic, 1 DDPM-like)")
                 .range(0.0, 1.0)
                 .optional("swap_prompts", "tensor",
                           "Word ids [P, L]: what the cross-attention of SWAP_BLOCKS reads instead of PROMPTS, in "
                           "the conditional branch of guidance only, at every step (knowledge-free prompts in some "
                           "blocks, as LocoGen and Zarei et al. intervene)")
                 .param("swap_blocks", "list<int>", Operand::list({}), "The blocks that read SWAP_PROMPTS (0-based)")
                 .optional("noise", "tensor", "Starting noise [P * N, C, S, S] (standard normal)")
                 .optional("seed", "int", "Overrides the derived seed (the noise)")
                 .stochastic()
                 .returns("tensor", "Images [P * N, C, S, S] in [0, 1]");
  lib.define(sample,
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module module = text_model_arg(a, "model", ctx.device);
               DiffusionModel m(module);
               at::Tensor prompts = prompt_tokens(a, "prompts", module);
               int64_t per = a.int_("n"), s = m.image_size;
               // Which blocks read the swapped prompts; empty = none.
               std::vector<int64_t> swap_blocks = int_list(a, "swap_blocks");
               int64_t blocks = block_count(module);
               at::Tensor swap;
               if (!swap_blocks.empty() || !a.is_none("swap_prompts")) {
                 if (swap_blocks.empty() || a.is_none("swap_prompts"))
                   throw OpError("swap_prompts and swap_blocks go together: what to read, and which blocks read it");
                 for (int64_t b : swap_blocks)
                   if (b < 0 || b >= blocks)
                     throw OpError(fmt::format("swap_blocks: block {} is not one of the model's {} (0 to {})", b,
                                               blocks, blocks - 1));
                 swap = prompt_tokens(a, "swap_prompts", module, prompts.size(0));
                 int64_t l = std::max(prompts.size(1), swap.size(1));  // one length for both
                 prompts = pad_to(prompts, l);
                 swap = pad_to(swap, l).repeat_interleave(per, 0);
               }
               at::Tensor tokens = prompts.repeat_interleave(per, 0);
               at::Tensor noise;
               at::Generator gen = ctx.generator();
               if (!a.is_none("noise")) {
                 noise = a.tensor("noise").to(at::kFloat);
                 if (noise.dim() != 4 || noise.size(0) != tokens.size(0) || noise.size(1) != m.channels ||
                     noise.size(2) != s || noise.size(3) != s)
                   throw OpError(fmt::format("noise must be [{}, {}, {}, {}], found {}", tokens.size(0), m.channels,
                                             s, s, describe(Value(noise))));
               } else {
                 noise = at::randn({tokens.size(0), m.channels, s, s}, gen, at::kFloat);
               }
               double w = a.float_("guidance"), eta = a.float_("eta");
               auto ladder = timestep_ladder(m.timesteps - 1, a.int_("steps"));
               int64_t total = tokens.size(0);
               return Value(map_chunks(
                   ctx, noise, text_images_per_chunk(ctx, module, total),
                   [&](const at::Tensor& x, int64_t start) {
                     at::Tensor cond = tokens.slice(0, start, start + x.size(0)).to(ctx.device);
                     // With swaps, each block's caption: [blocks, 2n, L], the empty captions first.
                     at::Tensor per_block;
                     if (swap.defined()) {
                       at::Tensor both = at::cat({at::zeros_like(cond), cond}, 0);
                       at::Tensor swapped = at::cat(
                           {at::zeros_like(cond), swap.slice(0, start, start + x.size(0)).to(ctx.device)}, 0);
                       std::vector<at::Tensor> rows;
                       for (int64_t b = 0; b < blocks; ++b)
                         rows.push_back(std::find(swap_blocks.begin(), swap_blocks.end(), b) != swap_blocks.end()
                                            ? swapped
                                            : both);
                       per_block = at::stack(rows);
                     }
                     Denoiser guided = guided_denoiser(module, cond, w, per_block);
                     at::Tensor out = reverse_process(m, x.to(ctx.device), ladder, eta, gen,
                                                      chunk_progress(ctx, start, x.size(0), total), guided);
                     return ((out + 1) / 2).clamp(0, 1).to(at::kCPU);
                   },
                   ChunkProgress::Quiet));
             });
}

}  // namespace pipette::stdlib
