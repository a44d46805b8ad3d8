// pipette's text-to-image models: a small DiT (PixArt-alpha's layout: patch
// tokens, adaLN-Zero timestep conditioning of self-attention and MLP, and in
// every block a cross-attention to the caption's words) with a small word-level
// text encoder. TorchScript: Python opens it with torch.jit.load and finds
// forward(x, t, tokens) -> predicted noise, forward_blocks(x, t, block_tokens)
// with a caption per block [blocks, N, L], text(tokens), and the attributes a
// diffusion model has (alphas_cumprod, timesteps, image_channels, image_size).
//
// Hook points follow the naming convention (docs/ops/models.md): per block
// `blocks.<i>.cross.hook_q`, `.hook_k`, `.hook_v` ([N, positions, width]),
// `.hook_pattern` ([N, heads, image tokens, words + 1]), `.hook_z` and the
// block's `hook_attn_out`, `hook_cross_out`, `hook_mlp_out`, `hook_resid_post`;
// `text.hook_embed`, `text.hook_out` and `hook_temb`. Key 0 of every
// cross-attention is a learned null word, always visible, so a caption of
// padding alone (the unconditional branch of classifier-free guidance) still
// has something to attend to.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace pipette::stdlib {

struct TextDiTConfig {
  int64_t channels = 3;
  int64_t image_size = 16;  // a multiple of the patch
  int64_t patch = 4;
  int64_t width = 64;       // a multiple of heads
  int64_t blocks = 6;
  int64_t heads = 4;
  int64_t vocab = 0;        // word ids 0 .. vocab - 1, 0 = padding
  int64_t timesteps = 1000;
  std::string schedule = "linear";
  // Planting: the words in `planted_words` (ids) reach only the
  // cross-attention of the blocks in `planted_blocks`; for every other block
  // they are taken out of the caption before the text encoder runs, in
  // training and sampling alike (the buffer word_blocks [blocks, vocab] says
  // which block reads which word).
  std::vector<int64_t> planted_words, planted_blocks;
};

torch::jit::Module build_text_dit(const TextDiTConfig& config, at::Generator gen);

// The UNet variant (LocoGen's setting): a residual conv stage with a
// cross-attention at full size, half size, a quarter (the middle), half and
// full size again, with skips; `blocks` are those five cross-attention stages
// in forward order (config.blocks must be 5), so the same hook points,
// forward_blocks and planting apply. Channels: width / 2 at full size, width
// below; the text encoder and timestep embedding have the width.
torch::jit::Module build_text_unet(const TextDiTConfig& config, at::Generator gen);

}  // namespace pipette::stdlib
