// The pieces pipette's two text-to-image models share (text_parts.hpp).
#include "stdlib/diffusion/text_parts.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/op_impl.hpp"
#include "stdlib/diffusion/diffusion.hpp"
#include "stdlib/model/architectures.hpp"

namespace pipette::stdlib::text_parts {

void add_norm(torch::jit::Module& m, const std::string& name, int64_t width) {
  m.register_parameter(name + "_weight", at::ones({width}).requires_grad_(true), false);
  m.register_parameter(name + "_bias", at::zeros({width}).requires_grad_(true), false);
}

void zero(torch::jit::Module& m, const std::string& name) {
  m.attr(name + "_weight").toTensor().detach().zero_();
  m.attr(name + "_bias").toTensor().detach().zero_();
}

// Multi-head attention of queries q [N, Q, D] over keys/values [N or 1, K, D]
// with an additive key bias [N or 1, 1, 1, K] (one caption for every image
// broadcasts: model.bind(m, args=[t, tokens])): the text of a TorchScript expression block
// that leaves the merged heads in `out` (and, for cross-attention, the pattern
// through its hook point).
std::string attention(int64_t heads, int64_t width, bool pattern_hook) {
  int64_t dh = width / heads;
  return fmt::format(R"(
    n = q.size(0)
    qh = q.view(n, q.size(1), {0}, {1}).transpose(1, 2)
    kh = k.view(k.size(0), k.size(1), {0}, {1}).transpose(1, 2)
    vh = v.view(v.size(0), v.size(1), {0}, {1}).transpose(1, 2)
    a = torch.softmax(torch.matmul(qh, kh.transpose(-1, -2)) * {2} + bias, -1)
    {3}
    out = torch.matmul(a, vh).transpose(1, 2).reshape(n, q.size(1), {4})
)",
                     heads, dh, 1.0 / std::sqrt(static_cast<double>(dh)),
                     pattern_hook ? "a = self.hook_pattern.forward(a)" : "", width);
}

torch::jit::Module text_encoder(const TextDiTConfig& c, at::Generator& gen, const Unit& cu) {
  int64_t d = c.width;
  torch::jit::Module m = new_module("PipetteTextEncoder", cu);
  m.register_parameter("embed", (at::randn({c.vocab, d}, gen) * 0.02).requires_grad_(true), false);
  m.register_parameter("null", (at::randn({1, d}, gen) * 0.02).requires_grad_(true), false);
  add_norm(m, "ln1", d);
  add_layer(m, "qkv", {3 * d, d}, gen);
  add_layer(m, "proj", {d, d}, gen);
  add_norm(m, "ln2", d);
  add_layer(m, "fc1", {4 * d, d}, gen);
  add_layer(m, "fc2", {d, 4 * d}, gen);
  add_norm(m, "lno", d);
  add_hook_point(m, "hook_embed");
  add_hook_point(m, "hook_out");
  // No positions: the caption grammar's words are of distinct kinds, so a bag
  // of words says everything, and a prompt with a word left out ("a small
  // striped dress") means what the caption with that word dropped meant in
  // training.
  m.define(fmt::format(R"(
def key_bias(self, tokens):
    visible = torch.cat([torch.ones([tokens.size(0), 1], device=tokens.device), (tokens != 0).float()], 1)
    return ((1.0 - visible) * -10000.0).unsqueeze(1).unsqueeze(1)

def forward(self, tokens):
    e = self.hook_embed.forward(torch.embedding(self.embed, tokens))
    e = torch.cat([self.null.unsqueeze(0).expand(tokens.size(0), 1, {0}), e], 1)
    bias = self.key_bias(tokens)
    x = torch.layer_norm(e, [{0}], self.ln1_weight, self.ln1_bias, 1e-5, False)
    qkv = torch.linear(x, self.qkv_weight, self.qkv_bias)
    q = qkv.narrow(-1, 0, {0})
    k = qkv.narrow(-1, {0}, {0})
    v = qkv.narrow(-1, {2}, {0})
{1}
    e = e + torch.linear(out, self.proj_weight, self.proj_bias)
    x = torch.layer_norm(e, [{0}], self.ln2_weight, self.ln2_bias, 1e-5, False)
    e = e + torch.linear(torch.gelu(torch.linear(x, self.fc1_weight, self.fc1_bias)), self.fc2_weight, self.fc2_bias)
    return self.hook_out.forward(torch.layer_norm(e, [{0}], self.lno_weight, self.lno_bias, 1e-5, False))
)",
                       d, attention(c.heads, d, false), 2 * d));
  return m;
}

