// Values to and from files Python opens: .pt (torch.load / torch.jit.load) and
// .json. Writes are atomic: a crash never leaves half a file behind.
#pragma once

#include "engine/api.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "engine/atomic_file.hpp"
#include "engine/value.hpp"

namespace pipette {

// Stores a tensor too large to inline and returns the path to mention instead.
using TensorSink = std::function<std::optional<std::string>(const at::Tensor&)>;

// Scalars and one-element tensors become numbers; other tensors go to `sink`
// when given ({"file", "shape", "dtype"}), else nested lists.
PIPETTE_API nlohmann::ordered_json value_to_json(const Value& v, const TensorSink& sink = {});

// A value as the bytes of a file named `file_name`, by its extension: .pt
// (tensors, records, lists: torch.load; models: torch.jit.load), .json, .npy
// (tensors: numpy.load), .csv (tables) or .png (images). Throws OpError for
// anything else. Ops write the bytes with OpContext::write_output.
PIPETTE_API std::string encode_value_file(const Value& v, const std::string& file_name);

// encode_value_file, written atomically to `path` (anywhere: tests, benchmarks).
PIPETTE_API void write_value_file(const Value& v, const std::filesystem::path& path);

// Reads a .pt written by torch.save (zip or legacy format) or by pipette.
PIPETTE_API Value read_pt_file(const std::filesystem::path& path);

// A tensor in NumPy's .npy format (version 1.0), readable by numpy.load.
PIPETTE_API std::string tensor_to_npy(const at::Tensor& t);
// PNG bytes: an image [H, W] or [C, H, W] (C = 1, 3, 4; float in [0, 1] or
// uint8), or a batch [N, C, H, W] drawn as a grid.
PIPETTE_API std::string tensor_to_png(const at::Tensor& t);
// JPEG bytes of an image [C, H, W] (C = 1 or 3), for pictures where size
// matters more than exactness (the thumbnails of engine/png_thumbnail.hpp).
PIPETTE_API std::string tensor_to_jpeg(const at::Tensor& t, int quality);
// A table as CSV with a header row. At run time a table is a record of
// equal-length columns (1-D tensors or lists); a 1-D or 2-D tensor is written
// as rows without a header.
PIPETTE_API std::string table_to_csv(const Value& v);

// PyTorch's name for a dtype: "float32", "int64", as torch.float32 prints.
PIPETTE_API std::string dtype_name(at::ScalarType t);

}  // namespace pipette
