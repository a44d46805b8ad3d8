// The optimisation loop of language-model training and unlearning (train.lm
// and every restor method): AdamW with linear warm-up and a cosine decay,
// gradient clipping, parameters chosen by path (params=), checkpoints as
// copies of the module at chosen steps, progress, cancellation, an optional
// stopping rule, and a loss that is not finite stops with an error (never a
// NaN model). What a step's loss is, the caller says.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/op_impl.hpp"
#include "engine/op_signature.hpp"

namespace pipette {

struct PIPETTE_API StepTraining {
  int64_t steps = 1000;
  double lr = 1e-3;
  int64_t warmup = 0;          // steps of linear warm-up
  std::string schedule = "cosine";  // cosine (to min_lr_ratio * lr) or constant
  double min_lr_ratio = 0.1;
  double weight_decay = 0.0;   // AdamW's, on matrices only (not biases, norms)
  double grad_clip = 1.0;      // max global gradient norm; 0 = none
  std::set<std::string> params;     // by path (trained_parameters); empty = all
  std::vector<int64_t> checkpoints;  // steps after which a copy is kept
  std::string what = "training";     // names the loop in logs and errors
};

// steps, lr, warmup, schedule, weight_decay and grad_clip as ops declare them
// (defaults given), read back with step_training().
PIPETTE_API OpSignature& step_training_params(OpSignature& s, int64_t steps, double lr, int64_t warmup,
                                              double weight_decay);
PIPETTE_API StepTraining step_training(const OpArgs& a);

struct PIPETTE_API StepResult {
  std::vector<double> losses;                 // every step's
  std::vector<torch::jit::Module> checkpoints;  // one per StepTraining::checkpoints entry reached
  std::vector<int64_t> checkpoint_steps;
  std::vector<std::string> trained;           // the paths trained
  int64_t steps_run = 0;                      // fewer than steps when `stop` said so
};

// The learning rate at step s (0-based) of `cfg`'s schedule.
PIPETTE_API double scheduled_lr(const StepTraining& cfg, int64_t s);

// Trains `module` in place on ctx.device: loss(step) returns a scalar with
// gradients; after each step `stop(step + 1)` (when given) may end training
// early. Leaves the module in eval mode without gradients.
PIPETTE_API StepResult train_steps(torch::jit::Module& module, const StepTraining& cfg, OpContext& ctx,
                                   const std::function<at::Tensor(int64_t step)>& loss,
                                   const std::function<bool(int64_t steps_done)>& stop = nullptr);

}  // namespace pipette
