// pipette's language model: a GPT-style causal transformer (pre-LayerNorm
// blocks of multi-head self-attention and a GELU MLP, learned positions, an
// unembedding of its own) built as a TorchScript module in C++, so that
// Python opens what train.lm makes with torch.jit.load and finds
// forward(tokens [N, T] long) -> logits [N, T, vocab] and the attributes
// vocab (its tokenizer: engine/word_tokenizer.hpp), context_length, width,
// heads and n_blocks.
//
// Hook points (docs/ops/models.md, "Naming convention"; TransformerLens's
// names): hook_embed, hook_pos_embed; per block blocks.<i>.hook_resid_pre,
// blocks.<i>.attn.hook_q, .hook_k, .hook_v ([N, T, width], heads merged),
// .hook_pattern ([N, heads, T, T]), .hook_z; blocks.<i>.hook_attn_out,
// blocks.<i>.hook_resid_mid, blocks.<i>.mlp.hook_pre, .hook_post ([N, T,
// 4 * width]), blocks.<i>.hook_mlp_out, blocks.<i>.hook_resid_post; and
// ln_final.hook_normalized.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace pipette::stdlib {

struct GptConfig {
  std::vector<std::string> vocab;  // the tokenizer's (WordTokenizer::vocab())
  int64_t context = 64;            // positions
  int64_t width = 128;             // a multiple of heads
  int64_t blocks = 4;
  int64_t heads = 4;
};

torch::jit::Module build_gpt(const GptConfig& config, at::Generator gen);

}  // namespace pipette::stdlib
