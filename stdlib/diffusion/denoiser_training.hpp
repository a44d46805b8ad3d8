// The training loop every pipette diffusion model shares: DDPM's epsilon
// objective with Adam, an exponential moving average of the weights, progress,
// cancellation and a clear error when the loss diverges.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/op_impl.hpp"
#include "engine/op_signature.hpp"

namespace pipette::stdlib {

// One step's examples: clean images x0 in [-1, 1] on the device and forward's
// arguments after (x_t, t) — none for the UNet, the caption's tokens for a
// text-to-image model.
struct DenoiserBatch {
  at::Tensor x0;
  std::vector<c10::IValue> extra;
};

struct DenoiserTraining {
  int64_t steps = 2000;
  double lr = 1e-3;
  double ema = 0.999;  // 0 = no averaging
  // The parameters to train, by path (trained_parameters); empty = all. The
  // others stay bitwise as they were, EMA included.
  std::set<std::string> params;
};

// steps, lr, timesteps, schedule and ema (with its default), as every
// diffusion training op declares them; the op reads them into DenoiserTraining.
OpSignature& denoiser_params(OpSignature& s, double ema_default);

// Trains `module` (on ctx.device) in place: each step draws batch(step, gen),
// timesteps and noise from `gen`, and minimises |forward(x_t, t, extra...) -
// eps|^2. With ema > 0 the module ends with the averaged weights. Returns every
// step's loss. Leaves the module in eval mode without gradients.
std::vector<double> train_denoiser(torch::jit::Module& module, const DenoiserTraining& cfg, at::Generator& gen,
                                   OpContext& ctx,
                                   const std::function<DenoiserBatch(int64_t step, at::Generator& gen)>& batch);

// The mean of the last tenth of the losses (at least one).
double tail_mean(const std::vector<double>& losses);

}  // namespace pipette::stdlib
