// report.json: every reported value plus the provenance of the run, in a form
// Python reads with json.load. Tensors larger than one element are written
// beside it as reports/NAME.pt (torch.load) and referenced by path.
#pragma once

#include "engine/api.hpp"

#include <filesystem>
#include <string>

#include "engine/executor.hpp"
#include "engine/value_io.hpp"

namespace pipette {

struct RunInfo {
  std::string run_id;
  std::string script;
  std::string script_hash;
  uint64_t seed = 0;
  std::string device;
  std::string started, finished;  // ISO 8601, UTC
  std::string status;             // ok | failed | interrupted
};

// Writes out_dir/report.json (and out_dir/reports/*.pt); returns its path.
PIPETTE_API std::filesystem::path write_run_report(const std::filesystem::path& out_dir, const Graph& g, const Execution& e,
                                       const RunInfo& info);

// Where report NAME's tensors go: reports/NAME.pt, then reports/NAME_1.pt, ...
// for several tensors in one report. Writes them under `out_dir` when given.
PIPETTE_API TensorSink report_tensor_sink(const std::string& name, const std::filesystem::path* out_dir);

PIPETTE_API std::string utc_now_iso();
PIPETTE_API std::string libtorch_version();

}  // namespace pipette
