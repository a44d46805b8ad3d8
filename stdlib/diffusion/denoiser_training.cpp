#include "stdlib/diffusion/denoiser_training.hpp"

#include <fmt/format.h>
#include <torch/optim/adam.h>

#include <algorithm>
#include <cmath>

#include "engine/hook_points.hpp"
#include "engine/trained_params.hpp"
#include "stdlib/diffusion/diffusion.hpp"

namespace pipette::stdlib {

OpSignature& denoiser_params(OpSignature& s, double ema_default) {
  return s.param("steps", "int", Operand::integer(2000), "Optimisation steps")
      .range(1)
      .param("lr", "float", Operand::real(1e-3), "Adam's learning rate")
      .range(0)
      .param("timesteps", "int", Operand::integer(1000), "Diffusion timesteps T")
      .range(2, 100000)
      .param("schedule", "string", Operand::string("linear"), "Noise schedule: linear (DDPM) or cosine")
      .choices({"linear", "cosine"})
      .param("ema", "float", Operand::real(ema_default), "EMA decay of the weights (0 = no averaging)")
      .range(0.0, 0.99999);
}

std::vector<double> train_denoiser(torch::jit::Module& module, const DenoiserTraining& cfg, at::Generator& gen,
                                   OpContext& ctx,
                                   const std::function<DenoiserBatch(int64_t, at::Generator&)>& batch) {
  DiffusionModel dm(module);
  at::Tensor abar = dm.alphas_cumprod.to(ctx.device, at::kFloat);
  std::set<std::string> chosen = cfg.params;
  if (chosen.empty())
    for (const auto& p : parameters_by_path(module)) chosen.insert(p.first);
  std::vector<at::Tensor> params = train_only(module, chosen).tensors;
  std::vector<at::Tensor> ema;
  for (const auto& p : params) ema.push_back(p.detach().clone());
  torch::optim::Adam opt(params, torch::optim::AdamOptions(cfg.lr));
  std::vector<double> losses;
  losses.reserve(static_cast<size_t>(cfg.steps));
  for (int64_t s = 0; s < cfg.steps; ++s) {
    if (ctx.cancelled()) throw OpError("cancelled");
    DenoiserBatch b = batch(s, gen);
    int64_t n = b.x0.size(0);
    at::Tensor t = at::randint(0, dm.timesteps, {n}, gen, at::kLong);
    at::Tensor eps = at::randn(b.x0.sizes(), gen, at::kFloat).to(ctx.device);
    at::Tensor ab = abar.index_select(0, t.to(ctx.device)).view({-1, 1, 1, 1});
    at::Tensor xt = ab.sqrt() * b.x0 + (1 - ab).sqrt() * eps;
    std::vector<c10::IValue> args{xt, t.to(ctx.device, at::kFloat)};
    args.insert(args.end(), b.extra.begin(), b.extra.end());
    at::Tensor loss = at::mse_loss(module.forward(args).toTensor(), eps);
    double l = loss.item<double>();
    if (!std::isfinite(l))
      throw OpError(fmt::format("the loss became {} at step {}: lower lr (now {})", l, s + 1, cfg.lr));
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(l);
    if (cfg.ema > 0) {
      // The usual warm-up: early averages forget the random initialisation fast.
      double d = std::min(cfg.ema, (1.0 + static_cast<double>(s)) / (10.0 + static_cast<double>(s)));
      torch::NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) ema[i].mul_(d).add_(params[i].detach(), 1 - d);
    }
    ctx.progress(static_cast<uint64_t>(s + 1), static_cast<uint64_t>(cfg.steps));
    if ((s + 1) % 500 == 0 || s + 1 == cfg.steps)
      ctx.log(OpContext::Info, fmt::format("step {}/{}: loss {:.4f}", s + 1, cfg.steps, l));
  }
  if (cfg.ema > 0) {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) params[i].copy_(ema[i]);
  }
  for (const auto& p : module.parameters()) p.requires_grad_(false);
  module.eval();
  return losses;
}

double tail_mean(const std::vector<double>& losses) {
  if (losses.empty()) return 0;
  size_t k = std::max<size_t>(1, losses.size() / 10), start = losses.size() - k;
  double sum = 0;
  for (size_t i = start; i < losses.size(); ++i) sum += losses[i];
  return sum / static_cast<double>(k);
}

}  // namespace pipette::stdlib
