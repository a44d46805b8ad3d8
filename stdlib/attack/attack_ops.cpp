// attack.*: adversarial attacks and robustness under perturbations, as Captum's
// captum.robust: FGSM, PGD, AttackComparator (attack.compare) and
// MinParamPerturbation (attack.min_perturbation). The attacks are the SDK's
// (engine/adversarial.hpp), which plugins use too (watermark.pgd).
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <limits>

#include "engine/adversarial.hpp"
#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"
#include "stdlib/attack/attack_inputs.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

OpSignature& attack_params(OpSignature& s) {
  s.input("model", "model", "A classifier: logits [N, K] (probabilities with loss=\"log_prob\")")
      .input("inputs", "tensor", "Inputs [N, ...]")
      .optional("target", "int|tensor",
                "Untargeted: the true labels; targeted: the classes to push towards. One for all or [N]; none: the "
                "model's predictions (untargeted only)")
      .param("targeted", "bool", Operand::boolean(false), "Push the inputs towards `target` instead of away from it")
      .param("loss", "string", Operand::string("auto"),
             "The loss whose gradient the attack follows: cross-entropy on logits, or -log of the output at the "
             "target (Captum's default, for models that return probabilities); auto: log_prob when every output "
             "row of the inputs is non-negative and sums to 1, else cross_entropy")
      .choices({"auto", "cross_entropy", "log_prob"})
      .optional("lower", "float", "The smallest valid input value (images: 0); none: unbounded, as Captum's default")
      .optional("upper", "float", "The largest valid input value (images: 1); none: unbounded")
      .param("zero_threshold", "float", Operand::real(0.0),
             "Elements whose gradient is at most this in magnitude do not move (Captum's FGSM: 1e-6)")
      .range(0.0);
  return s;
}

AttackLoss attack_loss_of(const OpArgs& a, const std::string& name, torch::jit::Module& m, const at::Tensor& x,
                          OpContext& ctx) {
  const std::string& kind = a.string(name);
  if (kind == "log_prob") return AttackLoss::NegLogOutput;
  if (kind == "cross_entropy" || x.dim() == 0 || x.size(0) == 0) return AttackLoss::CrossEntropy;
  // Cross-entropy on a softmax's output would softmax it twice: a weaker,
  // wrong gradient that still looks like an attack.
  at::NoGradGuard no_grad;
  UnloggedPasses probing;
  if (!rows_are_probabilities(logits_of(m, x.slice(0, 0, std::min<int64_t>(x.size(0), 16)))))
    return AttackLoss::CrossEntropy;
  ctx.log(OpContext::Info,
          "the model's outputs are probabilities (rows non-negative, summing to 1): the attack follows -log of the "
          "output at the target (loss=\"cross_entropy\" forces the softmax)");
  return AttackLoss::NegLogOutput;
}

AttackCase attack_case(const OpArgs& a, OpContext& ctx) {
  AttackCase c{model_arg(a, "model", ctx.device), a.tensor("inputs").to(ctx.device), {}, {}};
  if (!c.x.is_floating_point()) throw OpError("inputs must be floating point; they are " + describe(Value(c.x)));
  if (c.x.dim() == 0) throw OpError("inputs must be a batch [N, ...]; they are a scalar");
  c.spec.targeted = a.bool_("targeted");
  if (c.spec.targeted && a.is_none("target"))
    throw OpError("a targeted attack needs target=: the class (or a class per input) to push the inputs towards");
  c.spec.loss = attack_loss_of(a, "loss", c.model, c.x, ctx);
  if (!a.is_none("lower")) c.spec.lower = a.float_("lower");
  if (!a.is_none("upper")) c.spec.upper = a.float_("upper");
  if (!(c.spec.lower < c.spec.upper))
    throw OpError("lower=" + std::to_string(c.spec.lower) + " must be below upper=" + std::to_string(c.spec.upper));
  // Inputs outside the valid range would be moved by the clamp, not by the
  // attack: perturbations larger than the radius, reported as the attack's.
  if (c.x.numel() > 0) {
    double lo = c.x.min().item<double>(), hi = c.x.max().item<double>();
    if (lo < c.spec.lower || hi > c.spec.upper)
      throw OpError("the inputs range from " + std::to_string(lo) + " to " + std::to_string(hi) +
                    ", outside [lower, upper] = [" + std::to_string(c.spec.lower) + ", " +
                    std::to_string(c.spec.upper) + "]: the clamp to that range would move them by more than the attack");
  }
  c.spec.zero_threshold = a.float_("zero_threshold");
  c.target = c.x.size(0) == 0 ? at::empty({0}, c.x.options().dtype(at::kLong)) : targets_for(a, "target", c.model, c.x);
  return c;
}

