// Reads NumPy .npy files (format 1.0-3.0; little-endian bool, uint8, int32,
// int64, float32, float64; C order) into tensors.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>

namespace pipette::stdlib {

at::Tensor read_npy(const std::filesystem::path& path);

}  // namespace pipette::stdlib
