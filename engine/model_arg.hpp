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

// The device of the module's first parameter; `fallback` for a module without any.
PIPETTE_API c10::Device model_device(const torch::jit::Module& m, c10::Device fallback);

}  // namespace pipette
