#include "engine/step_training.hpp"

#include <fmt/format.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <cmath>

#include "engine/hook_points.hpp"
#include "engine/model_arg.hpp"
#include "engine/trained_params.hpp"

namespace pipette {

OpSignature& step_training_params(OpSignature& s, int64_t steps, double lr, int64_t warmup, double weight_decay) {
  return s.param("steps", "int", Operand::integer(steps), "Optimisation steps")
      .range(1)
      .param("lr", "float", Operand::real(lr), "AdamW's peak learning rate")
      .range(0)
      .param("warmup", "int", Operand::integer(warmup), "Steps of linear warm-up to LR")
      .range(0)
      .param("schedule", "string", Operand::string("cosine"), "cosine: decay to LR / 10 by the last step; constant")
      .choices({"cosine", "constant"})
      .param("weight_decay", "float", Operand::real(weight_decay), "AdamW's decoupled weight decay (matrices only)")
      .range(0)
      .param("grad_clip", "float", Operand::real(1.0), "Largest global gradient norm (0 = no clipping)")
      .range(0);
}

StepTraining step_training(const OpArgs& a) {
  StepTraining t;
  t.steps = a.int_("steps");
  t.lr = a.float_("lr");
  t.warmup = a.int_("warmup");
  t.schedule = a.string("schedule");
  t.weight_decay = a.float_("weight_decay");
  t.grad_clip = a.float_("grad_clip");
  return t;
}

double scheduled_lr(const StepTraining& cfg, int64_t s) {
  if (s < cfg.warmup) return cfg.lr * static_cast<double>(s + 1) / static_cast<double>(cfg.warmup);
  if (cfg.schedule == "constant" || cfg.steps <= cfg.warmup + 1) return cfg.lr;
  double p = static_cast<double>(s - cfg.warmup) / static_cast<double>(cfg.steps - cfg.warmup - 1);
  return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + std::cos(M_PI * p)));
}

StepResult train_steps(torch::jit::Module& module, const StepTraining& cfg, OpContext& ctx,
                       const std::function<at::Tensor(int64_t)>& loss, const std::function<bool(int64_t)>& stop) {
  std::set<std::string> chosen = cfg.params;
  if (chosen.empty())
    for (const auto& p : parameters_by_path(module)) chosen.insert(p.first);
  TrainedParameters tp = train_only(module, chosen);
  std::vector<at::Tensor> decayed, plain;
  for (const auto& p : tp.tensors) (p.dim() >= 2 ? decayed : plain).push_back(p);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  if (!decayed.empty())
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(cfg.lr).weight_decay(cfg.weight_decay)));
  if (!plain.empty())
    groups.emplace_back(plain, std::make_unique<torch::optim::AdamWOptions>(torch::optim::AdamWOptions(cfg.lr).weight_decay(0)));
  torch::optim::AdamW opt(groups, torch::optim::AdamWOptions(cfg.lr));
  StepResult r;
  r.trained = tp.paths;
  r.losses.reserve(static_cast<size_t>(cfg.steps));
  size_t next_checkpoint = 0;
  for (int64_t s = 0; s < cfg.steps; ++s) {
    if (ctx.cancelled()) throw OpError("cancelled");
    double lr = scheduled_lr(cfg, s);
    for (auto& g : opt.param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
    at::Tensor l = loss(s);
    double v = l.item<double>();
    if (!std::isfinite(v))
      throw OpError(fmt::format("{}: the loss became {} at step {} of {} (learning rate {:g}): lower lr; no model "
                                "is returned",
                                cfg.what, v, s + 1, cfg.steps, lr));
    opt.zero_grad();
    l.backward();
    if (cfg.grad_clip > 0) torch::nn::utils::clip_grad_norm_(tp.tensors, cfg.grad_clip);
    opt.step();
    r.losses.push_back(v);
    r.steps_run = s + 1;
    while (next_checkpoint < cfg.checkpoints.size() && cfg.checkpoints[next_checkpoint] <= s + 1) {
      if (cfg.checkpoints[next_checkpoint] == s + 1) {
        torch::NoGradGuard no_grad;
        torch::jit::Module copy = clone_model(module);
        for (const auto& p : copy.parameters()) p.requires_grad_(false);
        copy.eval();
        r.checkpoints.push_back(copy);
        r.checkpoint_steps.push_back(s + 1);
      }
      ++next_checkpoint;
    }
    ctx.progress(static_cast<uint64_t>(s + 1), static_cast<uint64_t>(cfg.steps));
    if ((s + 1) % 200 == 0 || s + 1 == cfg.steps)
      ctx.log(OpContext::Info, fmt::format("{}: step {}/{}: loss {:.4f}, lr {:.2e}", cfg.what, s + 1, cfg.steps, v, lr));
    if (stop && stop(s + 1)) {
      ctx.log(OpContext::Info, fmt::format("{}: stopped early after step {}", cfg.what, s + 1));
      break;
    }
  }
  for (const auto& p : module.parameters()) {
    p.requires_grad_(false);
    if (!at::isfinite(p).all().item<bool>())
      throw OpError(cfg.what + ": a parameter is not finite after training: lower lr; no model is returned");
  }
  module.eval();
  return r;
}

}  // namespace pipette
