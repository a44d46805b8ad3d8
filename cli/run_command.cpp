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
#include <cmath>
#include <ctime>
#include <fstream>
#include <variant>

#include <fmt/format.h>

#include "cli/compile_setup.hpp"
#include "cli/plugin_loading.hpp"
#include "cli/plugin_setup.hpp"
#include "cli/progress_display.hpp"
#include "cli/run_flow.hpp"
#include "cli/run_options.hpp"
#include "cli/slurm_setup.hpp"
#include "cli/project_dir.hpp"
#include "engine/atomic_file.hpp"
#include "engine/explain.hpp"
#include "engine/executor.hpp"
#include "engine/provenance.hpp"
#include "engine/run_layout.hpp"
#include "engine/run_report.hpp"
#include "engine/run_store.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::cli {

namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signal{0};

// SIGINT (Ctrl-C) and SIGTERM (what kill and a cluster's scheduler send) both
// stop the run the same way: nodes not yet started are cancelled, running ones
// stop at their next check, and the run is reported and recorded.
extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_interrupted.store(true);
}

}  // namespace

int run_command(const GlobalOptions& g, const RunArgs& args) {
  if (auto err = executor_option_error(args)) {
    std::fprintf(stderr, "pipette: error: %s\n", err->c_str());
    return 2;
  }
  auto options = compile_options(g);
  if (auto err = parse_sets(args.sets, options.sets)) {
    std::fprintf(stderr, "pipette: error: %s\n", err->c_str());
    return 2;
  }
  auto seed = parse_seed(args.seed);
  if (!seed) {
    std::fprintf(stderr, "pipette: error: --seed expects a whole number from 0 to 9223372036854775807, got '%s'\n",
                 excerpt(args.seed).c_str());
    return 2;
  }
  auto budget = args.memory_budget.empty() ? std::variant<uint64_t, std::string>(default_memory_budget())
                                           : parse_bytes(args.memory_budget);
  if (auto* err = std::get_if<std::string>(&budget)) {
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
  if (auto missing = unimplemented_op_errors(*graph, lib.impls); !missing.empty()) {
    for (auto& m : missing) std::fputs(m.c_str(), stderr);
    std::fprintf(stderr, "nothing was run: %zu op%s without an implementation\n", missing.size(),
                 missing.size() == 1 ? "" : "s");
    return 1;
  }

  std::filesystem::path script(args.file);
  std::filesystem::path script_dir = script.has_parent_path() ? script.parent_path() : std::filesystem::path(".");
  std::optional<Cache> cache;
  if (!args.no_cache) {
    if (auto err = open_run_cache(cache, args.cache)) {
      std::fprintf(stderr, "pipette: error: %s\nnothing was run\n", err->c_str());
      return 2;
    }
  }

  std::optional<SlurmSetup> slurm;
  if (args.executor == "slurm" && !args.dry_run) {
    auto s = prepare_slurm(g, args, *graph, cache->dir(), *seed);
    if (auto* err = std::get_if<std::string>(&s)) {
      std::fprintf(stderr, "pipette: error: %s\nnothing was run\n", err->c_str());
      return 2;
    }
    slurm = std::move(std::get<SlurmSetup>(s));
  }

  if (args.dry_run || args.explain) {
    std::vector<Ingredients> ingredients;
    auto keys = provenance_keys(*graph, lib.ops, script_dir, *seed, &ingredients);
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
        previous = RunStore(default_run_store()).latest_of(args.file);
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

  std::string run_id = new_run_id(script);
  std::filesystem::path out =
      args.out.empty() ? project_dir() / "runs" / run_id : std::filesystem::path(args.out);
  if (auto err = prepare_out_dir(out, args.force, run_id)) {
    std::fprintf(stderr, "pipette: error: %s\nnothing was run\n", err->c_str());
    return 2;
  }

  spdlog::info("outputs in {}; cache {}; run store {}", out.string(),
               cache ? cache->dir().string() : std::string("off (--no-cache)"), default_run_store().string());

  RunOptions ro;
  ro.jobs = args.jobs;
  ro.seed = *seed;
  ro.device = *device;
  ro.out_dir = out;
  ro.script_dir = script_dir;
  ro.cancel = &g_interrupted;
  ro.cache = cache ? &*cache : nullptr;
  ro.memory_budget = std::get<uint64_t>(budget);
  ro.jit_optimize = args.jit_optimize;

  RunInfo info = start_run_info(args.file, run_id, *seed, *device, args.executor);

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  size_t total = graph->nodes.size();
  bool live = args.progress == "live" ||
              (args.progress == "auto" && ::isatty(STDERR_FILENO) && spdlog::should_log(spdlog::level::warn) &&
               std::getenv("TERM") && std::string(std::getenv("TERM")) != "dumb");
  Execution e;
  {
    ProgressDisplay display(total, live);
    auto observer = [&](const Node& n, const NodeOutcome& o) {
      // Said when the node ends (a damaged entry's warning is set before it starts).
      if (!o.warning.empty() && o.status != NodeOutcome::Status::Pending) display.message("warning: " + o.warning);
      if (o.status == NodeOutcome::Status::Failed) display.message(format_node_error(n, o.error));
      display.node_event(n, o);
    };
    ro.progress = [&](const Node& n, uint64_t done, uint64_t all) { display.node_progress(n, done, all); };
    ro.log = [&](const Node& n, int level, const std::string& msg) {
      std::string text = fmt::format("{}: n{} {}: {}", n.loc.to_string(), n.id, n.op, msg);
      if (level >= OpContext::Warn) display.message("warning: " + text);
      else if (level == OpContext::Info && spdlog::should_log(spdlog::level::info)) display.message("info: " + text);
      else spdlog::debug("{}", text);
    };
    std::unique_ptr<SlurmExecutor> executor;
    if (slurm) {
      slurm->config.say = [&](const Node& n, int level, const std::string& msg) {
        std::string text = fmt::format("{}: n{} {}: {}", n.loc.to_string(), n.id, n.op, msg);
        if (level >= 2) display.message("warning: " + text);
        else if (spdlog::should_log(spdlog::level::info)) display.message("info: " + text);
      };
      executor = std::make_unique<SlurmExecutor>(slurm->tools, slurm->config);
      ro.offload = executor.get();
      spdlog::info("Slurm executor: work directory {}", slurm->config.work_dir.string());
    }
    e = execute(*graph, lib.ops, lib.impls, ro, observer);
    if (executor) {
      auto st = executor->stats();
      spdlog::info("Slurm: {} jobs submitted ({} arrays), {} adopted, {} retried, {} cancelled", st.submitted, st.arrays,
                   st.adopted, st.retried, st.cancelled);
    }
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);

  info.finished = utc_now_iso();
  info.status = g_interrupted.load() ? "interrupted" : e.ok() ? "ok" : "failed";
  RunRecord rec = record_run(out, *graph, e, info);
  if (!rec.report_written) std::fprintf(stderr, "pipette: error: report.json could not be written: %s\n", rec.report_error.c_str());
  if (!rec.store_warning.empty()) spdlog::warn("the run was not recorded in the run store: {}", rec.store_warning);
  if (!rec.html_warning.empty()) spdlog::warn("report.html was not written: {}", rec.html_warning);
  bool report_written = rec.report_written;
  std::filesystem::path report = rec.report;

  std::fprintf(stderr, "%s: %zu nodes: %zu computed, %zu from cache, %zu failed, %zu skipped%s%s; report: %s%s\n",
               info.status.c_str(), total, e.computed, e.cached, e.failed, e.skipped,
               e.unneeded ? fmt::format(", {} not needed", e.unneeded).c_str() : "",
               e.cancelled ? fmt::format(", {} cancelled", e.cancelled).c_str() : "",
               report_written ? report.string().c_str() : "not written",
               rec.html.empty() ? "" : (", page: " + rec.html.string()).c_str());
  if (e.cache_write_failures)
    std::fprintf(stderr, "%zu result%s could not be stored in the cache\n", e.cache_write_failures,
                 e.cache_write_failures == 1 ? "" : "s");
  if (!e.missing_reports.empty()) {
    std::string names;
    for (auto& n : e.missing_reports)
      if (!e.report_errors.count(n)) names += (names.empty() ? "" : ", ") + n;
    if (!names.empty())
      std::fprintf(stderr, "not reported (%s): %s\n",
                   g_interrupted.load() ? "the run was stopped before they were computed" : "an input failed",
                   excerpt(names, 2000).c_str());
  }
  for (auto& [name, why] : e.report_errors)
    std::fprintf(stderr, "report '%s' %s\n", excerpt(name).c_str(), why.c_str());
  if (g_interrupted.load()) return 128 + (g_signal.load() ? g_signal.load() : SIGINT);
  return e.ok() && report_written ? 0 : 1;
}

int cache_command(const std::string& action, const std::string& dir) {
  Cache cache(dir);
  try {
    if (action == "stats") {
      auto s = cache.stats();
      std::printf("%s: %zu entries, %.1f MiB\n", dir.c_str(), s.entries, s.bytes / 1048576.0);
      if (s.stale_temp_files)
        std::printf("%zu temporary file%s of writers that died (%.1f MiB): `pipette cache clean` removes them\n",
                    s.stale_temp_files, s.stale_temp_files == 1 ? "" : "s", s.stale_temp_bytes / 1048576.0);
      if (s.live_temp_files) std::printf("%zu entries being written now\n", s.live_temp_files);
      return 0;
    }
    auto c = cache.clean();
    std::printf("%s: removed %zu entries and %zu stale temporary files (%.1f MiB)\n", dir.c_str(), c.entries,
                c.temp_files, c.bytes / 1048576.0);
    if (!c.foreign.empty()) {
      std::printf("left %zu file%s that pipette did not write, e.g. %s\n", c.foreign.size(),
                  c.foreign.size() == 1 ? "" : "s", c.foreign.front().string().c_str());
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipette: error: %s\n", e.what());
    return 2;
  }
}

}  // namespace pipette::cli
