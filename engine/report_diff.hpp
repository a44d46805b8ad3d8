// Reported values of two runs, compared: `pipette runs diff` prints it,
// `pipette runs compare` draws it. Reports are report.json's values; tensors
// written to files are read from each run's directory, since equal file names
// say nothing about equal contents.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace pipette {

// A tensor report.json names by its file: {"file": "reports/...", "shape":
// [ints], "dtype": "..."}, the file below the run's reports/ (a record a
// script reported with keys of those names is data, not a file to open).
PIPETTE_API bool is_report_tensor_file(const nlohmann::ordered_json& value);

// A report's leaves by path: ".acc", ".curves[1]". A tensor written to a file
// and a flat list are one leaf each.
PIPETTE_API void report_leaves(const nlohmann::ordered_json& value, const std::string& path,
                               std::map<std::string, nlohmann::ordered_json>& out);

// A leaf that is a tensor file or a list of numbers. A leaf that is neither is
// an error, said in `why`.
PIPETTE_API std::optional<at::Tensor> report_tensor(const nlohmann::ordered_json& leaf,
                                                    const std::filesystem::path& out_dir, std::string* why);

// Whether a leaf holds values to compare element by element: a tensor file,
// or a list (nested or not) of numbers alone.
PIPETTE_API bool is_tensor_leaf(const nlohmann::ordered_json& leaf);

// How two tensor leaves differ: shape, or the largest absolute and relative
// difference and how many values differ; nullopt when equal (NaN where the
// other has NaN counts as equal).
PIPETTE_API std::optional<std::string> tensor_change(const nlohmann::ordered_json& a, const nlohmann::ordered_json& b,
                                                     const std::filesystem::path& dir_a,
                                                     const std::filesystem::path& dir_b);

}  // namespace pipette
