// pipette's second text-to-image model: a small UNet with cross-attention at
// three resolutions (LocoGen's setting, SD's layout in miniature). See
// text_dit.hpp for the interface both models share.
#include "stdlib/diffusion/text_dit.hpp"

#include <fmt/format.h>

#include "engine/op_impl.hpp"
#include "stdlib/diffusion/text_parts.hpp"
#include "stdlib/model/architectures.hpp"

namespace pipette::stdlib {

namespace {

using namespace text_parts;

constexpr int64_t kGroups = 8;  // group norm

// One resolution stage: a residual conv block conditioned on the timestep,
// then a cross-attention of its pixels (as tokens) over the caption.
torch::jit::Module unet_block(const TextDiTConfig& c, int64_t i, int64_t w, at::Generator& gen, const Unit& cu) {
  torch::jit::Module m = new_module("PipetteUNetBlock" + std::to_string(i), cu);
  add_norm(m, "n1", w);
  add_layer(m, "conv1", {w, w, 3, 3}, gen);
  add_layer(m, "temb", {w, c.width}, gen);
  add_norm(m, "n2", w);
  add_layer(m, "conv2", {w, w, 3, 3}, gen);
  zero(m, "conv2");  // the residual branch starts closed
  add_norm(m, "ln", w);
  m.register_module("cross", cross_attention(c, i, w, gen, cu));
  for (const char* h : {"hook_cross_out", "hook_resid_post"}) add_hook_point(m, h);
  m.define(fmt::format(R"(
def forward(self, h, c, text, bias):
    r = torch.conv2d(torch.silu(torch.group_norm(h, {0}, self.n1_weight, self.n1_bias, 1e-5, False)), self.conv1_weight, self.conv1_bias, [1, 1], [1, 1])
    r = r + torch.linear(torch.silu(c), self.temb_weight, self.temb_bias).unsqueeze(2).unsqueeze(3)
    r = torch.conv2d(torch.silu(torch.group_norm(r, {0}, self.n2_weight, self.n2_bias, 1e-5, False)), self.conv2_weight, self.conv2_bias, [1, 1], [1, 1])
    h = h + r
    n = h.size(0)
    rows = h.size(2)
    cols = h.size(3)
    x = h.flatten(2).transpose(1, 2)
    x = x + self.hook_cross_out.forward(self.cross.forward(torch.layer_norm(x, [{1}], self.ln_weight, self.ln_bias, 1e-5, False), text, bias))
    return self.hook_resid_post.forward(x.transpose(1, 2).reshape(n, {1}, rows, cols))
)",
                       kGroups, w));
  return m;
}

}  // namespace

torch::jit::Module build_text_unet(const TextDiTConfig& c, at::Generator gen) {
  if (c.image_size % 4)
    throw OpError(fmt::format("the UNet halves the image twice: its size {} must be a multiple of 4", c.image_size));
  int64_t base = c.width / 2;  // channels at full resolution; twice that below
  if (c.width % (2 * kGroups) || base % c.heads)
    throw OpError(fmt::format("the UNet's width {} must be a multiple of {} and half of it of the heads {}", c.width,
                              2 * kGroups, c.heads));
  if (c.vocab < 2) throw OpError("the vocabulary needs padding and at least one word");
  if (c.blocks != 5)
    throw OpError(fmt::format("the UNet has 5 cross-attention blocks (down at full and half size, the middle, up at "
                              "half and full size); blocks={} asks for another number",
                              c.blocks));
  int64_t lo = 2 * base;
  auto cu = std::make_shared<torch::jit::CompilationUnit>();  // one unit for every class (text_dit.cpp says why)
  torch::jit::Module m = new_module("PipetteTextUNet", cu);
  m.register_module("text", text_encoder(c, gen, cu));
  add_time_embedding(m, c.width, gen);
  add_layer(m, "stem", {base, c.channels, 3, 3}, gen);
  std::vector<int64_t> widths{base, lo, lo, lo, base};
  torch::jit::Module blocks = new_module("PipetteUNetBlocks", cu);
  for (int64_t i = 0; i < 5; ++i)
    blocks.register_module(std::to_string(i), unet_block(c, i, widths[static_cast<size_t>(i)], gen, cu));
  m.register_module("blocks", blocks);
  add_layer(m, "down0", {lo, base, 3, 3}, gen);
  add_layer(m, "down1", {lo, lo, 3, 3}, gen);
  add_layer(m, "up1", {lo, lo, 3, 3}, gen);
  add_layer(m, "merge1", {lo, 2 * lo, 1, 1}, gen);
  add_layer(m, "up0", {base, lo, 3, 3}, gen);
  add_layer(m, "merge0", {base, 2 * base, 1, 1}, gen);
  add_norm(m, "out_norm", base);
  add_layer(m, "out", {c.channels, base, 3, 3}, gen);
  zero(m, "out");
  add_text_model_state(m, c);
  int64_t s = c.image_size;
  // What a forward pass keeps per image, for the sampler's chunks (the DiT's
  // is read from its token grid).
  m.register_attribute("activation_floats", c10::IntType::get(),
                       40 * (2 * s * s * base + 2 * (s / 2) * (s / 2) * lo + (s / 4) * (s / 4) * lo));

  BlockTexts texts = block_texts(c);
  auto body = [&](bool own) {
    auto call = [&](int64_t b, const std::string& v) {
      std::string args = own ? "self.text.forward(tb), self.text.key_bias(tb)" : texts.shared_args[static_cast<size_t>(b)];
      return (own ? texts.own[static_cast<size_t>(b)] : std::string()) +
             fmt::format("    {1} = getattr(self.blocks, \"{0}\").forward({1}, c, {2})\n", b, v, args);
    };
    std::string up = ".repeat_interleave(2, 2).repeat_interleave(2, 3)";
    return "\n    h0 = torch.conv2d(x, self.stem_weight, self.stem_bias, [1, 1], [1, 1])\n" + call(0, "h0") +
           "    h1 = torch.conv2d(h0, self.down0_weight, self.down0_bias, [2, 2], [1, 1])\n" + call(1, "h1") +
           "    h = torch.conv2d(h1, self.down1_weight, self.down1_bias, [2, 2], [1, 1])\n" + call(2, "h") +
           "    h = torch.conv2d(h" + up + ", self.up1_weight, self.up1_bias, [1, 1], [1, 1])\n" +
           "    h = torch.conv2d(torch.cat([h, h1], 1), self.merge1_weight, self.merge1_bias)\n" + call(3, "h") +
           "    h = torch.conv2d(h" + up + ", self.up0_weight, self.up0_bias, [1, 1], [1, 1])\n" +
           "    h = torch.conv2d(torch.cat([h, h0], 1), self.merge0_weight, self.merge0_bias)\n" + call(4, "h") +
           fmt::format("    h = torch.silu(torch.group_norm(h, {}, self.out_norm_weight, self.out_norm_bias, 1e-5, False))\n",
                       kGroups) +
           "    return torch.conv2d(h, self.out_weight, self.out_bias, [1, 1], [1, 1])\n";
  };
  m.define("def forward(self, x, t, tokens):" + time_embedding() + texts.shared + body(false) +
           "\ndef forward_blocks(self, x, t, block_tokens):" + time_embedding() + body(true));
  return m;
}

}  // namespace pipette::stdlib
