#include "stdlib/lm/gpt.hpp"

#include <fmt/format.h>

#include <cmath>

#include "engine/op_impl.hpp"
#include "stdlib/diffusion/text_parts.hpp"
#include "stdlib/model/architectures.hpp"

namespace pipette::stdlib {

namespace {

using Unit = std::shared_ptr<torch::jit::CompilationUnit>;

// GPT-2's initialisation: N(0, 0.02) for every matrix, the projections into
// the residual stream scaled by 1 / sqrt(2 * blocks), zero biases.
void add_linear(torch::jit::Module& m, const std::string& name, int64_t out, int64_t in, double std,
                at::Generator& gen) {
  m.register_parameter(name + "_weight", (at::randn({out, in}, gen) * std).requires_grad_(true), false);
  m.register_parameter(name + "_bias", at::zeros({out}).requires_grad_(true), false);
}

torch::jit::Module attention(const GptConfig& c, int64_t i, at::Generator& gen, const Unit& cu) {
  int64_t d = c.width;
  double out_std = 0.02 / std::sqrt(2.0 * static_cast<double>(c.blocks));
  torch::jit::Module m = new_module("PipetteGPTAttention" + std::to_string(i), cu);
  add_linear(m, "q", d, d, 0.02, gen);
  add_linear(m, "k", d, d, 0.02, gen);
  add_linear(m, "v", d, d, 0.02, gen);
  add_linear(m, "o", d, d, out_std, gen);
  for (const char* h : {"hook_q", "hook_k", "hook_v", "hook_pattern", "hook_z"}) add_hook_point(m, h);
  m.define(fmt::format(R"(
def forward(self, x, bias):
    q = self.hook_q.forward(torch.linear(x, self.q_weight, self.q_bias))
    k = self.hook_k.forward(torch.linear(x, self.k_weight, self.k_bias))
    v = self.hook_v.forward(torch.linear(x, self.v_weight, self.v_bias))
{0}
    return torch.linear(self.hook_z.forward(out), self.o_weight, self.o_bias)
)",
                       text_parts::attention(c.heads, d, true)));
  return m;
}

torch::jit::Module mlp(const GptConfig& c, int64_t i, at::Generator& gen, const Unit& cu) {
  int64_t d = c.width;
  torch::jit::Module m = new_module("PipetteGPTMLP" + std::to_string(i), cu);
  add_linear(m, "fc1", 4 * d, d, 0.02, gen);
  add_linear(m, "fc2", d, 4 * d, 0.02 / std::sqrt(2.0 * static_cast<double>(c.blocks)), gen);
  add_hook_point(m, "hook_pre");
  add_hook_point(m, "hook_post");
  m.define(R"(
def forward(self, x):
    h = self.hook_post.forward(torch.gelu(self.hook_pre.forward(torch.linear(x, self.fc1_weight, self.fc1_bias))))
    return torch.linear(h, self.fc2_weight, self.fc2_bias)
)");
  return m;
}

torch::jit::Module block(const GptConfig& c, int64_t i, at::Generator& gen, const Unit& cu) {
  torch::jit::Module m = new_module("PipetteGPTBlock" + std::to_string(i), cu);
  text_parts::add_norm(m, "ln1", c.width);
  m.register_module("attn", attention(c, i, gen, cu));
  text_parts::add_norm(m, "ln2", c.width);
  m.register_module("mlp", mlp(c, i, gen, cu));
  for (const char* h : {"hook_resid_pre", "hook_attn_out", "hook_resid_mid", "hook_mlp_out", "hook_resid_post"})
    add_hook_point(m, h);
  m.define(fmt::format(R"(
def forward(self, h, bias):
    h = self.hook_resid_pre.forward(h)
    x = torch.layer_norm(h, [{0}], self.ln1_weight, self.ln1_bias, 1e-5, False)
    h = self.hook_resid_mid.forward(h + self.hook_attn_out.forward(self.attn.forward(x, bias)))
    x = torch.layer_norm(h, [{0}], self.ln2_weight, self.ln2_bias, 1e-5, False)
    h = h + self.hook_mlp_out.forward(self.mlp.forward(x))
    return self.hook_resid_post.forward(h)
)",
                       c.width));
  return m;
}

}  // namespace

torch::jit::Module build_gpt(const GptConfig& c, at::Generator gen) {
  if (c.width % c.heads) throw OpError(fmt::format("the width {} is not a multiple of the heads {}", c.width, c.heads));
  if (c.vocab.size() < 4) throw OpError("the vocabulary needs the three special tokens and at least one word");
  if (c.blocks < 1) throw OpError("a language model needs at least one block");
  if (c.context < 2) throw OpError("the context must hold at least two tokens");
  int64_t d = c.width, v = static_cast<int64_t>(c.vocab.size());
  // One compilation unit for all classes, as torch.jit.load makes (text_dit.cpp says why).
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  torch::jit::Module m = new_module("PipetteGPT", cu);
  m.register_parameter("embed", (at::randn({v, d}, gen) * 0.02).requires_grad_(true), false);
  m.register_parameter("pos", (at::randn({c.context, d}, gen) * 0.01).requires_grad_(true), false);
  add_hook_point(m, "hook_embed");
  add_hook_point(m, "hook_pos_embed");
  torch::jit::Module blocks = new_module("PipetteGPTBlocks", cu);
  for (int64_t i = 0; i < c.blocks; ++i) blocks.register_module(std::to_string(i), block(c, i, gen, cu));
  m.register_module("blocks", blocks);
  torch::jit::Module lnf = new_module("PipetteGPTFinalNorm", cu);
  text_parts::add_norm(lnf, "ln", d);
  add_hook_point(lnf, "hook_normalized");
  lnf.define(fmt::format(R"(
def forward(self, h):
    return self.hook_normalized.forward(torch.layer_norm(h, [{0}], self.ln_weight, self.ln_bias, 1e-5, False))
)",
                         d));
  m.register_module("ln_final", lnf);
  add_linear(m, "unembed", v, d, 0.02, gen);

  c10::List<std::string> vocab;
  for (const auto& w : c.vocab) vocab.push_back(w);
  m.register_attribute("vocab", c10::ListType::ofStrings(), vocab);
  m.register_attribute("context_length", c10::IntType::get(), c.context);
  m.register_attribute("width", c10::IntType::get(), c.width);
  m.register_attribute("heads", c10::IntType::get(), c.heads);
  m.register_attribute("n_blocks", c10::IntType::get(), c.blocks);

  std::string calls;
  for (int64_t b = 0; b < c.blocks; ++b) calls += fmt::format("    h = getattr(self.blocks, \"{}\").forward(h, bias)\n", b);
  // The causal mask as an additive bias [1, 1, T, T] (-1e4 above the diagonal,
  // as the text models mask padding): row t sees positions 0..t.
  m.define(R"(
def forward(self, tokens):
    t = tokens.size(1)
    pos = self.pos.narrow(0, 0, t).unsqueeze(0)
    h = self.hook_embed.forward(torch.embedding(self.embed, tokens)) + self.hook_pos_embed.forward(pos)
    bias = torch.triu(torch.full([t, t], -10000.0, device=tokens.device), 1).unsqueeze(0).unsqueeze(0)
)" + calls + R"(
    return torch.linear(self.ln_final.forward(h), self.unembed_weight, self.unembed_bias)
)");
  return m;
}

}  // namespace pipette::stdlib
