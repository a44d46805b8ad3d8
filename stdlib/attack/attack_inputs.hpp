// What every attack.* op reads: the model, the inputs, one target per input,
// and the attack's conventions (engine/adversarial.hpp), from the parameters
// attack_params declares; PGD's own parameters.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>

#include "engine/adversarial.hpp"
#include "engine/op_impl.hpp"
#include "engine/op_library.hpp"

namespace pipette::stdlib {

struct AttackCase {
  torch::jit::Module model;
  at::Tensor x;       // on the node's device
  at::Tensor target;  // [N] int64
  AttackSpec spec;
};

// model, inputs, target, targeted, loss, lower, upper, zero_threshold.
OpSignature& attack_params(OpSignature& s);
// Checks them: a targeted attack without a target, lower >= upper, inputs
// outside [lower, upper] are OpErrors.
AttackCase attack_case(const OpArgs& a, OpContext& ctx);

// The `name` parameter ("auto" | "cross_entropy" | "log_prob") for the model:
// auto is log_prob when the model's outputs on the first inputs are probabilities.
AttackLoss attack_loss_of(const OpArgs& a, const std::string& name, torch::jit::Module& m, const at::Tensor& x,
                          OpContext& ctx);

// steps, step, norm, random_start, l2_step; the radius from `radius_param`.
OpSignature& pgd_params(OpSignature& s);
PgdSpec pgd_spec(const OpArgs& a, const std::string& radius_param);

// attack.compare and attack.min_perturbation (attack_evaluation.cpp).
void register_attack_evaluation(OpLibrary& lib);

}  // namespace pipette::stdlib
