// What a run's output directory holds, decided in one place so that the
// compiler can refuse two outputs that would share a file before anything
// runs: report.json, reports/ (tensors of reports), the marker that says the
// directory is a pipette run, and whatever `save`-like ops write.
#pragma once

#include "engine/api.hpp"

#include <optional>
#include <string>

namespace pipette {

// The marker file every run directory gets first; a non-empty --out without it
// is somebody else's directory, and pipette refuses to write there.
inline constexpr const char* kRunMarkerFile = ".pipette-run";

// A report name as a portable file stem: letters, digits, '-', '_' and '.'
// kept, anything else '_'; a long name is cut and ends in a hash of the whole
// name, so that it stays a legal, distinct file name.
PIPETTE_API std::string report_file_stem(const std::string& name);

// Where report NAME's tensors go: reports/STEM.pt when the report holds one
// tensor file, reports/STEM/I.pt (I = 0, 1, ...) when it holds several.
PIPETTE_API std::string report_tensor_file(const std::string& name, size_t index, size_t count);

// A relative output path normalised for comparison ("a/./b" and "a//b" are
// "a/b"); nullopt when it leaves the directory.
PIPETTE_API std::optional<std::string> normalized_output_path(const std::string& rel);

// Why `rel` (normalised) may not be written by an op: it is pipette's own
// (report.json, reports/..., the marker). nullopt when it is free.
PIPETTE_API std::optional<std::string> reserved_output_path(const std::string& rel);

}  // namespace pipette
