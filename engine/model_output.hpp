// Models that return several outputs (a tuple, a dict: Hugging Face models
// traced with torchscript=True, a model returning logits and features),
// narrowed to the one tensor pipette's ops read, as a Captum user wraps forward
// in a lambda. model.load's `output=` uses it.
#pragma once

#include <torch/script.h>

#include "engine/api.hpp"

#include <optional>
#include <string>

#include "engine/value.hpp"

namespace pipette {

// A module whose forward(x) is `m`'s forward(x, *args)[output], as a Captum
// user wraps forward in a lambda. `output` is a dict key (a string), a tuple or
// list position (an int, negative from the end), or none for a model that
// returns one tensor. `args` (none, a list, or a record by keyword) are the
// same for every example: a mask, a timestep, an embedding; tensors among them
// are buffers of the wrapper and move with it. The choice is checked against
// forward's declared types now, where they say enough; a dict key that is
// missing at run time is an error listing the keys. `file` names the model in
// errors. The wrapper is a TorchScript module: every op, plugin and freezing
// pass sees one tensor-returning model, hook paths see through it
// (engine/hook_points.hpp), and model.save writes it as it is (its `model`
// submodule is the user's model).
PIPETTE_API torch::jit::Module with_output(const torch::jit::Module& m, const Value& output, const Value& args,
                                           const std::string& file);

// The part of a model's error that says the output chosen by with_output is
// missing (a dict key, a list position), or nullopt when `message` is another
// error. The run-time check is the wrapper's own assert; this finds its text.
PIPETTE_API std::optional<std::string> missing_output_error(const std::string& message);

// Refuses a model whose forward is declared to return a tuple, list or dict,
// naming the type and the `output=` that picks one.
PIPETTE_API void check_single_output(const torch::jit::Module& m, const std::string& file);

}  // namespace pipette
