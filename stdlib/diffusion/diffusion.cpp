#include "stdlib/diffusion/diffusion.hpp"

#include <fmt/format.h>

#include <cmath>

#include "engine/op_impl.hpp"
#include "stdlib/model/architectures.hpp"

namespace pipette::stdlib {

namespace {

constexpr int64_t kGroups = 8;  // GroupNorm groups: every level's width is a multiple of 8

// A residual block with the time embedding added between its two convolutions
// (DDPM's block without dropout). Its own class name: TorchScript class types
// are per module, and two blocks of different widths must not share one.
torch::jit::Module res_block(const std::string& name, int64_t in, int64_t out, int64_t temb, at::Generator& gen) {
  torch::jit::Module b = new_module("PipetteUNetBlock_" + name);
  b.register_parameter("n1_weight", at::ones({in}).requires_grad_(true), false);
  b.register_parameter("n1_bias", at::zeros({in}).requires_grad_(true), false);
  add_layer(b, "c1", {out, in, 3, 3}, gen);
  add_layer(b, "t", {out, temb}, gen);
  b.register_parameter("n2_weight", at::ones({out}).requires_grad_(true), false);
  b.register_parameter("n2_bias", at::zeros({out}).requires_grad_(true), false);
  add_layer(b, "c2", {out, out, 3, 3}, gen);
  // The block starts as (nearly) the identity: the second convolution's
  // weights at zero, as DDPM's implementation does, for stable early training.
  b.attr("c2_weight").toTensor().detach().zero_();
  std::string skip = "x";
  if (in != out) {
    add_layer(b, "skip", {out, in, 1, 1}, gen);
    skip = "torch.conv2d(x, self.skip_weight, self.skip_bias)";
  }
  add_hook_point(b, "hook_mid");          // after the first convolution and the time embedding
  add_hook_point(b, "hook_resid_post");   // the block's output: skip + residual
  b.define(fmt::format(R"(
def forward(self, x, temb):
    h = torch.silu(torch.group_norm(x, {0}, self.n1_weight, self.n1_bias, 1e-5, False))
    h = torch.conv2d(h, self.c1_weight, self.c1_bias, [1, 1], [1, 1])
    h = self.hook_mid.forward(h + torch.linear(temb, self.t_weight, self.t_bias).unsqueeze(-1).unsqueeze(-1))
    h = torch.silu(torch.group_norm(h, {0}, self.n2_weight, self.n2_bias, 1e-5, False))
    h = torch.conv2d(h, self.c2_weight, self.c2_bias, [1, 1], [1, 1])
    return self.hook_resid_post.forward({1} + h)
)",
                       kGroups, skip));
  return b;
}

}  // namespace

at::Tensor noise_schedule(const std::string& schedule, int64_t T) {
  std::vector<double> betas(static_cast<size_t>(T));
  if (schedule == "linear") {
    // DDPM's 1e-4 .. 0.02 over 1000 steps, scaled so shorter schedules still end in noise.
    double scale = 1000.0 / static_cast<double>(T);
    // Capped below 1 as the cosine schedule is: under 21 timesteps the scaled
    // betas pass 1, 1 - beta turns negative and the noise levels NaN.
    for (int64_t i = 0; i < T; ++i)
      betas[i] = std::min(
          scale * (1e-4 + (0.02 - 1e-4) * static_cast<double>(i) / static_cast<double>(std::max<int64_t>(T - 1, 1))),
          0.999);
  } else if (schedule == "cosine") {
    auto f = [T](double t) {
      double s = 0.008;
      return std::pow(std::cos((t / static_cast<double>(T) + s) / (1 + s) * M_PI / 2), 2);
    };
    for (int64_t i = 0; i < T; ++i)
      betas[i] = std::min(1 - f(static_cast<double>(i + 1)) / f(static_cast<double>(i)), 0.999);
  } else {
    throw OpError("unknown noise schedule '" + schedule + "' (linear or cosine)");
  }
  at::Tensor b = at::tensor(betas, at::kDouble);
  return at::cumprod(1 - b, 0);
}

