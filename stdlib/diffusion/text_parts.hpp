// The pieces pipette's two text-to-image models (text_dit.hpp: a DiT and a
// UNet) share: the word-level text encoder, the cross-attention with its hook
// points, the timestep embedding, the planting of words in some blocks
// (word_blocks), the attributes a diffusion model has, and the TorchScript
// that gives each block its caption. Internal to the stdlib.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <memory>
#include <string>
#include <vector>

#include "stdlib/diffusion/text_dit.hpp"

namespace pipette::stdlib::text_parts {

using Unit = std::shared_ptr<torch::jit::CompilationUnit>;

void add_norm(torch::jit::Module& m, const std::string& name, int64_t width);
void zero(torch::jit::Module& m, const std::string& name);

// Multi-head attention of queries q [N, Q, D] over keys/values [N or 1, K, D]
// with an additive key bias [N or 1, 1, 1, K]: the text of a TorchScript
// block that leaves the merged heads in `out` (and, with pattern_hook, the
// weights through hook_pattern).
std::string attention(int64_t heads, int64_t width, bool pattern_hook);

// The text encoder of width c.width: text(tokens) -> [N, 1 + L, width], a
// learned null word first; key_bias(tokens) masks the padding.
torch::jit::Module text_encoder(const TextDiTConfig& c, at::Generator& gen, const Unit& cu);

// Cross-attention of image tokens of width `d` over the text (c.width):
// q, k, v, o and the hook points hook_q, hook_k, hook_v, hook_pattern, hook_z.
torch::jit::Module cross_attention(const TextDiTConfig& c, int64_t i, int64_t d, at::Generator& gen, const Unit& cu);

// word_blocks [blocks, vocab] (which block reads which word), alphas_cumprod
// and the attributes: timesteps, image_channels, image_size, schedule,
// vocab_size, heads.
void add_text_model_state(torch::jit::Module& m, const TextDiTConfig& c);

// The caption each block reads, as TorchScript: `shared` (for forward()) sets
// the variables that shared_args[b] names; own[b] (for forward_blocks()) sets
// `tb`, block b's own caption with its hidden words out, to be read as
// self.text.forward(tb), self.text.key_bias(tb).
struct BlockTexts {
  std::string shared;
  std::vector<std::string> shared_args, own;
};
BlockTexts block_texts(const TextDiTConfig& c);

// time_freqs, t1, t2 and hook_temb; time_embedding() is the TorchScript that
// sets `c` from `t`.
void add_time_embedding(torch::jit::Module& m, int64_t d, at::Generator& gen);
std::string time_embedding();

}  // namespace pipette::stdlib::text_parts
