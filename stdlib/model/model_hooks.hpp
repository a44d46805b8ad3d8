// The table of a model's hook points, as model.hooks returns it and
// `pipette hooks MODEL.pt` prints it.
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace pipette::stdlib {

struct HookRow {
  std::string hook;    // the name layer= and at= take: path or path:input
  // "output" (a submodule call's), "input" (path:input), "method" (a public
  // method's result: features, head), "named" (a hook_* identity submodule of
  // the naming convention, docs/ops/models.md)
  std::string kind;
  std::string module;  // the class of the module called there
  std::string value;   // its TorchScript type
  int64_t calls = 0;   // per forward pass
  std::string shape;   // per example on `inputs` ("[*, 16, 28, 28]"), "" without, "not reached"
};

// What a hook point is (HookRow::kind).
std::string hook_kind(const std::string& path, bool input, const std::string& module_type);

// Every hook point of `m`, in the order a forward pass reaches them; with
// `inputs` (defined), one forward pass of the first two gives their shapes.
std::vector<HookRow> hook_table(const torch::jit::Module& m, const at::Tensor& inputs);

}  // namespace pipette::stdlib
