// Model files, for every op and command that opens one: a TorchScript module
// (torch.jit.save) or a program from torch.export.save (`.pt2`), recognised by
// content, not by name. Both come back as a torch::jit::Module that runs,
// clones, moves, trains and offers hook points the same way
// (docs/ops/models.md, "Models from torch.export").
#pragma once

#include <torch/script.h>

#include <string>

#include "engine/api.hpp"

namespace pipette {

// Loads the model at `path`. Throws OpError naming the file and saying what
// to do: a file from a newer PyTorch, a state_dict, an AOTInductor package,
// a program with a construct pipette cannot run (its node and Python line).
PIPETTE_API torch::jit::Module load_model_file(const std::string& path);

// Is `m` (or the model an output= wrapper holds) a program from torch.export?
PIPETTE_API bool is_exported_program(const torch::jit::Module& m);

// For a program from torch.export: its first op whose training flag was fixed
// true at export (dropout on, batch norm on batch statistics), as
// "node 'dropout' (aten::dropout)"; "" otherwise, and for TorchScript models.
PIPETTE_API std::string exported_in_training_mode(const torch::jit::Module& m);

// For a program from torch.export, what was loaded ("exported by torch
// 2.11.0, export schema 8.17, 64 nodes, 30 hook points"); "" otherwise.
PIPETTE_API std::string exported_program_summary(const torch::jit::Module& m);

}  // namespace pipette
