// `pipette run`: the four steps of run_steps.hpp, and `pipette cache`.
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
#include "cli/run_steps.hpp"
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

std::optional<int> plan_run(const GlobalOptions& g, const RunArgs& args, RunPlan& p) {
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

  p.graph = std::move(*graph);
  p.lib = stdlib::library();
  p.seed = *seed;
  p.memory_budget = std::get<uint64_t>(budget);
  p.device = *device;
  p.warnings = compile_warnings(compiler);
  if (!p.graph.plugins.empty() && !load_declared_plugins(g, p.graph, p.lib)) {
    std::fprintf(stderr, "nothing was run: a plugin could not be loaded\n");
    return 1;
  }
  if (auto missing = unimplemented_op_errors(p.graph, p.lib.impls); !missing.empty()) {
    for (auto& m : missing) std::fputs(m.c_str(), stderr);
    std::fprintf(stderr, "nothing was run: %zu op%s without an implementation\n", missing.size(),
                 missing.size() == 1 ? "" : "s");
    return 1;
  }

  std::filesystem::path script(args.file);
  p.script_dir = script.has_parent_path() ? script.parent_path() : std::filesystem::path(".");
  if (!args.no_cache) {
    if (auto err = open_run_cache(p.cache, args.cache)) {
      std::fprintf(stderr, "pipette: error: %s\nnothing was run\n", err->c_str());
      return 2;
    }
  }

  if (args.executor == "slurm" && !args.dry_run) {
    auto s = prepare_slurm(g, args, p.graph, p.cache->dir(), p.seed);
    if (auto* err = std::get_if<std::string>(&s)) {
      std::fprintf(stderr, "pipette: error: %s\nnothing was run\n", err->c_str());
      return 2;
    }
    p.slurm = std::move(std::get<SlurmSetup>(s));
  }
  return std::nullopt;
}

void explain_run(const RunPlan& plan, const RunArgs& args) {
  std::vector<Ingredients> ingredients;
  auto keys = provenance_keys(plan.graph, plan.lib.ops, plan.script_dir, plan.seed, &ingredients);
  auto nodes_plan = plan_nodes(plan.graph, keys, plan.cache ? &*plan.cache : nullptr);
  std::vector<bool> will_run(plan.graph.nodes.size());
  size_t hits = 0, runs = 0;
  for (auto& n : plan.graph.nodes) {
    will_run[n.id] = nodes_plan[n.id] == NodePlan::Run;
    runs += will_run[n.id];
    hits += nodes_plan[n.id] == NodePlan::Load || nodes_plan[n.id] == NodePlan::Keep;
  }
  std::vector<std::string> why(plan.graph.nodes.size());
  if (args.explain) {
    std::optional<StoredRun> previous;
    try {
      previous = RunStore(default_run_store()).latest_of(args.file);
    } catch (const std::exception& err) {
      spdlog::warn("cannot read the run store: {}", err.what());
    }
    why = explain_reruns(plan.graph, keys, ingredients, will_run, previous ? &*previous : nullptr);
    if (previous) std::printf("compared with run %s (%s)\n", previous->id.c_str(), previous->status.c_str());
  }
  for (auto& n : plan.graph.nodes) {
    if (!args.dry_run && !will_run[n.id]) continue;
    std::printf("%-8s n%-4u %-28s %s:%u  %s\n", plan_name(nodes_plan[n.id]), n.id, n.op.c_str(),
                n.loc.file.c_str(), n.loc.line, keys[n.id].hex().c_str());
    if (!why[n.id].empty()) std::printf("         why: %s\n", why[n.id].c_str());
  }
  size_t unneeded = plan.graph.nodes.size() - runs - hits;
  std::printf("%zu of %zu nodes would run; %zu come from the cache%s\n", runs, plan.graph.nodes.size(), hits,
              unneeded ? fmt::format("; {} not needed", unneeded).c_str() : "");
  std::fflush(stdout);

}

