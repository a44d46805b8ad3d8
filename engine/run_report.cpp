#include "engine/run_report.hpp"

#include <torch/version.h>

#include <chrono>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "engine/value_io.hpp"

#ifndef PIPETTE_VERSION
#define PIPETTE_VERSION "unknown"
#endif

namespace pipette {

namespace {
using json = nlohmann::ordered_json;


// Report names become file names: keep them portable.
std::string file_stem(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  return s.empty() ? "report" : s;
}
}  // namespace

TensorSink report_tensor_sink(const std::string& name, const std::filesystem::path* out_dir) {
  auto part = std::make_shared<int>(0);
  std::string stem = file_stem(name);
  std::filesystem::path dir = out_dir ? *out_dir : std::filesystem::path();
  bool write = out_dir != nullptr;
  return [part, stem, dir, write](const at::Tensor& t) -> std::optional<std::string> {
    std::string rel = "reports/" + stem;
    if (*part) rel.append("_").append(std::to_string(*part));
    rel += ".pt";
    ++*part;
    if (write) write_value_file(Value(t), dir / rel);
    return rel;
  };
}

std::string utc_now_iso() {
  // Milliseconds: runs of a sweep often start within one second, and
  // `pipette runs` orders by this.
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms));
}

std::string libtorch_version() {
  return fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
}

std::filesystem::path write_run_report(const std::filesystem::path& out_dir, const Graph& g, const Execution& e,
                                       const RunInfo& info) {
  json out;
  out["format"] = "pipette-report";
  out["format_version"] = 1;
  json params = json::object();
  for (auto& [k, v] : g.params) params[k] = value_to_json(constant_value(v));
  out["run"] = json{{"id", info.run_id},
                    {"script", info.script},
                    {"script_hash", info.script_hash},
                    {"params", params},
                    {"seed", info.seed},
                    {"device", info.device},
                    {"status", info.status},
                    {"started", info.started},
                    {"finished", info.finished},
                    {"pipette_version", PIPETTE_VERSION},
                    {"libtorch_version", libtorch_version()},
                    {"plugins", g.plugins}};
  json reports = json::object();
  for (auto& [name, value] : e.reports) reports[name] = value_to_json(value, report_tensor_sink(name, &out_dir));
  out["reports"] = reports;
  out["missing_reports"] = e.missing_reports;
  if (!e.report_errors.empty()) out["report_errors"] = e.report_errors;
  json nodes = json::array();
  for (auto& n : g.nodes) {
    const NodeOutcome& o = e.nodes[n.id];
    json jn{{"id", node_name(n.id)}, {"op", n.op},     {"key", e.keys[n.id].hex()},
            {"loc", n.loc.to_string()},         {"status", status_name(o.status)}, {"seconds", o.seconds}};
    if (o.cached) jn["cached"] = true;
    if (!o.error.empty()) jn["error"] = o.error;
    nodes.push_back(std::move(jn));
  }
  out["nodes"] = nodes;
  auto path = out_dir / "report.json";
  write_file_atomically(path, out.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  return path;
}

}  // namespace pipette
