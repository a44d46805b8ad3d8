// Gradient attacks on a classifier: the one FGSM and PGD that the standard
// library's attack.* and plugins (watermark.pgd) use. Conventions follow
// Captum's captum.robust so that its users get the same numbers: the loss of
// each example's target is differentiated (summed over the batch, so every
// row's gradient is its own loss's), an untargeted step climbs that loss on the
// true label and a targeted one descends it on the target class, elements whose
// gradient is at most `zero_threshold` in magnitude do not move, and every
// step ends with a projection onto the ball around the original input and a
// clamp to the inputs' valid range.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <limits>

#include "engine/op_impl.hpp"

namespace pipette {

enum class AttackNorm { Linf, L2 };

enum class AttackLoss {
  CrossEntropy,  // -log softmax(logits)[target]: for models that return logits (pipette's, most PyTorch ones)
  NegLogOutput,  // -log output[target]: Captum's default, for models that return probabilities
};

struct AttackSpec {
  AttackLoss loss = AttackLoss::CrossEntropy;
  bool targeted = false;
  double lower = -std::numeric_limits<double>::infinity();  // the inputs' valid range (images: 0 and 1)
  double upper = std::numeric_limits<double>::infinity();
  double zero_threshold = 0;  // Captum's FGSM uses 1e-6
};

struct PgdSpec {
  AttackNorm norm = AttackNorm::Linf;
  double radius = 0;  // of the ball around each input
  double step = 0;    // per iteration
  int64_t steps = 1;
  bool random_start = false;  // a uniform point of the ball first (Captum's _random_point)
  // L2 only: step along sign(gradient), as Captum's PGD does for every norm,
  // instead of along gradient / ||gradient|| (Madry et al.; foolbox, torchattacks).
  bool l2_sign_steps = false;
};

// The attack loss of every example's target [N] (not reduced), with the
// model's outputs as score rows; an OpError for a loss that is not finite
// (NegLogOutput on a model that does not return probabilities).
PIPETTE_API at::Tensor attack_loss(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, AttackLoss loss);

// d attack_loss / dx, one example's loss per row.
PIPETTE_API at::Tensor attack_gradient(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target,
                                       AttackLoss loss);

// One FGSM step (Goodfellow et al., 2015): x + eps * sign(gradient) untargeted,
// x - eps * sign(gradient) targeted, clamped to the valid range; examples in
// chunks under the op's memory budget.
PIPETTE_API at::Tensor fgsm(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, double eps,
                            const AttackSpec& spec, OpContext& ctx);

// PGD (Madry et al., 2018). Examples are attacked in chunks under the op's
// memory budget; progress is reported per iteration; the random start draws
// from the op's generator.
PIPETTE_API at::Tensor pgd(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, const AttackSpec& spec,
                           const PgdSpec& pgd, OpContext& ctx);

}  // namespace pipette
