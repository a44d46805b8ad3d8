// `pipette run`: compile, execute on oneTBB, write report.json and saved files.
#include <c10/core/Device.h>
#include <spdlog/spdlog.h>
#include <torch/cuda.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

#include "cli/compile_setup.hpp"
#include "cli/plugin_setup.hpp"
#include "cli/progress_display.hpp"
#include "engine/explain.hpp"
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

// "512M", "2G", "1.5G", "800000": bytes. nullopt when malformed.
std::optional<uint64_t> parse_bytes(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || v <= 0) return std::nullopt;
  std::string unit(end);
  double mul = unit.empty() || unit == "B" ? 1
               : unit == "K" || unit == "KiB" ? 1024.0
               : unit == "M" || unit == "MiB" ? 1048576.0
               : unit == "G" || unit == "GiB" ? 1073741824.0
                                              : -1;
  if (mul < 0) return std::nullopt;
  return static_cast<uint64_t>(v * mul);
}

uint64_t default_memory_budget() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4 : (1ull << 30);
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

  std::optional<uint64_t> budget = args.memory_budget.empty() ? default_memory_budget() : parse_bytes(args.memory_budget);
  if (!budget) {
    std::fprintf(stderr, "pipette: error: --memory-budget expects a size such as 512M or 2G, got '%s'\n",
                 args.memory_budget.c_str());
    return 2;
  }

  if (args.dry_run || args.explain) {
    std::vector<Ingredients> ingredients;
    auto keys = provenance_keys(*graph, lib.ops, script_dir, args.seed, &ingredients);
    auto plan = plan_nodes(*graph, keys, cache ? &*cache : nullptr);
    std::vector<bool> will_run(graph->nodes.size());
    size_t hits = 0, runs = 0;
    for (auto& n : graph->nodes) {
      will_run[n.id] = plan[n.id] == NodePlan::Run;
      runs += will_run[n.id];
      hits += plan[n.id] == NodePlan::Load || plan[n.id] == NodePlan::Keep;
    }
    std::vector<std::string> why(graph->nodes.size());
    if (args.explain) {
      std::optional<StoredRun> previous;
      try {
        previous = RunStore(script_dir / ".pipette" / "runs.db").latest_of(args.file);
      } catch (const std::exception& err) {
        spdlog::warn("cannot read the run store: {}", err.what());
      }
      why = explain_reruns(*graph, keys, ingredients, will_run, previous ? &*previous : nullptr);
      if (previous) std::printf("compared with run %s (%s)\n", previous->id.c_str(), previous->status.c_str());
    }
    for (auto& n : graph->nodes) {
      if (!args.dry_run && !will_run[n.id]) continue;
      std::printf("%-8s n%-4u %-28s %s:%u  %s\n", plan_name(plan[n.id]), n.id, n.op.c_str(),
                  n.loc.file.c_str(), n.loc.line, keys[n.id].hex().c_str());
      if (!why[n.id].empty()) std::printf("         why: %s\n", why[n.id].c_str());
    }
    size_t unneeded = graph->nodes.size() - runs - hits;
    std::printf("%zu of %zu nodes would run; %zu come from the cache%s\n", runs, graph->nodes.size(), hits,
                unneeded ? fmt::format("; {} not needed", unneeded).c_str() : "");
    if (args.dry_run) return 0;
    std::fflush(stdout);
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
  ro.memory_budget = *budget;
  ro.jit_optimize = args.jit_optimize;

  RunInfo info;
  info.script = args.file;
  info.script_hash = fmt::format("{:016x}", hash_file(script).value_or(0));
  info.seed = args.seed;
  info.device = device->str();
  info.started = utc_now_iso();
  info.run_id = run_id;

  std::signal(SIGINT, on_sigint);
  size_t total = graph->nodes.size();
  bool live = args.progress == "live" ||
              (args.progress == "auto" && ::isatty(STDERR_FILENO) && spdlog::should_log(spdlog::level::warn) &&
               std::getenv("TERM") && std::string(std::getenv("TERM")) != "dumb");
  Execution e;
  {
    ProgressDisplay display(total, live);
    auto observer = [&](const Node& n, const NodeOutcome& o) {
      if (!o.warning.empty()) display.message("warning: " + o.warning);
      if (o.status == NodeOutcome::Status::Failed) display.message(format_node_error(n, o.error));
      display.node_event(n, o);
    };
    ro.progress = [&](const Node& n, uint64_t done, uint64_t all) { display.node_progress(n, done, all); };
    ro.log = [&](const Node& n, int level, const std::string& msg) {
      std::string text = fmt::format("n{} {}: {}", n.id, n.op, msg);
      if (level >= OpContext::Warn) display.message("warning: " + text);
      else if (level == OpContext::Info && spdlog::should_log(spdlog::level::info)) display.message("info: " + text);
      else spdlog::debug("{}", text);
    };
    e = execute(*graph, lib.ops, lib.impls, ro, observer);
  }
  std::signal(SIGINT, SIG_DFL);

  info.finished = utc_now_iso();
  info.status = g_interrupted.load() ? "interrupted" : e.ok() ? "ok" : "failed";
  auto report = write_run_report(out, *graph, e, info);
  try {
    RunStore(script_dir / ".pipette" / "runs.db").record(*graph, e, info, out);
  } catch (const std::exception& err) {
    spdlog::warn("the run was not recorded in the run store: {}", err.what());  // report.json has it all
  }

  std::fprintf(stderr, "%s: %zu nodes: %zu computed, %zu from cache, %zu failed, %zu skipped%s%s; report: %s\n",
               info.status.c_str(), total, e.computed, e.cached, e.failed, e.skipped,
               e.unneeded ? fmt::format(", {} not needed", e.unneeded).c_str() : "",
               e.cancelled ? fmt::format(", {} cancelled", e.cancelled).c_str() : "", report.string().c_str());
  if (!e.missing_reports.empty()) {
    std::string names;
    for (auto& n : e.missing_reports)
      if (!e.report_errors.count(n)) names += (names.empty() ? "" : ", ") + n;
    if (!names.empty()) std::fprintf(stderr, "not reported (an input failed): %s\n", names.c_str());
  }
  for (auto& [name, why] : e.report_errors) std::fprintf(stderr, "report '%s' could not be read: %s\n", name.c_str(), why.c_str());
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
