#include "engine/adversarial.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <limits>

#include "engine/chunks.hpp"
#include "engine/model_call.hpp"

namespace pipette {

namespace {

// Gradient blocks: the same estimate per example as attribution's gradient methods.
constexpr int64_t kGradientBytesPerElement = 64;

at::Tensor per_example(const at::Tensor& v, const at::Tensor& like) {
  std::vector<int64_t> shape(static_cast<size_t>(like.dim()), 1);
  shape[0] = like.size(0);
  return v.view(shape);
}

at::Tensor bound(const at::Tensor& x, const AttackSpec& s) {
  if (std::isinf(s.lower) && std::isinf(s.upper)) return x;
  if (std::isinf(s.upper)) return x.clamp_min(s.lower);
  if (std::isinf(s.lower)) return x.clamp_max(s.upper);
  return x.clamp(s.lower, s.upper);
}

// x moved by `size` along the step direction of `grad`: its sign, or (L2) the
// gradient scaled to unit norm per example; up the loss untargeted, down it targeted.
at::Tensor step(const at::Tensor& x, const at::Tensor& grad, double size, const AttackSpec& s, bool normalized) {
  const double sign = s.targeted ? -1.0 : 1.0;
  at::Tensor dir;
  if (normalized) {
    at::Tensor norms = grad.flatten(1).norm(2, {1}).clamp_min(1e-12);
    dir = grad / per_example(norms, grad);
  } else {
    dir = grad.sign();
  }
  at::Tensor moved = x + (sign * size) * dir;
  return s.zero_threshold > 0 ? at::where(grad.abs() > s.zero_threshold, moved, x) : moved;
}

at::Tensor project(const at::Tensor& x0, const at::Tensor& x, const PgdSpec& p) {
  at::Tensor diff = x - x0;
  if (p.norm == AttackNorm::Linf) return x0 + diff.clamp(-p.radius, p.radius);
  // Onto the sphere exactly (torch.renorm, which Captum uses, stops 1e-7 short).
  at::Tensor norms = diff.flatten(1).norm(2, {1});
  at::Tensor scale = (p.radius / norms.clamp_min(1e-30)).clamp_max(1.0);
  return x0 + diff * per_example(scale, diff);
}

at::Tensor random_point(const at::Tensor& x0, const PgdSpec& p, at::Generator& gen) {
  auto cpu = x0.options().device(at::kCPU);
  if (p.norm == AttackNorm::Linf)
    return x0 + (at::rand(x0.sizes(), gen, cpu) * (2 * p.radius) - p.radius).to(x0.device());
  // Uniform in the L2 ball: a uniform direction, a radius distributed as U^(1/d).
  at::Tensor u = at::randn(x0.sizes(), gen, cpu);
  at::Tensor unit = u / per_example(u.flatten(1).norm(2, {1}).clamp_min(1e-12), u);
  double d = static_cast<double>(x0[0].numel());
  at::Tensor r = at::rand({x0.size(0)}, gen, cpu).pow(1.0 / d) * p.radius;
  return x0 + (per_example(r, unit) * unit).to(x0.device());
}

// Examples per gradient chunk under the op's memory budget.
int64_t gradient_chunk(OpContext& ctx, const at::Tensor& x) {
  return items_per_chunk(ctx, kGradientBytesPerElement * static_cast<int64_t>(x[0].numel() * x.element_size()),
                         x.size(0));
}

}  // namespace

at::Tensor attack_loss(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, AttackLoss loss) {
  at::Tensor rows = score_rows(logits_of(m, x));
  if (rows.size(1) < 2)
    throw OpError("attacks need a classifier with at least two outputs per input; this model returns one score (" +
                  per_example_shape(rows) + "): its cross-entropy is constant, so the attack would not move (return "
                  "two logits, [-z, z], for a binary classifier)");
  at::Tensor column = target.view({-1, 1});
  at::Tensor l;
  if (loss == AttackLoss::CrossEntropy) {
    l = -pick_targets(rows.log_softmax(1), column).view({-1});
  } else {
    at::Tensor p = pick_targets(rows, column).view({-1});
    at::Tensor bad = (p < 0) | (p > 1 + 1e-6);
    if (bad.any().item<bool>()) {
      int64_t i = bad.nonzero()[0][0].item<int64_t>();
      throw OpError("loss=\"log_prob\" takes -log of the model's output, which must be a probability; input " +
                    std::to_string(i) + "'s output at its target is " + std::to_string(p[i].item<double>()) +
                    " (a model that returns logits wants loss=\"cross_entropy\")");
    }
    l = -p.clamp_min(std::numeric_limits<float>::min()).log();  // a probability that underflowed to 0
  }
  return l;
}

at::Tensor attack_gradient(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, AttackLoss loss) {
  at::Tensor leaf = x.detach().requires_grad_(true);
  at::Tensor total = attack_loss(m, leaf, target, loss).sum();
  return torch::autograd::grad({total}, {leaf})[0];
}

at::Tensor fgsm(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, double eps, const AttackSpec& spec,
                OpContext& ctx) {
  if (x.size(0) == 0) return x.clone();
  return map_chunks(ctx, x, gradient_chunk(ctx, x), [&](const at::Tensor& xb, int64_t i) {
    at::Tensor g = attack_gradient(m, xb, target.slice(0, i, i + xb.size(0)), spec.loss);
    at::NoGradGuard no_grad;
    return bound(step(xb, g, eps, spec, /*normalized=*/false), spec).detach();
  });
}

at::Tensor pgd(torch::jit::Module& m, const at::Tensor& x0, const at::Tensor& target, const AttackSpec& spec,
               const PgdSpec& p, OpContext& ctx) {
  const int64_t n = x0.size(0);
  if (n == 0) return x0.clone();
  const int64_t per_chunk = gradient_chunk(ctx, x0);
  at::Tensor x = x0.detach().clone();
  if (p.random_start) {
    at::Generator gen = ctx.generator();
    x = bound(random_point(x0, p, gen), spec);
  }
  const bool normalized = p.norm == AttackNorm::L2 && !p.l2_sign_steps;
  for (int64_t t = 0; t < p.steps; ++t) {
    // Each iteration over every chunk: progress counts iterations, whatever the chunking.
    x = map_chunks(
        ctx, x, per_chunk,
        [&](const at::Tensor& xb, int64_t i) {
          at::Tensor x0b = x0.slice(0, i, i + xb.size(0));
          at::Tensor g = attack_gradient(m, xb, target.slice(0, i, i + xb.size(0)), spec.loss);
          at::NoGradGuard no_grad;
          return bound(project(x0b, step(xb, g, p.step, spec, normalized), p), spec).detach();
        },
        ChunkProgress::Quiet);
    ctx.progress(static_cast<uint64_t>(t + 1), static_cast<uint64_t>(p.steps));
  }
  return x;
}

}  // namespace pipette