PgdSpec pgd_spec(const OpArgs& a, const std::string& radius_param) {
  PgdSpec p;
  const std::string norm = a.string("norm");
  p.norm = norm == "l2" ? AttackNorm::L2 : AttackNorm::Linf;
  p.radius = a.float_(radius_param);
  p.steps = a.int_("steps");
  // Madry et al.'s rule, which reaches the ball's surface with room to move along it.
  p.step = a.is_none("step") ? 2.5 * p.radius / static_cast<double>(p.steps) : a.float_("step");
  p.random_start = a.bool_("random_start");
  p.l2_sign_steps = a.string("l2_step") == "sign";
  return p;
}

OpSignature& pgd_params(OpSignature& s) {
  s.param("steps", "int", Operand::integer(10), "Iterations")
      .range(1, 1000000)
      .optional("step", "float", "Step size per iteration; none: 2.5 * radius / steps (Madry et al.)")
      .param("norm", "string", Operand::string("linf"), "The ball: L-infinity or L2 (per input, over all its elements)")
      .choices({"linf", "l2"})
      .param("random_start", "bool", Operand::boolean(false), "Start from a uniform point of the ball (seeded)")
      .param("l2_step", "string", Operand::string("gradient"),
             "norm=\"l2\": step along gradient / ||gradient|| (Madry et al.; foolbox, torchattacks) or along "
             "sign(gradient) and then project, as Captum's PGD does")
      .choices({"gradient", "sign"});
  return s;
}

void register_attack(OpLibrary& lib) {
  OpSignature f("attack.fgsm",
                "Fast gradient sign method (Goodfellow et al., 2015), as Captum's FGSM: x + eps * sign(dL/dx) "
                "away from the true label, or x - eps * sign(dL/dx) towards a target class, clamped to [lower, "
                "upper]. Examples are attacked in chunks under the memory budget.");
  attack_params(f).param("eps", "float", Operand::real(0.03), "The step: every element moves by eps (L-infinity)").range(0.0);
  lib.define(f.returns("tensor", "Adversarial inputs, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    AttackCase c = attack_case(a, ctx);
    return Value(fgsm(c.model, c.x, c.target, a.float_("eps"), c.spec, ctx));
  });

  OpSignature p("attack.pgd",
                "Projected gradient descent (Madry et al., 2018), as Captum's PGD: `steps` gradient steps on the "
                "loss, each followed by a projection onto the radius ball around the input (L-infinity or L2) and a "
                "clamp to [lower, upper]; optionally from a random point of the ball. Examples are attacked in "
                "chunks under the memory budget; progress counts iterations.");
  attack_params(p).param("radius", "float", Operand::real(0.03), "The ball's radius").range(0.0);
  pgd_params(p).stochastic();
  lib.define(p.returns("tensor", "Adversarial inputs, shaped like inputs, within radius of them"),
             [](const OpArgs& a, OpContext& ctx) {
               AttackCase c = attack_case(a, ctx);
               return Value(pgd(c.model, c.x, c.target, c.spec, pgd_spec(a, "radius"), ctx));
             });

  register_attack_evaluation(lib);
}

}  // namespace pipette::stdlib
