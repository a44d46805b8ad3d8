#include "stdlib/diffusion/text_dit.hpp"

#include "stdlib/diffusion/text_parts.hpp"

#include <fmt/format.h>

#include <cmath>

#include "engine/op_impl.hpp"
#include "stdlib/diffusion/diffusion.hpp"
#include "stdlib/model/architectures.hpp"

namespace pipette::stdlib {

namespace {

using namespace text_parts;

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
  m.register_module("cross", cross_attention(c, i, d, gen, cu));
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
  add_time_embedding(m, d, gen);
  torch::jit::Module blocks = new_module("PipetteDiTBlocks", cu);
  for (int64_t i = 0; i < c.blocks; ++i) blocks.register_module(std::to_string(i), block(c, i, gen, cu));
  m.register_module("blocks", blocks);
  add_layer(m, "final_mod", {2 * d, d}, gen);
  zero(m, "final_mod");
  add_layer(m, "out", {c.patch * c.patch * c.channels, d}, gen);
  zero(m, "out");
  add_text_model_state(m, c);
  m.register_attribute("patch_size", c10::IntType::get(), c.patch);

  BlockTexts texts = block_texts(c);
  std::string calls, per_block;
  for (int64_t b = 0; b < c.blocks; ++b) {
    calls += fmt::format("    h = getattr(self.blocks, \"{0}\").forward(h, c, {1})\n", b,
                         texts.shared_args[static_cast<size_t>(b)]);
    per_block += texts.own[static_cast<size_t>(b)] +
                 fmt::format("    h = getattr(self.blocks, \"{0}\").forward(h, c, self.text.forward(tb), "
                             "self.text.key_bias(tb))\n",
                             b);
  }
  std::string head = "\n    n = x.size(0)" + time_embedding() + fmt::format(R"(
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
  m.define("def forward(self, x, t, tokens):" + head + texts.shared + calls + tail +
           "\ndef forward_blocks(self, x, t, block_tokens):" + head + per_block + tail);
  return m;
}

}  // namespace pipette::stdlib
