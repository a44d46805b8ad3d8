// A `.pt2` archive (torch.export.save) as a TorchScript module, so that every
// op and SDK function that takes a model takes it: its parameters and buffers
// are the module's (by the paths Python's named_parameters gives, so params=
// and layer= name them the same), cloning and moving to a device work as for
// any module, and forward(x, ...) runs the program through pt2::run_program,
// an interpreter held by the module as the custom class
// pipette.ExportedProgram. hooked() asks exported_sites() for its hook points.
// Internal to the runtime: engine/model_file.hpp is the SDK's way in.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

#include "engine/hook_points.hpp"

namespace pipette::pt2 {

// Does the file at `path` hold a torch.export archive (archive_format "pt2")?
bool is_pt2_archive(const std::string& path);

// Loads the archive's ExportedProgram. Throws OpError naming the file for an
// archive it cannot read (AOTInductor packages, pickled tensor subclasses) or
// a program it cannot run (pt2_program.hpp).
torch::jit::Module load_pt2(const std::string& path);

// `m` (a loaded program, trained or not) as a `.pt2` archive that
// torch.export.load opens: its program as loaded, its tensors as they are now.
std::string write_pt2(const torch::jit::Module& m);

// Is `m` (the module itself, not a submodule) a loaded ExportedProgram?
bool is_exported(const torch::jit::Module& m);

// The program's first op fixed in training mode, or "" (Program::training_op).
std::string exported_training_op(const torch::jit::Module& m);

// "exported by torch 2.11.0, export schema 8.17, 64 nodes": what was loaded.
std::string exported_summary(const torch::jit::Module& m);

// The program's hook points; and, on a hooked() copy, turning them on,
// named `prefix.path` when the program sits at `prefix` in the model.
std::vector<HookSiteInfo> exported_sites(const torch::jit::Module& m);
void enable_sites(torch::jit::Module& m, const std::string& prefix);

}  // namespace pipette::pt2
