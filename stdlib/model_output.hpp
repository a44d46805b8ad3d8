// Models that return several outputs (a tuple, a dict: Hugging Face models
// traced with torchscript=True, a model returning logits and features),
// narrowed to the one tensor pipette's ops read, as a Captum user wraps forward
// in a lambda. model.load's `output=` uses it.
#pragma once

#include <torch/script.h>

#include <optional>
#include <string>

#include "engine/value.hpp"

namespace pipette::stdlib {

// A module whose forward(x) is `m`'s forward(x)[output]: `output` is a dict key
// (a string) or a tuple position (an int, negative from the end). The choice is
// checked against forward's declared return type now, where the type says
// enough (a tuple's length and element types; a dict's key and value types);
// a dict key that is missing at run time is an error listing the keys. `file`
// names the model in errors. The wrapper is a TorchScript module: every op,
// plugin and freezing pass sees one tensor-returning model, and pipette's
// model.save writes it as it is (its `model` submodule is the user's model).
torch::jit::Module with_output(const torch::jit::Module& m, const Value& output, const std::string& file);

// The part of a model's error that says the output chosen by with_output is
// missing (a dict key, a list position), or nullopt when `message` is another
// error. The run-time check is the wrapper's own assert; this finds its text.
std::optional<std::string> missing_output_error(const std::string& message);

// Refuses a model whose forward is declared to return a tuple, list or dict,
// naming the type and the `output=` that picks one.
void check_single_output(const torch::jit::Module& m, const std::string& file);

}  // namespace pipette::stdlib
