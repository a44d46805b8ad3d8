#include "engine/run_report.hpp"

#include <torch/version.h>

#include <chrono>
#include <ctime>
#include <memory>

#include <fmt/format.h>

#include "engine/atomic_file.hpp"
#include "engine/run_layout.hpp"
#include "engine/value_io.hpp"

#ifndef PIPETTE_VERSION
#define PIPETTE_VERSION "unknown"
#endif

namespace pipette {

namespace {
using json = nlohmann::ordered_json;
}  // namespace

size_t report_tensor_count(const Value& v) {
  if (v.isTensor()) return v.toTensor().numel() == 1 ? 0 : 1;
  size_t n = 0;
  if (v.isList())
    for (const auto& it : v.toListRef()) n += report_tensor_count(it);
  if (v.isGenericDict())
    for (const auto& kv : v.toGenericDict()) n += report_tensor_count(kv.value());
  return n;
}

TensorSink report_tensor_sink(const std::string& name, size_t count, TensorWriter write) {
  auto part = std::make_shared<size_t>(0);
  return [part, name, count, write](const at::Tensor& t) -> std::optional<std::string> {
    std::string rel = report_tensor_file(name, (*part)++, count);
    if (write) write(rel, t);
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

std::filesystem::path write_run_report(const std::filesystem::path& out_dir, const Graph& g, Execution& e,
                                       RunInfo& info) {
  DirHandle dir = open_or_create_dir(out_dir);
  // Tensor files first: a report whose file cannot be written is an error of
  // the run, said in report.json itself.
  json reports = json::object();
  std::vector<std::pair<std::string, Value>> written;
  for (auto& [name, value] : e.reports) {
    auto write = [&](const std::string& rel, const at::Tensor& t) { write_inside(dir, rel, encode_value_file(Value(t), rel)); };
    try {
      reports[name] = value_to_json(value, report_tensor_sink(name, report_tensor_count(value), write));
      written.emplace_back(name, value);
    } catch (const std::exception& err) {
      e.report_errors[name] = std::string("could not be written: ") + err.what();
      reports.erase(name);
    }
  }
  e.reports = std::move(written);
  if (!e.report_errors.empty() && info.status == "ok") info.status = "failed";
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
                    {"executor", info.executor},
                    {"status", info.status},
                    {"started", info.started},
                    {"finished", info.finished},
                    {"pipette_version", PIPETTE_VERSION},
                    {"libtorch_version", libtorch_version()},
                    {"plugins", g.plugins}};
  out["reports"] = reports;
  json warnings = json::array();
  for (auto& [loc, message] : info.warnings) warnings.push_back({{"loc", loc}, {"message", message}});
  if (!warnings.empty()) out["warnings"] = warnings;
  out["missing_reports"] = e.missing_reports;
  if (!e.report_errors.empty()) out["report_errors"] = e.report_errors;
  json nodes = json::array();
  for (auto& n : g.nodes) {
    const NodeOutcome& o = e.nodes[n.id];
    json jn{{"id", node_name(n.id)}, {"op", n.op},     {"key", e.keys[n.id].hex()},
            {"loc", n.loc.to_string()},         {"status", status_name(o.status)}, {"seconds", o.seconds}};
    if (o.started >= 0) jn["started"] = o.started;
    if (o.peak_bytes >= 0) jn["peak_bytes"] = o.peak_bytes;
    if (o.cached) jn["cached"] = true;
    if (!o.error.empty()) jn["error"] = o.error;
    if (!o.warnings.empty()) jn["warnings"] = o.warnings;
    if (!o.warning.empty()) jn["warning"] = o.warning;
    if (o.job) jn["job"] = json::parse(job_record_json(*o.job));
    nodes.push_back(std::move(jn));
  }
  out["nodes"] = nodes;
  write_inside(dir, "report.json", out.dump(2, ' ', false, json::error_handler_t::replace) + "\n");
  return out_dir / "report.json";
}

}  // namespace pipette