torch::jit::Module cross_attention(const TextDiTConfig& c, int64_t i, int64_t d, at::Generator& gen, const Unit& cu) {
  // Queries (and the output) of the image's width d, keys and values read the
  // text encoder's output of width c.width.
  torch::jit::Module m = new_module("PipetteCrossAttention" + std::to_string(i), cu);
  add_layer(m, "q", {d, d}, gen);
  add_layer(m, "k", {d, c.width}, gen);
  add_layer(m, "v", {d, c.width}, gen);
  add_layer(m, "o", {d, d}, gen);
  for (const char* h : {"hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z"}) add_hook_point(m, h);
  m.define(fmt::format(R"(
def forward(self, x, text, bias):
    q = self.hook_q.forward(torch.linear(x, self.q_weight, self.q_bias))
    k = self.hook_k.forward(torch.linear(text, self.k_weight, self.k_bias))
    v = self.hook_v.forward(torch.linear(text, self.v_weight, self.v_bias))
{0}
    return torch.linear(self.hook_z.forward(out), self.o_weight, self.o_bias)
)",
                       attention(c.heads, d, true)));
  return m;
}

void add_text_model_state(torch::jit::Module& m, const TextDiTConfig& c) {
  at::Tensor word_blocks = at::ones({c.blocks, c.vocab});
  for (int64_t w : c.planted_words) {
    if (w <= 0 || w >= c.vocab) throw OpError(fmt::format("word id {} is not in the vocabulary", w));
    for (int64_t b = 0; b < c.blocks; ++b)
      if (std::find(c.planted_blocks.begin(), c.planted_blocks.end(), b) == c.planted_blocks.end())
        word_blocks[b][w] = 0;
  }
  for (int64_t b : c.planted_blocks)
    if (b < 0 || b >= c.blocks) throw OpError(fmt::format("block {} is not one of the {} blocks", b, c.blocks));
  m.register_buffer("word_blocks", word_blocks);
  m.register_buffer("alphas_cumprod", noise_schedule(c.schedule, c.timesteps).to(at::kFloat));
  m.register_attribute("timesteps", c10::IntType::get(), c.timesteps);
  m.register_attribute("image_channels", c10::IntType::get(), c.channels);
  m.register_attribute("image_size", c10::IntType::get(), c.image_size);
  m.register_attribute("schedule", c10::StringType::get(), c.schedule);
  m.register_attribute("vocab_size", c10::IntType::get(), c.vocab);
  m.register_attribute("heads", c10::IntType::get(), c.heads);
}

BlockTexts block_texts(const TextDiTConfig& c) {
  // Which text each block reads. Planted words are taken out of the caption
  // before the text encoder runs for the blocks that may not see them (not
  // only masked out of their keys): the encoder's self-attention would
  // otherwise carry them into the other words' outputs. forward() runs the
  // encoder once on the caption and, when words are planted, once on the
  // caption without them; forward_blocks() once per block on that block's own
  // caption (knowledge-free prompts in some blocks: the localize plugin).
  BlockTexts out;
  std::vector<bool> hides(static_cast<size_t>(c.blocks), false);
  for (int64_t b = 0; b < c.blocks; ++b)
    hides[static_cast<size_t>(b)] =
        !c.planted_words.empty() &&
        std::find(c.planted_blocks.begin(), c.planted_blocks.end(), b) == c.planted_blocks.end();
  int64_t hiding_block = -1;
  for (int64_t b = 0; b < c.blocks; ++b)
    if (hides[static_cast<size_t>(b)] && hiding_block < 0) hiding_block = b;
  out.shared =
      "    text = self.text.forward(tokens)\n"
      "    bias = self.text.key_bias(tokens)\n";
  if (hiding_block >= 0)
    out.shared += fmt::format(
        "    hidden = tokens * self.word_blocks[{0}].index_select(0, tokens.flatten()).view(tokens.size(0), "
        "tokens.size(1)).long()\n"
        "    text_hidden = self.text.forward(hidden)\n"
        "    bias_hidden = self.text.key_bias(hidden)\n",
        hiding_block);
  for (int64_t b = 0; b < c.blocks; ++b) {
    bool hide = hides[static_cast<size_t>(b)];
    out.shared_args.push_back(hide ? "text_hidden, bias_hidden" : "text, bias");
    out.own.push_back(fmt::format(
        "    tb = block_tokens[{0}]\n"
        "    tb = tb * self.word_blocks[{0}].index_select(0, tb.flatten()).view(tb.size(0), tb.size(1)).long()\n",
        b));
  }
  return out;
}

std::string time_embedding() {
  return R"(
    e = t.float().unsqueeze(1) * self.time_freqs.unsqueeze(0)
    e = torch.cat([torch.sin(e), torch.cos(e)], 1)
    e = torch.linear(torch.silu(torch.linear(e, self.t1_weight, self.t1_bias)), self.t2_weight, self.t2_bias)
    c = self.hook_temb.forward(e)
)";
}

void add_time_embedding(torch::jit::Module& m, int64_t d, at::Generator& gen) {
  int64_t half = d / 2;
  m.register_buffer("time_freqs",
                    at::exp(-std::log(10000.0) * at::arange(half, at::kFloat) / static_cast<double>(half)));
  add_layer(m, "t1", {d, d}, gen);
  add_layer(m, "t2", {d, d}, gen);
  add_hook_point(m, "hook_temb");
}


}  // namespace pipette::stdlib::text_parts
