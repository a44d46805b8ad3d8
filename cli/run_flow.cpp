#include "cli/run_flow.hpp"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <functional>

#include <fmt/format.h>

#include <spdlog/spdlog.h>

#include "cli/project_dir.hpp"
#include "engine/file_hash.hpp"
#include "engine/atomic_file.hpp"
#include "engine/html_report.hpp"
#include "engine/run_layout.hpp"
#include "engine/run_store.hpp"

namespace pipette::cli {

namespace {

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

// Whether `dir` holds an earlier run: its marker, or the report.json of a run
// from before markers existed.
bool is_run_directory(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / kRunMarkerFile, ec)) return true;
  std::ifstream in(dir / "report.json");
  std::string head(256, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  return head.find("\"format\": \"pipette-report\"") != std::string::npos;
}

}  // namespace

std::optional<std::string> prepare_out_dir(const std::filesystem::path& out, bool force, const std::string& run_id) {
  std::error_code ec;
  if (std::filesystem::exists(out, ec)) {
    if (!std::filesystem::is_directory(out, ec))
      return "--out '" + out.string() + "' is a file, not a directory";
    if (!std::filesystem::is_empty(out, ec) && !is_run_directory(out) && !force)
      return "--out '" + out.string() +
             "' is a directory with files that are not an earlier pipette run's; pipette would overwrite them. "
             "Give a new or empty directory, or --force to write there anyway";
  }
  try {
    write_inside(out, kRunMarkerFile, run_id + "\n");
  } catch (const std::exception& e) {
    return std::string("cannot use --out '") + out.string() + "': " + e.what();
  }
  return std::nullopt;
}


std::string new_run_id(const std::filesystem::path& script) {
  return fmt::format("{}-{}-{:04x}", script.stem().string(), timestamp(),
                     (std::hash<std::string>{}(utc_now_iso()) ^ static_cast<size_t>(::getpid()) ^
                      static_cast<size_t>(std::chrono::steady_clock::now().time_since_epoch().count())) &
                         0xffff);
}

std::vector<std::string> unimplemented_op_errors(const Graph& g, const OpImpls& impls) {
  std::vector<std::string> out;
  for (auto& op : unimplemented_ops(g, impls))
    for (auto& n : g.nodes)
      if (n.op == op) {
        out.push_back(format_node_error(n, "op '" + op + "' has only a signature so far; it cannot run yet"));
        break;
      }
  return out;
}

std::optional<std::string> open_run_cache(std::optional<Cache>& cache, const std::string& dir) {
  cache.emplace(dir.empty() ? default_cache_dir() : std::filesystem::path(dir));
  try {
    cache->prepare();
  } catch (const CacheError& err) {
    return std::string(err.what());
  } catch (const std::exception& err) {
    spdlog::warn("the cache cannot be written ({}); results are not stored", err.what());
  }
  return std::nullopt;
}

RunInfo start_run_info(const std::filesystem::path& script, const std::string& run_id, uint64_t seed,
                       const c10::Device& device, const std::string& executor) {
  RunInfo info;
  info.script = script.string();
  info.script_hash = fmt::format("{:016x}", hash_file(script).value_or(0));
  info.seed = seed;
  info.device = device.str();
  info.started = utc_now_iso();
  info.run_id = run_id;
  info.executor = executor;
  return info;
}

RunRecord record_run(const std::filesystem::path& out, const Graph& g, Execution& e, RunInfo& info) {
  RunRecord r;
  std::optional<RunStore> store;
  try {
    store.emplace(default_run_store());
  } catch (const std::exception& err) {
    r.store_warning = err.what();
  }
  // A node from the cache did not compute: its warnings are those of the run
  // that did, said as such, so that a re-run's report keeps them.
  if (store) {
    std::vector<std::string> keys;
    for (auto& n : g.nodes)
      if (e.nodes[n.id].cached && e.nodes[n.id].warnings.empty()) keys.push_back(e.keys[n.id].hex());
    try {
      auto found = store->warnings_when_computed(keys);
      for (auto& n : g.nodes) {
        auto it = e.nodes[n.id].cached ? found.find(e.keys[n.id].hex()) : found.end();
        if (it == found.end()) continue;
        for (auto& w : it->second.warnings)
          e.nodes[n.id].warnings.push_back("(from the cache; computed in run " + it->second.run_id + ") " + w);
      }
    } catch (const std::exception& err) {
      spdlog::debug("warnings of cached nodes: {}", err.what());
    }
  }
  try {
    r.report = write_run_report(out, g, e, info);
    r.report_written = true;
  } catch (const std::exception& err) {
    if (info.status == "ok") info.status = "failed";
    r.report_error = err.what();
  }
  if (store) {
    try {
      store->record(g, e, info, std::filesystem::absolute(out));
    } catch (const std::exception& err) {
      r.store_warning = err.what();
    }
  }
  // The page last: what it shows is recorded already, whatever becomes of it.
  if (r.report_written) {
    try {
      r.html = write_html_report(out);
    } catch (const std::exception& err) {
      r.html_warning = err.what();
    }
  }
  return r;
}

}  // namespace pipette::cli
