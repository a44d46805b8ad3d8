// pipette's own image diffusion model: a small UNet that predicts the noise
// (DDPM's epsilon objective), its noise schedule stored in the module, DDIM and
// DDPM sampling, DDIM inversion and diffusion purification. The module is
// TorchScript: Python opens it with torch.jit.load and finds forward(x, t), the
// buffer alphas_cumprod and the attributes timesteps, image_channels and
// image_size.
//
// Images at the op boundary are [N, C, H, W] in [0, 1]; the model works in
// [-1, 1]. The UNet is fully convolutional, so a model trained on 32x32 crops
// also denoises larger images (purification of whole photographs).
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <string>
#include <vector>

namespace pipette::stdlib {

struct UNetConfig {
  int64_t channels = 3;     // image channels
  int64_t width = 32;       // channels of the first level (the second has twice as many); a multiple of 8
  int64_t timesteps = 1000;  // T
  std::string schedule = "linear";  // "linear" (DDPM: beta 1e-4 .. 0.02) or "cosine" (Nichol & Dhariwal)
  int64_t image_size = 32;   // the training size, recorded for diffusion.sample's default
};

// abar_t = prod_{i<=t} (1 - beta_i) for t = 0 .. T-1, double: "linear" (DDPM's
// betas 1e-4 .. 0.02 at T = 1000, scaled by 1000/T) or "cosine" (Nichol &
// Dhariwal, s = 0.008, betas capped at 0.999).
at::Tensor noise_schedule(const std::string& schedule, int64_t timesteps);

// A freshly initialised UNet with its schedule.
torch::jit::Module build_unet(const UNetConfig& config, at::Generator gen);

// A diffusion model's schedule, read from the module; throws OpError when the
// module is not one of pipette's diffusion models.
struct DiffusionModel {
  torch::jit::Module module;
  at::Tensor alphas_cumprod;  // [T] double, on the CPU
  int64_t timesteps = 0;
  int64_t channels = 0;
  int64_t image_size = 0;
  explicit DiffusionModel(torch::jit::Module m);

  // The predicted noise for x_t ([-1, 1] space) at integer timestep t.
  at::Tensor epsilon(const at::Tensor& x, int64_t t);
};

// Ascending timesteps tau_0 < ... < tau_{K-1} = top, K at most `steps`:
// tau_i = round((i + 1) * top / K), duplicates dropped.
std::vector<int64_t> timestep_ladder(int64_t top, int64_t steps);

// Called after each model evaluation with (done, total); throws to stop.
using StepHook = std::function<void(int64_t, int64_t)>;

// What predicts the noise of x_t at timestep t: by default the model's
// forward(x, t); a text-to-image sampler passes its guided prediction.
using Denoiser = std::function<at::Tensor(const at::Tensor& x, int64_t t)>;

// Runs the reverse process from x (at the noise level of ladder.back(), [-1, 1]
// space) down to a clean image: DDIM with eta (0 = deterministic, 1 = DDPM's
// ancestral sampler on this ladder). The predicted clean image is clipped to
// [-1, 1] at each step, as DDPM/DDIM samplers do. Returns [-1, 1] images.
at::Tensor reverse_process(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, double eta,
                           at::Generator gen, const StepHook& hook, const Denoiser& denoise = {});

// Deterministic DDIM inversion: from clean images ([-1, 1]) up the ladder to
// the noise that DDIM sampling with the same ladder maps back to them.
at::Tensor ddim_invert(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, const StepHook& hook);

// q(x_t | x_0): sqrt(abar_t) x + sqrt(1 - abar_t) eps.
at::Tensor add_noise(const DiffusionModel& m, const at::Tensor& x, int64_t t, const at::Tensor& eps);

}  // namespace pipette::stdlib
