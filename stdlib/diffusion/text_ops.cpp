// diffusion.train_text, diffusion.sample_text: pipette's text-to-image model
// (stdlib/diffusion/text_dit.hpp) trained on captioned images (data.captioned)
// and sampled with classifier-free guidance.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>
#include <set>
#include <utility>

#include "engine/chunks.hpp"
#include "engine/dataset.hpp"
#include "engine/diffusion_sampling.hpp"
#include "engine/hook_points.hpp"
#include "engine/vocabulary.hpp"
#include "engine/model_call.hpp"
#include "engine/model_arg.hpp"
#include "engine/trained_params.hpp"
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
  for (const auto& w : words) ids.push_back(word_id(vocab, w, "planted_words"));
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

// What diffusion.train_text and diffusion.finetune_text both take after the
// architecture: optimisation, caption dropout, and what they return.
OpSignature& caption_training_params(OpSignature& s) {
  return s.param("batch", "int", Operand::integer(64), "Images per step")
      .range(1)
      .param("caption_dropout", "float", Operand::real(0.1), "Share of captions dropped whole")
      .range(0.0, 1.0)
      .param("word_dropout", "float", Operand::real(0.1), "Share of the other captions that lose one word")
      .range(0.0, 1.0);
}

// The data's images [N, C, S, S] and tokens [N, L], checked against a vocabulary of `vocab` words.
std::pair<at::Tensor, at::Tensor> captioned_data(const OpArgs& a, int64_t vocab) {
  DatasetPtr d = a.dataset("data");
  at::Tensor images = d->column("images").to(at::kFloat).contiguous();
  at::Tensor tokens = d->column("tokens").to(at::kLong).contiguous();
  if (images.size(0) == 0) throw OpError("the data holds no images");
  if (images.dim() != 4 || images.size(2) != images.size(3))
    throw OpError("the images must be square [N, C, S, S], found " + describe(Value(images)));
  check_images(images, "images");
  if (tokens.numel() && tokens.max().item<int64_t>() >= vocab)
    throw OpError(fmt::format("the tokens hold word id {}, but the vocabulary has {} words",
                              tokens.max().item<int64_t>(), vocab));
  return {images, tokens};
}

// Trains `module` (on ctx.device) on captioned images with caption dropout:
// the one loop of train_text and finetune_text.
Value train_on_captions(torch::jit::Module& module, const at::Tensor& images, const at::Tensor& tokens,
                        const OpArgs& a, OpContext& ctx, at::Generator& gen, std::set<std::string> params) {
  DenoiserTraining training{a.int_("steps"), a.float_("lr"), a.float_("ema"), std::move(params)};
  int64_t batch = a.int_("batch");
  double caption_drop = a.float_("caption_dropout"), word_drop = a.float_("word_dropout");
  std::vector<double> losses = train_denoiser(module, training, gen, ctx, [&](int64_t, at::Generator& g) {
    at::Tensor idx = at::randint(0, images.size(0), {batch}, g, at::kLong);
    at::Tensor x0 = images.index_select(0, idx).to(ctx.device) * 2 - 1;
    at::Tensor words = drop_words(tokens.index_select(0, idx), caption_drop, word_drop, g);
    return DenoiserBatch{x0, {words.to(ctx.device)}};
  });
  module.to(at::kCPU);
  c10::List<std::string> trained;
  for (const auto& p : parameters_by_path(module))
    if (training.params.empty() || training.params.count(p.first)) trained.push_back(p.first);
  return make_record({{"model", Value(module._ivalue())},
                      {"loss", Value(tail_mean(losses))},
                      {"losses", Value(at::tensor(losses, at::kDouble).to(at::kFloat))},
                      {"trained", Value(trained)}});
}

