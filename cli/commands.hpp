// The `pipette` subcommands. Each returns the process exit status:
// 0 success, 1 errors in the input, 2 usage or I/O problems.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pipette {
class RunStore;
}

namespace pipette::cli {

struct GlobalOptions {
  std::vector<std::string> module_path;
  std::string color = "auto";  // auto|always|never
  std::vector<std::string> plugin_path;  // --plugin-path, searched before PIPETTE_PLUGIN_PATH
};

int check_command(const GlobalOptions& g, const std::vector<std::string>& files,
                  const std::vector<std::string>& sets);
int graph_command(const GlobalOptions& g, const std::string& file, const std::string& format,
                  const std::vector<std::string>& sets, const std::string& output);
struct RunArgs {
  std::string file;
  std::vector<std::string> sets;
  std::string out;
  std::string device = "cpu";
  int jobs = 0;
  std::string seed = "0";  // parsed by run_command: a whole number in [0, 2^63)
  bool force = false;      // write into a non-empty --out that is not a pipette run
  std::string cache;  // default: the project's .pipette/cache (cli/project_dir.hpp)
  bool no_cache = false;
  bool dry_run = false;
  bool explain = false;
  bool jit_optimize = false;
  std::string memory_budget;  // e.g. 512M, 2G; default: a quarter of physical memory
  std::string progress = "auto";  // auto|live|plain
  // The executor (docs/cluster.md): local, or slurm with what its jobs get.
  std::string executor = "local";
  std::string partition, account, work_dir;
  std::vector<std::string> slurm_opts;  // K=V: sbatch --K=V
  std::vector<std::string> resources;   // K=V over every job's own
  int retries = -1;                     // -1: the executor's default
  double poll_seconds = -1;             // -1: the executor's default
  double retry_backoff = -1;            // seconds before the first retry; -1: default
};
int run_command(const GlobalOptions& g, const RunArgs& args);

struct RunsArgs {
  std::string action;  // "" (list), show, diff, compare
  std::string a, b;
  std::vector<std::string> ids;  // compare: two or more runs, the first the baseline
  std::string output;            // compare: the page (default: .pipette/compare/...)
  std::string db;  // default: the project's .pipette/runs.db
  size_t limit = 50;
};
int runs_command(const RunsArgs& args);
int runs_compare(const RunStore& store, const RunsArgs& args);  // cli/runs_compare.cpp

// `pipette exec-node`: what a Slurm job runs. One node of a script, its inputs
// from the cache, its output into the cache (cli/exec_node_command.cpp).
struct ExecNodeArgs {
  std::string file;
  std::vector<std::string> sets;
  std::string seed = "0";
  std::string cache;
  std::string device = "cpu";
  std::string memory_budget;
  std::string work_dir;  // where error.txt goes for the driver to read
  uint32_t node = 0;
  std::string key;  // the driver's provenance key for the node, hex
};
int exec_node_command(const GlobalOptions& g, const ExecNodeArgs& args);

int cache_command(const std::string& action, const std::string& dir);

int ops_command(const GlobalOptions& g, const std::string& name, bool verbose);

struct HooksArgs {
  std::string model;   // a TorchScript file
  std::string inputs;  // a .pt tensor of example inputs: shapes per hook point
  std::string output;  // model.load's output=: a dict key or a position
  bool json = false;
};
int hooks_command(const HooksArgs& args);

int fmt_command(const GlobalOptions& g, const std::vector<std::string>& files, bool check);
int editors_command(const GlobalOptions& g, const std::string& out_dir, bool check);
int lsp_command(const GlobalOptions& g);

int plugins_command(const GlobalOptions& g, const std::string& action, const std::string& name);

}  // namespace pipette::cli
