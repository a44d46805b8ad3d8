// report.json: every reported value plus the provenance of the run, in a form
// Python reads with json.load. Tensors larger than one element are written
// beside it under reports/ (torch.load) and referenced by path.
#pragma once

#include "engine/api.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

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
  std::string executor = "local";  // local | slurm
  // The compiler's warnings about the script: (file:line:col, message).
  std::vector<std::pair<std::string, std::string>> warnings;
};

// Writes report.json (and reports/...) inside `out_dir`. A report whose tensor
// file cannot be written is moved to e.report_errors and the run's status
// becomes failed; everything else is still written. Throws FileWriteError when
// report.json itself cannot be written. Returns its path.
PIPETTE_API std::filesystem::path write_run_report(const std::filesystem::path& out_dir, const Graph& g, Execution& e,
                                                   RunInfo& info);

// How many tensor files a reported value needs: its tensors of other than one
// element (one-element tensors are written inline as numbers).
PIPETTE_API size_t report_tensor_count(const Value& v);

// Names report NAME's tensor files (engine/run_layout.hpp: reports/STEM.pt, or
// reports/STEM/I.pt for several) and, when `write` is given, writes each there.
using TensorWriter = std::function<void(const std::string& rel, const at::Tensor& t)>;
PIPETTE_API TensorSink report_tensor_sink(const std::string& name, size_t count, TensorWriter write = {});

PIPETTE_API std::string utc_now_iso();
PIPETTE_API std::string libtorch_version();

}  // namespace pipette
