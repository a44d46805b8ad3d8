// The steps of a script run that `pipette run` and the Python module share
// (python/): naming the run, claiming its output directory, and recording
// what it did (report.json and the run store). Nothing here prints.
#pragma once

#include <c10/core/Device.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "engine/cache.hpp"

#include "engine/executor.hpp"
#include "engine/run_report.hpp"

namespace pipette::cli {

// "<script stem>-<local time>-<4 hex>": unique even for runs started in the
// same second (a sweep in several shells).
std::string new_run_id(const std::filesystem::path& script);

// The output directory, refused before anything runs when it cannot be one: a
// file, or a non-empty directory that is not an earlier run's (without
// `force`: pipette would overwrite files it did not write). Marked as a run.
std::optional<std::string> prepare_out_dir(const std::filesystem::path& out, bool force, const std::string& run_id);

// One message per op of `g` that has only a signature, at its first node
// (the node's file, line and source): nothing may run while there is one.
std::vector<std::string> unimplemented_op_errors(const Graph& g, const OpImpls& impls);

// Opens the run's cache in `dir` (empty: the project's) into `cache`. An error
// message when it cannot be used at all; a cache that cannot be written
// (read-only, full disk) still serves what it holds, with a warning logged.
std::optional<std::string> open_run_cache(std::optional<Cache>& cache, const std::string& dir);

// The run's provenance as it starts: script and its content hash, seed,
// device, executor, the start time.
RunInfo start_run_info(const std::filesystem::path& script, const std::string& run_id, uint64_t seed,
                       const c10::Device& device, const std::string& executor);

// What record_run wrote, and what it could not.
struct RunRecord {
  std::filesystem::path report;  // report.json, when written
  bool report_written = false;
  std::string report_error;   // why report.json was not written (the run then failed)
  std::string store_warning;  // why the run store did not record it (report.json has it all)
  std::filesystem::path html;  // report.html, when written
  std::string html_warning;    // why report.html was not written (the run is not failed for it)
};

// report.json and report.html in `out`, and a row in the project's run store. What was
// computed is in the cache whatever happens here; a report that cannot be
// written makes an "ok" run "failed".
RunRecord record_run(const std::filesystem::path& out, const Graph& g, Execution& e, RunInfo& info);

}  // namespace pipette::cli
