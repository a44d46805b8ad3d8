#include "stdlib/diffusion/text_dit.hpp"

#include <fmt/format.h>

#include <cmath>

#include "engine/op_impl.hpp"
#include "stdlib/diffusion/diffusion.hpp"
#include "stdlib/model/architectures.hpp"

namespace pipette::stdlib {

namespace {

using Unit = std::shared_ptr<torch::jit::CompilationUnit>;

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

torch::jit::Module cross_attention(const TextDiTConfig& c, int64_t i, at::Generator& gen, const Unit& cu) {
  int64_t d = c.width;
  torch::jit::Module m = new_module("PipetteCrossAttention" + std::to_string(i), cu);
  add_layer(m, "q", {d, d}, gen);
  add_layer(m, "k", {d, d}, gen);
  add_layer(m, "v", {d, d}, gen);
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

torch::jit::Module block(const TextDiTConfig& c, int64_t i, at::Generator& gen, const Unit& cu) {
  int64_t d = c.width;
  torch::jit::Module m = new_module("PipetteDiTBlock" + std::to_string(i), cu);
  add_layer(m, "mod", {6 * d, d}, gen);
  zero(m, "mod");  // adaLN-Zero: every gate starts closed, the block as the identity
  add_layer(m, "qkv", {3 * d, d}, gen);
  add_layer(m, "proj", {d, d}, gen);
  add_norm(m, "ln2", d);
  add_layer(m, "fc1", {4 * d, d}, gen);
  add_layer(m, "fc2", {d, 4 * d}, gen);
  m.register_module("cross", cross_attention(c, i, gen, cu));
  for (const char* h : {"hook_attn_out", "hook_cross_out", "hook_mlp_out", "hook_resid_post"}) add_hook_point(m, h);
  // Cross-attention is not gated by the timestep (the feasibility study: a
  // gate that starts closed kept the caption out for most of a short training).
  m.define(fmt::format(R"(
def self_attention(self, x):
    qkv = torch.linear(x, self.qkv_weight, self.qkv_bias)
    q = qkv.narrow(-1, 0, {0})
    k = qkv.narrow(-1, {0}, {0})
    v = qkv.narrow(-1, {2}, {0})
    bias = torch.zeros([1, 1, 1, 1], device=x.device)
{1}
    return torch.linear(out, self.proj_weight, self.proj_bias)

def forward(self, h, c, text, bias):
    mod = torch.linear(torch.silu(c), self.mod_weight, self.mod_bias).unsqueeze(1)
    shift1 = mod.narrow(-1, 0, {0})
    scale1 = mod.narrow(-1, {0}, {0})
    gate1 = mod.narrow(-1, {2}, {0})
    shift2 = mod.narrow(-1, {3}, {0})
    scale2 = mod.narrow(-1, {4}, {0})
    gate2 = mod.narrow(-1, {5}, {0})
    x = torch.layer_norm(h, [{0}]) * (1.0 + scale1) + shift1
    h = h + self.hook_attn_out.forward(gate1 * self.self_attention(x))
    x = torch.layer_norm(h, [{0}], self.ln2_weight, self.ln2_bias, 1e-5, False)
    h = h + self.hook_cross_out.forward(self.cross.forward(x, text, bias))
    x = torch.layer_norm(h, [{0}]) * (1.0 + scale2) + shift2
    y = torch.linear(torch.gelu(torch.linear(x, self.fc1_weight, self.fc1_bias)), self.fc2_weight, self.fc2_bias)
    h = h + self.hook_mlp_out.forward(gate2 * y)
    return self.hook_resid_post.forward(h)
)",
                       d, attention(c.heads, d, false), 2 * d, 3 * d, 4 * d, 5 * d));
  return m;
}

}  // namespace

torch::jit::Module build_text_dit(const TextDiTConfig& c, at::Generator gen) {
  if (c.image_size % c.patch)
    throw OpError(fmt::format("the image size {} is not a multiple of the patch {}", c.image_size, c.patch));
  if (c.width % c.heads || c.width % 2)
    throw OpError(fmt::format("the width {} is not an even multiple of the heads {}", c.width, c.heads));
  if (c.patch * c.patch * c.channels > c.width)
    throw OpError(fmt::format("a patch holds {} values, more than the width {}: patch tokens could not carry "
                              "them (the loss stalls); use a smaller patch or a larger width",
                              c.patch * c.patch * c.channels, c.width));
  if (c.vocab < 2) throw OpError("the vocabulary needs padding and at least one word");
  if (c.blocks < 1) throw OpError("a DiT needs at least one block");
  int64_t d = c.width, g = c.image_size / c.patch;
  // One compilation unit for every class of the model, as torch.jit.load
  // makes: with a unit per class, LibTorch 1.13's alias analysis took over
  // 6 GB to define the forward of a three-block model (under 250 MB this way).
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module m = new_module("PipetteTextDiT", cu);
  m.register_module("text", text_encoder(c, gen, cu));
  add_layer(m, "patch", {d, c.channels, c.patch, c.patch}, gen);
  m.register_parameter("pos", (at::randn({1, g * g, d}, gen) * 0.02).requires_grad_(true), false);
  int64_t half = d / 2;
  m.register_buffer("time_freqs",
                    at::exp(-std::log(10000.0) * at::arange(half, at::kFloat) / static_cast<double>(half)));
  add_layer(m, "t1", {d, d}, gen);
  add_layer(m, "t2", {d, d}, gen);
  add_hook_point(m, "hook_temb");
  torch::jit::Module blocks = new_module("PipetteDiTBlocks", cu);
  for (int64_t i = 0; i < c.blocks; ++i) blocks.register_module(std::to_string(i), block(c, i, gen, cu));
  m.register_module("blocks", blocks);
  add_layer(m, "final_mod", {2 * d, d}, gen);
  zero(m, "final_mod");
  add_layer(m, "out", {c.patch * c.patch * c.channels, d}, gen);
  zero(m, "out");
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
  m.register_attribute("patch_size", c10::IntType::get(), c.patch);
  m.register_attribute("vocab_size", c10::IntType::get(), c.vocab);
  m.register_attribute("heads", c10::IntType::get(), c.heads);

  // Which text each block reads. Planted words are taken out of the caption
  // before the text encoder runs for the blocks that may not see them (not
  // only masked out of their keys): the encoder's self-attention would
  // otherwise carry them into the other words' outputs. forward() runs the
  // encoder once on the caption and, when words are planted, once on the
  // caption without them; forward_blocks() once per block on that block's own
  // caption (knowledge-free prompts in some blocks: the localize plugin).
  std::vector<bool> hides(static_cast<size_t>(c.blocks), false);
  for (int64_t b = 0; b < c.blocks; ++b)
    hides[static_cast<size_t>(b)] =
        !c.planted_words.empty() &&
        std::find(c.planted_blocks.begin(), c.planted_blocks.end(), b) == c.planted_blocks.end();
  int64_t hiding_block = -1;
  for (int64_t b = 0; b < c.blocks; ++b)
    if (hides[static_cast<size_t>(b)] && hiding_block < 0) hiding_block = b;
  std::string shared_text =
      "    text = self.text.forward(tokens)\n"
      "    bias = self.text.key_bias(tokens)\n";
  if (hiding_block >= 0)
    shared_text += fmt::format(
        "    hidden = tokens * self.word_blocks[{0}].index_select(0, tokens.flatten()).view(tokens.size(0), "
        "tokens.size(1)).long()\n"
        "    text_hidden = self.text.forward(hidden)\n"
        "    bias_hidden = self.text.key_bias(hidden)\n",
        hiding_block);
  std::string calls, per_block;
  for (int64_t b = 0; b < c.blocks; ++b) {
    bool hide = hides[static_cast<size_t>(b)];
    calls += fmt::format("    h = getattr(self.blocks, \"{0}\").forward(h, c, {1}, {2})\n", b,
                         hide ? "text_hidden" : "text", hide ? "bias_hidden" : "bias");
    per_block += fmt::format(
        "    tb = block_tokens[{0}]\n"
        "    tb = tb * self.word_blocks[{0}].index_select(0, tb.flatten()).view(tb.size(0), tb.size(1)).long()\n"
        "    h = getattr(self.blocks, \"{0}\").forward(h, c, self.text.forward(tb), self.text.key_bias(tb))\n",
        b);
  }
  std::string head = fmt::format(R"(
    n = x.size(0)
    e = t.float().unsqueeze(1) * self.time_freqs.unsqueeze(0)
    e = torch.cat([torch.sin(e), torch.cos(e)], 1)
    e = torch.linear(torch.silu(torch.linear(e, self.t1_weight, self.t1_bias)), self.t2_weight, self.t2_bias)
    c = self.hook_temb.forward(e)
    h = torch.conv2d(x, self.patch_weight, self.patch_bias, [{0}, {0}])
    h = h.flatten(2).transpose(1, 2) + self.pos
)",
                                 c.patch);
  std::string tail = fmt::format(R"(
    mod = torch.linear(torch.silu(c), self.final_mod_weight, self.final_mod_bias).unsqueeze(1)
    shift = mod.narrow(-1, 0, {2})
    scale = mod.narrow(-1, {2}, {2})
    h = torch.layer_norm(h, [{2}]) * (1.0 + scale) + shift
    h = torch.linear(h, self.out_weight, self.out_bias)
    h = h.view(n, {3}, {3}, {0}, {0}, {4}).permute(0, 5, 1, 3, 2, 4)
    return h.reshape(n, {4}, {5}, {5})
)",
                                 c.patch, 0, d, g, c.channels, c.image_size);
  m.define("def forward(self, x, t, tokens):" + head + shared_text + calls + tail +
           "\ndef forward_blocks(self, x, t, block_tokens):" + head + per_block + tail);
  return m;
}

}  // namespace pipette::stdlib
