// A log of the model passes ops make, for measuring an op against its limit:
// attribution_bench replays the logged passes bare (same model, input shapes,
// count, and whether a backward pass followed) and prints the op's time over
// the replay's. Every pass through logits_of (model_call.hpp) is logged while
// a ModelPassLog exists; nothing is logged otherwise (one atomic load a pass).
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <mutex>
#include <vector>

namespace pipette {

struct ModelPass {
  torch::jit::Module model;  // the module the op called: a frozen copy where it made one
  std::vector<int64_t> input_sizes;
  at::ScalarType dtype;
  at::Device device;
  bool backward;  // made with gradients on, through an input or parameter that wants them
};

// Logs the passes made while it lives, from every thread; one at a time.
class PIPETTE_API ModelPassLog {
 public:
  ModelPassLog();
  ~ModelPassLog();
  ModelPassLog(const ModelPassLog&) = delete;
  ModelPassLog& operator=(const ModelPassLog&) = delete;
  std::vector<ModelPass> passes() const;

  // Called by logits_of.
  static void note(const torch::jit::Module& m, const at::Tensor& x, const at::Tensor& out);

 private:
  mutable std::mutex mutex_;
  std::vector<ModelPass> passes_;
};

// Passes an op makes to learn about the model (its memory per example,
// whether its outputs are probabilities) rather than to compute its answer:
// not logged on this thread while it lives, so that the limit is the passes
// the method needs.
class PIPETTE_API UnloggedPasses {
 public:
  UnloggedPasses();
  ~UnloggedPasses();
  UnloggedPasses(const UnloggedPasses&) = delete;
  UnloggedPasses& operator=(const UnloggedPasses&) = delete;
};

}  // namespace pipette