constexpr const char* kTrainedText =
    "record{model: model, loss: float, losses: tensor, trained: list<string>}";

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
      .param("arch", "string", Operand::string("dit"),
             "dit: PixArt-alpha's layout, BLOCKS blocks; unet: conv stages with a cross-attention at three "
             "resolutions, 5 blocks (LocoGen's setting; BLOCKS and PATCH are the DiT's)")
      .choices({"dit", "unet"})
      .param("patch", "int", Operand::integer(4), "Patch size (S must be a multiple)")
      .range(1, 64)
      .param("width", "int", Operand::integer(64), "Token width (a multiple of heads)")
      .range(8, 1024)
      .param("blocks", "int", Operand::integer(6), "DiT blocks")
      .range(1, 64)
      .param("heads", "int", Operand::integer(4), "Attention heads")
      .range(1, 64);
  caption_training_params(denoiser_params(train_text, 0.995))
      .param("planted_words", "list<string>", Operand::list({}), "Words only PLANTED_BLOCKS see")
      .param("planted_blocks", "list<int>", Operand::list({}), "The blocks that see PLANTED_WORDS (0-based)")
      .optional("seed", "int", "Overrides the derived seed (initialisation, batches, noise)")
      .stochastic()
      .returns(kTrainedText,
               "the model (EMA weights), the mean loss of the last 10 % of steps, every step's loss, and the "
               "paths of the parameters trained (all)");
  lib.define(
      train_text,
      [](const OpArgs& a, OpContext& ctx) {
        std::vector<std::string> vocab = string_list(a, "vocab");
        auto [images, tokens] = captioned_data(a, static_cast<int64_t>(vocab.size()));
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
        bool unet = a.string("arch") == "unet";
        if (unet) cfg.blocks = 5;
        torch::jit::Module module = unet ? build_text_unet(cfg, gen) : build_text_dit(cfg, gen);
        module.to(ctx.device);
        return train_on_captions(module, images, tokens, a, ctx, gen, {});
      });

  OpSignature finetune_text(
      "diffusion.finetune_text",
      "Fine-tunes a text-to-image model (diffusion.train_text) on captioned images with its own objective and "
      "caption dropout: personalization (captions with a new word), unlearning (a word's captions paired with "
      "images without it), or more training. PARAMS limits training to parameters by path (\"blocks.4.*\", "
      "\"blocks.*.cross.k_weight\"): localized fine-tuning. The input model is copied, not changed; its "
      "planted words stay planted.");
  finetune_text.input("model", "model", "A model from diffusion.train_text")
      .input("data", "dataset{images: tensor, tokens: tensor}",
             "Square images [N, C, S, S] in [0, 1] with word ids [N, L] of the model's vocabulary");
  caption_training_params(denoiser_params(finetune_text, 0.0))
      .optional("params", "list<string>",
                "Train only the parameters whose paths match one of these patterns (* matches anything, dots "
                "included); the others stay bitwise as they were")
      .optional("blocks", "list<int>",
                "Train only these DiT blocks (every parameter under blocks.<i>): a localization's located "
                "blocks; instead of PARAMS")
      .optional("seed", "int", "Overrides the derived seed (batches, noise)")
      .stochastic()
      .returns(kTrainedText,
               "the fine-tuned model, the mean loss of the last 10 % of steps, every step's loss, and the paths "
               "of the parameters trained");
  lib.define(finetune_text, [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module module;
    {
      torch::NoGradGuard no_grad;
      module = clone_model(text_model_arg(a, "model", ctx.device));
    }
    auto [images, tokens] = captioned_data(a, module.attr("vocab_size").toInt());
    DiffusionModel dm(module);
    if (images.size(1) != dm.channels || images.size(2) != dm.image_size)
      throw OpError(fmt::format("the model makes [{}, {}, {}] images; the data's are {}", dm.channels,
                                dm.image_size, dm.image_size, per_example_shape(images)));
    std::set<std::string> params;
    if (!a.is_none("blocks")) {
      if (!a.is_none("params")) throw OpError("give params or blocks, not both");
      std::vector<std::string> patterns;
      for (int64_t b : block_list(a, "blocks", module)) patterns.push_back(fmt::format("blocks.{}.*", b));
      params = parameters_matching(module, patterns, "blocks");
    } else {
      params = trained_parameters(module, a);
    }
    at::Generator gen = ctx.generator();
    return train_on_captions(module, images, tokens, a, ctx, gen, std::move(params));
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
               int64_t per = a.int_("n");
               // Which blocks read the swapped prompts; empty = none.
               std::vector<int64_t> swap_blocks = block_list(a, "swap_blocks", module, /*may_be_empty=*/true);
               int64_t blocks = block_count(module);
               at::Tensor swap;
               if (!swap_blocks.empty() || !a.is_none("swap_prompts")) {
                 if (swap_blocks.empty() || a.is_none("swap_prompts"))
                   throw OpError("swap_prompts and swap_blocks go together: what to read, and which blocks read it");
                 swap = prompt_tokens(a, "swap_prompts", module, prompts.size(0)).repeat_interleave(per, 0);
               }
               at::Tensor tokens = prompts.repeat_interleave(per, 0);
               at::Generator gen = ctx.generator();
               at::Tensor noise = starting_noise(a, "noise", m, tokens.size(0), gen);
               TextSampling sampling{a.int_("steps"), a.float_("guidance"), a.float_("eta")};
               at::Tensor reads;
               if (swap.defined()) {
                 reads = at::zeros({tokens.size(0), blocks}, at::kBool);
                 for (int64_t b : swap_blocks) reads.select(1, b).fill_(true);
               }
               return Value(sample_text_images(ctx, module, tokens, noise, sampling, gen, swap, reads));
             });
}

}  // namespace pipette::stdlib
