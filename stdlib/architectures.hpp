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
torch::jit::Module build_architecture(const std::string& arch, const ArchShape& shape, at::Generator gen);

}  // namespace pipette::stdlib
