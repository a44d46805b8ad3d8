// `pipette run`: compile, execute on oneTBB, write report.json and saved files.
#include <c10/core/Device.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <mutex>

#include <fmt/format.h>

#include "cli/compile_setup.hpp"
#include "cli/plugin_setup.hpp"
#include "engine/executor.hpp"
#include "engine/provenance.hpp"
#include "engine/run_report.hpp"
#include "engine/run_store.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::cli {

namespace {

std::atomic<bool> g_interrupted{false};

extern "C" void on_sigint(int) { g_interrupted.store(true); }

std::string timestamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

std::optional<c10::Device> choose_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  bool cuda = torch::cuda::is_available();
  if (name == "cuda") {
    if (!cuda) return std::nullopt;
    return c10::Device(c10::kCUDA, 0);
  }
  return cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
}

}  // namespace

int run_command(const GlobalOptions& g, const RunArgs& args) {
  auto options = compile_options(g);
  if (auto err = parse_sets(args.sets, options.sets)) {
    std::fprintf(stderr, "pipette: error: %s\n", err->c_str());
    return 2;
  }
  auto device = choose_device(args.device);
  if (!device) {
    std::fprintf(stderr, "pipette: error: --device cuda, but this LibTorch build sees no CUDA device\n");
    return 2;
  }
  lang::Compiler compiler(builtin_registry(), options);
  auto graph = compiler.compile_file(args.file);
  std::fputs(compiler.render_diagnostics(use_color(g, STDERR_FILENO)).c_str(), stderr);
  if (compiler.io_error()) return 2;
  if (!graph) return 1;

  OpLibrary lib = stdlib::library();
  if (!graph->plugins.empty() && !load_declared_plugins(g, *graph, lib)) {
    std::fprintf(stderr, "nothing was run: a plugin could not be loaded\n");
    return 1;
  }
  if (auto missing = unimplemented_ops(*graph, lib.impls); !missing.empty()) {
    for (auto& op : missing) {
      for (auto& n : graph->nodes) {
        if (n.op != op) continue;
        std::fputs(format_node_error(n, "op '" + op + "' has only a signature so far; it cannot run yet").c_str(),
                   stderr);
        break;
      }
    }
    std::fprintf(stderr, "nothing was run: %zu op%s without an implementation\n", missing.size(),
                 missing.size() == 1 ? "" : "s");
    return 1;
  }

  std::filesystem::path script(args.file);
  std::filesystem::path script_dir = script.has_parent_path() ? script.parent_path() : std::filesystem::path(".");
  std::optional<Cache> cache;
  if (!args.no_cache)
    cache.emplace(args.cache.empty() ? script_dir / ".pipette" / "cache" : std::filesystem::path(args.cache));

  if (args.dry_run) {
    auto keys = provenance_keys(*graph, lib.ops, script_dir, args.seed);
    size_t hits = 0;
    for (auto& n : graph->nodes) {
      bool hit = cache && !n.side_effect && cache->contains(keys[n.id]);
      hits += hit;
      std::printf("%-6s n%-4u %-28s %s:%u  %s\n", hit ? "cached" : "run", n.id, n.op.c_str(), n.loc.file.c_str(),
                  n.loc.line, keys[n.id].hex().c_str());
    }
    std::printf("%zu of %zu nodes would run; %zu come from the cache\n", graph->nodes.size() - hits,
                graph->nodes.size(), hits);
    return 0;
  }

  // Unique even for runs started in the same second (a sweep in several shells).
  std::string run_id = fmt::format("{}-{}-{:04x}", script.stem().string(), timestamp(),
                                   (std::hash<std::string>{}(utc_now_iso()) ^ static_cast<size_t>(::getpid()) ^
                                    static_cast<size_t>(std::chrono::steady_clock::now().time_since_epoch().count())) &
                                       0xffff);
  std::filesystem::path out =
      args.out.empty() ? std::filesystem::path("runs") / run_id : std::filesystem::path(args.out);
  std::filesystem::create_directories(out);

  RunOptions ro;
  ro.jobs = args.jobs;
  ro.seed = args.seed;
  ro.device = *device;
  ro.out_dir = out;
  ro.script_dir = script_dir;
  ro.cancel = &g_interrupted;
  ro.cache = cache ? &*cache : nullptr;

  RunInfo info;
  info.script = args.file;
  info.script_hash = fmt::format("{:016x}", hash_file(script).value_or(0));
  info.seed = args.seed;
  info.device = device->str();
  info.started = utc_now_iso();
  info.run_id = run_id;

  std::signal(SIGINT, on_sigint);
  std::mutex log_mutex;
  size_t finished = 0, total = graph->nodes.size();
  auto observer = [&](const Node& n, const NodeOutcome& o) {
    if (o.status == NodeOutcome::Status::Pending) return;
    std::lock_guard<std::mutex> lock(log_mutex);
    ++finished;
    if (!o.warning.empty()) spdlog::warn("{}", o.warning);
    if (o.status == NodeOutcome::Status::Done)
      spdlog::info("[{}/{}] n{} {} ({}:{}) {}", finished, total, n.id, n.op, n.loc.file, n.loc.line,
                   o.cached ? std::string("from cache") : fmt::format("{:.3f} s", o.seconds));
    else if (o.status == NodeOutcome::Status::Failed)
      std::fputs(format_node_error(n, o.error).c_str(), stderr);
  };
  Execution e = execute(*graph, lib.ops, lib.impls, ro, observer);
  std::signal(SIGINT, SIG_DFL);

  info.finished = utc_now_iso();
  info.status = g_interrupted.load() ? "interrupted" : e.ok() ? "ok" : "failed";
  auto report = write_run_report(out, *graph, e, info);
  try {
    RunStore(script_dir / ".pipette" / "runs.db").record(*graph, e, info, out);
  } catch (const std::exception& err) {
    spdlog::warn("the run was not recorded in the run store: {}", err.what());  // report.json has it all
  }

  std::fprintf(stderr, "%s: %zu nodes: %zu computed, %zu from cache, %zu failed, %zu skipped%s; report: %s\n",
               info.status.c_str(), total, e.computed, e.cached, e.failed, e.skipped,
               e.cancelled ? fmt::format(", {} cancelled", e.cancelled).c_str() : "", report.string().c_str());
  if (!e.missing_reports.empty()) {
    std::string names;
    for (auto& n : e.missing_reports) names += (names.empty() ? "" : ", ") + n;
    std::fprintf(stderr, "not reported (an input failed): %s\n", names.c_str());
  }
  if (g_interrupted.load()) return 130;
  return e.ok() ? 0 : 1;
}

int cache_command(const std::string& action, const std::string& dir) {
  Cache cache(dir);
  if (action == "stats") {
    auto s = cache.stats();
    std::printf("%s: %zu entries, %.1f MiB\n", dir.c_str(), s.entries, s.bytes / 1048576.0);
    return 0;
  }
  std::printf("%s: removed %zu entries\n", dir.c_str(), cache.clean());
  return 0;
}

}  // namespace pipette::cli
