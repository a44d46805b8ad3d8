// Readers for files researchers bring: safetensors, images (PNG/JPEG and the
// other formats stb_image decodes) and numeric CSV tables.
#pragma once

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace pipette::stdlib {

// Every tensor of a .safetensors file, by name (F64, F32, F16, BF16, I64, I32,
// I16, I8, U8, BOOL).
std::map<std::string, at::Tensor> read_safetensors(const std::filesystem::path& path);

// An image as float [C, H, W] in [0, 1] with `channels` = 1 (gray) or 3 (RGB),
// centre-cropped to a square and resized to size x size (size 0: as stored).
at::Tensor read_image(const std::filesystem::path& path, int channels, int64_t size);

// A CSV table with a header row; every cell must be a number.
struct Table {
  std::vector<std::string> columns;
  at::Tensor values;  // [rows, columns], float64
};
Table read_csv(const std::filesystem::path& path);

}  // namespace pipette::stdlib
