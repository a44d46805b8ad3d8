// pipette's own classifier architectures, built as TorchScript modules in C++
// so that what pipette trains and saves opens in Python with torch.jit.load.
#pragma once

#include <ATen/core/Generator.h>
#include <torch/script.h>

#include <string>
#include <vector>

namespace pipette::stdlib {

struct ArchShape {
  std::vector<int64_t> input;  // one example, e.g. {1, 28, 28}
  int64_t classes = 10;
};

// "mlp", "cnn" or "resnet", initialised like PyTorch's layers (Kaiming
// uniform) from `gen`. Besides forward(x) -> logits, each module has
// features(x) -> the last hidden activation [N, C, H, W] (cnn, resnet) or
// [N, D] (mlp) and head(h) -> logits, the hook point layer methods use
// (Grad-CAM, layer attributions): forward(x) == head(features(x)).
// A layer's `<name>_weight` and `<name>_bias` parameters, initialised as
// PyTorch's Linear and Conv2d are (uniform in +-1/sqrt(fan_in)).
void add_layer(torch::jit::Module& m, const std::string& name, std::vector<int64_t> weight_shape, at::Generator& gen);

// A named hook point (TransformerLens's HookPoint): an identity submodule
// `name` whose calls are hook points by its path (docs/ops/models.md, "Naming
// convention"). A module that calls self.<name>.forward(v) offers v there,
// also after torch.jit.load in Python. Its class joins `m`'s compilation unit.
void add_hook_point(torch::jit::Module& m, const std::string& name);

// An empty module as torch.jit.script makes one: with the `training` flag,
// in training mode as nn.Module starts.
// With `cu`, the class joins that compilation unit (its name mangled when the
// unit has one already), as the classes of a model torch.jit.load reads do.
torch::jit::Module new_module(const std::string& name,
                              const std::shared_ptr<torch::jit::CompilationUnit>& cu = nullptr);

torch::jit::Module build_architecture(const std::string& arch, const ArchShape& shape, at::Generator gen);

}  // namespace pipette::stdlib