torch::jit::Module build_unet(const UNetConfig& c, at::Generator gen) {
  if (c.width < 8 || c.width % kGroups)
    throw OpError(fmt::format("width must be a positive multiple of {}, found {}", kGroups, c.width));
  if (c.timesteps < 2) throw OpError(fmt::format("a diffusion needs at least 2 timesteps, found {}", c.timesteps));
  int64_t w = c.width, w2 = 2 * c.width, temb = 4 * c.width;
  torch::jit::Module m = new_module("PipetteUNet");
  // Sinusoidal timestep features (Transformer style), then a two-layer MLP.
  int64_t half = w / 2;
  at::Tensor freqs = at::exp(-std::log(10000.0) * at::arange(half, at::kFloat) / static_cast<double>(half));
  m.register_buffer("time_freqs", freqs);
  add_layer(m, "t1", {temb, w}, gen);
  add_layer(m, "t2", {temb, temb}, gen);
  add_layer(m, "inp", {w, c.channels, 3, 3}, gen);
  m.register_module("down1", res_block("down1", w, w, temb, gen));
  add_layer(m, "ds1", {w, w, 3, 3}, gen);
  m.register_module("down2", res_block("down2", w, w2, temb, gen));
  add_layer(m, "ds2", {w2, w2, 3, 3}, gen);
  m.register_module("mid", res_block("mid", w2, w2, temb, gen));
  m.register_module("up2", res_block("up2", w2 + w2, w2, temb, gen));
  m.register_module("up1", res_block("up1", w2 + w, w, temb, gen));
  m.register_parameter("on_weight", at::ones({w}).requires_grad_(true), false);
  m.register_parameter("on_bias", at::zeros({w}).requires_grad_(true), false);
  add_layer(m, "out", {c.channels, w, 3, 3}, gen);
  m.attr("out_weight").toTensor().detach().zero_();

  add_hook_point(m, "hook_temb");  // the time embedding every block adds
  m.register_buffer("alphas_cumprod", noise_schedule(c.schedule, c.timesteps).to(at::kFloat));
  m.register_attribute("timesteps", c10::IntType::get(), c.timesteps);
  m.register_attribute("image_channels", c10::IntType::get(), c.channels);
  m.register_attribute("image_size", c10::IntType::get(), c.image_size);
  m.register_attribute("schedule", c10::StringType::get(), c.schedule);
  m.define(fmt::format(R"(
def time_embedding(self, t):
    e = t.float().unsqueeze(1) * self.time_freqs.unsqueeze(0)
    e = torch.cat([torch.sin(e), torch.cos(e)], 1)
    return torch.linear(torch.silu(torch.linear(e, self.t1_weight, self.t1_bias)), self.t2_weight, self.t2_bias)

def forward(self, x, t):
    temb = self.hook_temb.forward(self.time_embedding(t))
    h1 = self.down1.forward(torch.conv2d(x, self.inp_weight, self.inp_bias, [1, 1], [1, 1]), temb)
    h2 = self.down2.forward(torch.conv2d(h1, self.ds1_weight, self.ds1_bias, [2, 2], [1, 1]), temb)
    h3 = self.mid.forward(torch.conv2d(h2, self.ds2_weight, self.ds2_bias, [2, 2], [1, 1]), temb)
    u2 = self.up2.forward(torch.cat([torch.upsample_nearest2d(h3, [h2.size(2), h2.size(3)]), h2], 1), temb)
    u1 = self.up1.forward(torch.cat([torch.upsample_nearest2d(u2, [h1.size(2), h1.size(3)]), h1], 1), temb)
    h = torch.silu(torch.group_norm(u1, {0}, self.on_weight, self.on_bias, 1e-5, False))
    return torch.conv2d(h, self.out_weight, self.out_bias, [1, 1], [1, 1])
)",
                       kGroups));
  return m;
}

}  // namespace pipette::stdlib
