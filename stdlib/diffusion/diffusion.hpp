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

#include "engine/diffusion_sampling.hpp"

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

}  // namespace pipette::stdlib
