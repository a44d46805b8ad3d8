// `pipette run` as four steps (run_command.cpp strings them together):
//   plan_run     options, compile, plugins, cache, cluster: everything that can
//                refuse before anything runs, and nothing written yet;
//   explain_run  --dry-run and --explain: what would run, and why;
//   execute_run  the output directory claimed, the graph executed with live
//                progress, Ctrl-C and SIGTERM stopping it;
//   record_run   report.json, the run store, report.html (run_flow.hpp), and
//                the summary on stderr.
#pragma once

#include <c10/core/Device.h>

#include <filesystem>
#include <optional>

#include "cli/commands.hpp"
#include "cli/run_flow.hpp"
#include "cli/slurm_setup.hpp"
#include "engine/cache.hpp"
#include "engine/executor.hpp"
#include "engine/graph.hpp"
#include "engine/op_library.hpp"

namespace pipette::cli {

struct RunPlan {
  Graph graph;
  OpLibrary lib;  // the standard library and the plugins the script declares
  uint64_t seed = 0;
  uint64_t memory_budget = 0;
  c10::Device device = c10::Device(c10::kCPU);
  std::filesystem::path script_dir;
  std::optional<Cache> cache;        // none: --no-cache
  std::optional<SlurmSetup> slurm;   // --executor slurm
  std::vector<std::pair<std::string, std::string>> warnings;  // the compiler's (compile_warnings)
};

// Fills `plan`; nullopt when the run can go on, else the exit status to end
// with (why is printed).
std::optional<int> plan_run(const GlobalOptions& g, const RunArgs& args, RunPlan& plan);

// Prints what would run (--dry-run: every node; --explain: why each runs again).
void explain_run(const RunPlan& plan, const RunArgs& args);

struct RunOutcome {
  Execution execution;
  std::filesystem::path out;
  RunInfo info;
  int signal = 0;  // SIGINT or SIGTERM when the run was stopped
};

// Claims the output directory and executes into `outcome`; the exit status
// when it could not start.
std::optional<int> execute_run(RunPlan& plan, const RunArgs& args, RunOutcome& outcome);

// Writes and records the run (run_flow.hpp's record_run) and says how it went;
// the exit status.
int record_and_summarize(RunPlan& plan, RunOutcome& outcome);

}  // namespace pipette::cli
