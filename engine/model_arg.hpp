// Model arguments, for built-in ops and plugins alike: the one place that turns
// an op's `model` value into a TorchScript module and says where it lives.
#pragma once

#include <torch/script.h>

#include <string>

#include "engine/api.hpp"
#include "engine/op_impl.hpp"

namespace pipette {

// The argument `name` as a module; an OpError naming the argument and what it
// got when it is not a model.
PIPETTE_API torch::jit::Module model_arg(const OpArgs& a, const std::string& name);

// The argument `name` on `device` (the node's: OpContext::device), for every
// op that runs a model, so that `--device cuda` runs plugins' models on the GPU
// as it runs the standard library's. A model that lives elsewhere moves once:
// the moved copy is kept for as long as the model value lives and shared by
// every node that asks for it on that device. The module returned may be shared
// with other nodes: run it, do not change it (clone_model first, as training does).
PIPETTE_API torch::jit::Module model_arg(const OpArgs& a, const std::string& name, c10::Device device);

// A copy of `m` (its own classes; its own tensors, or with `share_tensors`
// the same ones). Every clone of a model goes through here: nodes that share
// a model value clone it on several threads at once, and the clones' classes
// are registered in the model's one compilation unit, which LibTorch does not
// guard (concurrent clones crashed). Serialised by one lock.
PIPETTE_API torch::jit::Module clone_model(const torch::jit::Module& m, bool share_tensors = false);

// The device of the module's first parameter; `fallback` for a module without any.
PIPETTE_API c10::Device model_device(const torch::jit::Module& m, c10::Device fallback);

}  // namespace pipette
