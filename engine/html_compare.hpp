// `pipette runs compare A B [C ...]`: runs side by side on one self-contained
// page — provenance, params and reports with their changes against the first
// run, tensors' differences, the pictures each run saved, and each node's
// time (issue 27). The first run is the baseline every delta is taken from.
#pragma once

#include "engine/api.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace pipette {

struct ComparedRun {
  nlohmann::ordered_json report;  // report.json's form: run, reports, nodes
  std::filesystem::path out_dir;  // where its tensor files and pictures are
  bool has_files = true;          // false: out_dir now holds something else (only the record is shown)
  std::string note;               // shown under the run's column, e.g. why its files are not shown
};

// The page as HTML; pictures are linked relative to `page_dir`, where it will be written.
PIPETTE_API std::string compare_page(const std::vector<ComparedRun>& runs, const std::filesystem::path& page_dir);

// The generator <meta> of a compare page: a file that has it may be overwritten.
PIPETTE_API const char* compare_page_generator();

}  // namespace pipette