std::optional<int> execute_run(RunPlan& plan, const RunArgs& args, RunOutcome& r) {
  std::string run_id = new_run_id(std::filesystem::path(args.file));
  std::filesystem::path out =
      args.out.empty() ? project_dir() / "runs" / run_id : std::filesystem::path(args.out);
  if (auto err = prepare_out_dir(out, args.force, run_id)) {
    std::fprintf(stderr, "pipette: error: %s\nnothing was run\n", err->c_str());
    return 2;
  }
  r.out = out;

  spdlog::info("outputs in {}; cache {}; run store {}", out.string(),
               plan.cache ? plan.cache->dir().string() : std::string("off (--no-cache)"), default_run_store().string());

  RunOptions ro;
  ro.jobs = args.jobs;
  ro.seed = plan.seed;
  ro.device = plan.device;
  ro.out_dir = out;
  ro.script_dir = plan.script_dir;
  ro.cancel = &g_interrupted;
  ro.cache = plan.cache ? &*plan.cache : nullptr;
  ro.memory_budget = plan.memory_budget;
  ro.jit_optimize = args.jit_optimize;

  r.info = start_run_info(args.file, run_id, plan.seed, plan.device, args.executor);
  r.info.warnings = plan.warnings;

  std::signal(SIGINT, on_stop_signal);
  std::signal(SIGTERM, on_stop_signal);
  size_t total = plan.graph.nodes.size();
  bool live = args.progress == "live" ||
              (args.progress == "auto" && ::isatty(STDERR_FILENO) && spdlog::should_log(spdlog::level::warn) &&
               std::getenv("TERM") && std::string(std::getenv("TERM")) != "dumb");
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
    if (plan.slurm) {
      plan.slurm->config.say = [&](const Node& n, int level, const std::string& msg) {
        std::string text = fmt::format("{}: n{} {}: {}", n.loc.to_string(), n.id, n.op, msg);
        if (level >= 2) display.message("warning: " + text);
        else if (spdlog::should_log(spdlog::level::info)) display.message("info: " + text);
      };
      executor = std::make_unique<SlurmExecutor>(plan.slurm->tools, plan.slurm->config);
      ro.offload = executor.get();
      spdlog::info("Slurm executor: work directory {}", plan.slurm->config.work_dir.string());
    }
    r.execution = execute(plan.graph, plan.lib.ops, plan.lib.impls, ro, observer);
    if (executor) {
      auto st = executor->stats();
      spdlog::info("Slurm: {} jobs submitted ({} arrays), {} adopted, {} retried, {} cancelled", st.submitted, st.arrays,
                   st.adopted, st.retried, st.cancelled);
    }
  }
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (g_interrupted.load()) r.signal = g_signal.load() ? g_signal.load() : SIGINT;
  return std::nullopt;
}

int record_and_summarize(RunPlan& plan, RunOutcome& outcome) {
  Execution& e = outcome.execution;
  RunInfo& info = outcome.info;
  info.finished = utc_now_iso();
  info.status = outcome.signal ? "interrupted" : e.ok() ? "ok" : "failed";
  RunRecord rec = record_run(outcome.out, plan.graph, e, info);
  if (!rec.report_written) std::fprintf(stderr, "pipette: error: report.json could not be written: %s\n", rec.report_error.c_str());
  if (!rec.store_warning.empty()) spdlog::warn("the run was not recorded in the run store: {}", rec.store_warning);
  if (!rec.html_warning.empty()) spdlog::warn("report.html was not written: {}", rec.html_warning);
  bool report_written = rec.report_written;
  std::filesystem::path report = rec.report;

  std::fprintf(stderr, "%s: %zu nodes: %zu computed, %zu from cache, %zu failed, %zu skipped%s%s; report: %s%s\n",
               info.status.c_str(), plan.graph.nodes.size(), e.computed, e.cached, e.failed, e.skipped,
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
                   outcome.signal ? "the run was stopped before they were computed" : "an input failed",
                   excerpt(names, 2000).c_str());
  }
  for (auto& [name, why] : e.report_errors)
    std::fprintf(stderr, "report '%s' %s\n", excerpt(name).c_str(), why.c_str());
  if (outcome.signal) return 128 + outcome.signal;
  return e.ok() && report_written ? 0 : 1;
}

int run_command(const GlobalOptions& g, const RunArgs& args) {
  RunPlan plan;
  if (auto status = plan_run(g, args, plan)) return *status;
  if (args.dry_run || args.explain) {
    explain_run(plan, args);
    if (args.dry_run) return 0;
  }
  RunOutcome outcome;
  if (auto status = execute_run(plan, args, outcome)) return *status;
  return record_and_summarize(plan, outcome);
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
