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

DiffusionModel::DiffusionModel(torch::jit::Module m) : module(std::move(m)) {
  for (const char* attr : {"alphas_cumprod", "timesteps", "image_channels", "image_size"})
    if (!module.hasattr(attr))
      throw OpError(fmt::format("the model is not a diffusion model: it has no '{}' (train one with diffusion.train)",
                                attr));
  alphas_cumprod = module.attr("alphas_cumprod").toTensor().to(at::kCPU, at::kDouble);
  timesteps = module.attr("timesteps").toInt();
  channels = module.attr("image_channels").toInt();
  image_size = module.attr("image_size").toInt();
}

at::Tensor DiffusionModel::epsilon(const at::Tensor& x, int64_t t) {
  at::Tensor ts = at::full({x.size(0)}, static_cast<double>(t), x.options());
  return module.forward({x, ts}).toTensor();
}

std::vector<int64_t> timestep_ladder(int64_t top, int64_t steps) {
  std::vector<int64_t> ladder;
  steps = std::max<int64_t>(1, std::min(steps, top + 1));
  for (int64_t i = 0; i < steps; ++i) {
    auto t = static_cast<int64_t>(std::llround(static_cast<double>(i + 1) * static_cast<double>(top) /
                                               static_cast<double>(steps)));
    if (ladder.empty() || t > ladder.back()) ladder.push_back(t);
  }
  return ladder;
}

at::Tensor add_noise(const DiffusionModel& m, const at::Tensor& x, int64_t t, const at::Tensor& eps) {
  double a = m.alphas_cumprod[t].item<double>();
  return std::sqrt(a) * x + std::sqrt(1 - a) * eps;
}

at::Tensor reverse_process(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, double eta,
                           at::Generator gen, const StepHook& hook, const Denoiser& denoise) {
  torch::NoGradGuard no_grad;
  auto K = static_cast<int64_t>(ladder.size());
  for (int64_t i = K - 1; i >= 0; --i) {
    double a_t = m.alphas_cumprod[ladder[i]].item<double>();
    double a_prev = i > 0 ? m.alphas_cumprod[ladder[i - 1]].item<double>() : 1.0;
    at::Tensor eps = denoise ? denoise(x, ladder[i]) : m.epsilon(x, ladder[i]);
    at::Tensor x0 = ((x - std::sqrt(1 - a_t) * eps) / std::sqrt(a_t)).clamp(-1, 1);
    // Recompute the noise from the clipped x0 so the two stay consistent.
    eps = (x - std::sqrt(a_t) * x0) / std::sqrt(1 - a_t);
    double sigma = eta * std::sqrt((1 - a_prev) / (1 - a_t)) * std::sqrt(1 - a_t / a_prev);
    x = std::sqrt(a_prev) * x0 + std::sqrt(std::max(1 - a_prev - sigma * sigma, 0.0)) * eps;
    if (sigma > 0) x = x + sigma * at::randn(x.sizes(), gen, x.options().device(at::kCPU)).to(x.device());
    if (hook) hook(K - i, K);
  }
  return x;
}

at::Tensor ddim_invert(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, const StepHook& hook) {
  torch::NoGradGuard no_grad;
  auto K = static_cast<int64_t>(ladder.size());
  for (int64_t i = 0; i < K; ++i) {
    double a_cur = i > 0 ? m.alphas_cumprod[ladder[i - 1]].item<double>() : 1.0;
    double a_next = m.alphas_cumprod[ladder[i]].item<double>();
    // The noise at the next level is not known yet; DDIM inversion uses the
    // prediction at the next timestep from the current point.
    at::Tensor eps = m.epsilon(x, ladder[i]);
    at::Tensor x0 = (x - std::sqrt(1 - a_cur) * eps) / std::sqrt(a_cur);
    x = std::sqrt(a_next) * x0 + std::sqrt(1 - a_next) * eps;
    if (hook) hook(i + 1, K);
  }
  return x;
}

}  // namespace pipette::stdlib
