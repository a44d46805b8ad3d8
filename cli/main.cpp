// `pipette`: a thin command line over lang/, engine/ and stdlib/. The
// executable itself links no LibTorch; the commands that need it are loaded
// from libpipette_commands.so when asked for (runtime_commands.hpp).
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>

#include "cli/commands.hpp"
#include "cli/openmp_policy.hpp"
#include "cli/plugin_setup.hpp"
#include "cli/project_dir.hpp"
#include "cli/runtime_commands.hpp"
#include "stdlib/signatures/builtin_signatures.hpp"

#ifndef PIPETTE_VERSION
#define PIPETTE_VERSION "unknown"
#endif

int main(int argc, char** argv) {
  using namespace pipette::cli;
  // The plugin scanner's helper process (plugin_setup.hpp); not a user command.
  if (argc == 3 && std::string(argv[1]) == "__scan-plugin") {
    try {
      return runtime_commands().scan_plugin(argv[2]);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 3;
    }
  }
  // Past a file-size limit (ulimit -f, a quota) a write fails with EFBIG, which
  // pipette reports and survives like a full disk, instead of being killed.
  std::signal(SIGXFSZ, SIG_IGN);
  CLI::App app{"pipette: ML robustness and interpretability experiments as .pipe scripts"};
  // Which LibTorch: a model file may need a newer one than this build has.
  app.set_version_flag("--version", std::string("pipette ") + PIPETTE_VERSION + " (LibTorch " +
                                        pipette::stdlib::builtin_libtorch_version() + ")");
  app.require_subcommand(0, 1);
  // -v, -q and the other global options also after the command: `pipette run x.pipe -v`.
  app.fallthrough();

  GlobalOptions g;
  int verbosity = 0;
  bool quiet = false;
  app.add_flag("-v,--verbose", verbosity, "More log output (repeat for debug)");
  app.add_flag("-q,--quiet", quiet, "Only errors");
  app.add_option("--module-path", g.module_path, "Directory searched by `import NAME` (repeatable)");
  app.add_option("--plugin-path", g.plugin_path,
                 "Directory searched for plugins before PIPETTE_PLUGIN_PATH (repeatable)");
  app.add_option("--color", g.color, "Colour diagnostics: auto, always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}));

  std::vector<std::string> files, sets;
  auto* check = app.add_subcommand("check", "Parse and type check scripts; print diagnostics");
  check->add_option("files", files, "Scripts to check")->required();
  check->add_option("--set", sets, "Override a param: NAME=VALUE (repeatable)");

  std::string graph_file, format = "dot", output;
  std::vector<std::string> graph_sets;
  auto* graph = app.add_subcommand("graph", "Print the lowered graph of a script (Graphviz DOT or JSON)");
  graph->add_option("file", graph_file, "Script")->required();
  graph->add_option("--format", format, "dot or json")->check(CLI::IsMember({"dot", "json"}));
  graph->add_option("--set", graph_sets, "Override a param: NAME=VALUE (repeatable)");
  graph->add_option("-o,--output", output, "Write to a file instead of standard output");

  RunArgs run_args;
  auto* run = app.add_subcommand("run", "Run a script: execute its graph, write report.json and saved files");
  run->add_option("file", run_args.file, "Script")->required();
  run->add_option("--set", run_args.sets, "Override a param: NAME=VALUE (repeatable)");
  run->add_option("--out", run_args.out, "Output directory (default runs/SCRIPT-TIMESTAMP)");
  run->add_option("--device", run_args.device, "cpu, cuda or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  run->add_option("-j,--jobs", run_args.jobs, "Nodes run at once (default: one per core)")->check(CLI::NonNegativeNumber);
  run->add_option("--seed", run_args.seed, "Run seed, 0 to 2^63-1; every stochastic node derives its own from it");
  run->add_flag("--force", run_args.force,
                "Write into --out even when it is a non-empty directory that is not an earlier run's");
  run->add_option("--cache", run_args.cache, "Cache directory (default: .pipette/cache of the project: the nearest directory upwards with a .pipette/, else this one)");
  run->add_flag("--no-cache", run_args.no_cache, "Compute every node; read and write no cache");
  run->add_flag("--dry-run", run_args.dry_run, "List which nodes would run and which come from the cache");
  run->add_flag("--explain", run_args.explain,
                "Say why each node that runs cannot come from the cache (compared with the last run)");
  run->add_option("--memory-budget", run_args.memory_budget,
                  "Working memory an op may use, e.g. 512M or 2G (default: a quarter of RAM)");
  run->add_flag("--jit-optimize", run_args.jit_optimize,
                "Let TorchScript's profiling executor optimise models (may fuse on GPU; re-profiles each batch shape)");
  run->add_option("--progress", run_args.progress, "auto (live lines on a terminal), live or plain")
      ->check(CLI::IsMember({"auto", "live", "plain"}));

  run->add_option("--executor", run_args.executor, "Where nodes compute: local (default) or slurm (docs/cluster.md)")
      ->check(CLI::IsMember({"local", "slurm"}));
  run->add_option("--partition", run_args.partition, "slurm: the partition jobs go to (default: the cluster's)");
  run->add_option("--account", run_args.account, "slurm: the account jobs are charged to");
  run->add_option("--slurm-opt", run_args.slurm_opts, "slurm: K=V passed to sbatch as --K=V (repeatable)");
  run->add_option("--resources", run_args.resources,
                  "slurm: K=V over every job's own request: cpus, mem, gpus, time, partition (repeatable)");
  run->add_option("--retries", run_args.retries,
                  "slurm: times a job the machine broke (out of memory, node failure, cancelled) is submitted again "
                  "(default 1)")
      ->check(CLI::Range(0, 100));
  run->add_option("--retry-backoff", run_args.retry_backoff, "slurm: seconds before the first retry, doubling (default 10)")
      ->check(CLI::Range(0.0, 86400.0));
  run->add_option("--poll-interval", run_args.poll_seconds, "slurm: seconds between looks at the queue (default 1)")
      ->check(CLI::Range(0.05, 600.0));
  run->add_option("--work-dir", run_args.work_dir,
                  "slurm: shared directory for job scripts and logs (default .pipette/slurm of the project)");

  ExecNodeArgs exec_args;
  auto* exec_node = app.add_subcommand("exec-node", "Run one node of a script from the cache (what a Slurm job runs)");
  exec_node->group("");  // not a user command: hidden from help
  exec_node->add_option("file", exec_args.file, "Script")->required();
  exec_node->add_option("--set", exec_args.sets, "Override a param: NAME=VALUE (repeatable)");
  exec_node->add_option("--seed", exec_args.seed, "The run's seed");
  exec_node->add_option("--cache", exec_args.cache, "The run's cache directory")->required();
  exec_node->add_option("--device", exec_args.device, "cpu, cuda or auto")->check(CLI::IsMember({"cpu", "cuda", "auto"}));
  exec_node->add_option("--memory-budget", exec_args.memory_budget, "Working memory an op may use");
  exec_node->add_option("--work-dir", exec_args.work_dir, "The node's job directory")->required();
  exec_node->add_option("--node", exec_args.node, "The node's id")->required();
  exec_node->add_option("--key", exec_args.key, "The node's provenance key as the driver computed it")->required();

  std::string cache_action, cache_dir;
  auto* cache = app.add_subcommand("cache", "Inspect or empty the result cache");
  cache->add_option("action", cache_action, "stats or clean")->required()->check(CLI::IsMember({"stats", "clean"}));
  cache->add_option("--cache", cache_dir, "Cache directory (default: the project's .pipette/cache)");

  RunsArgs runs_args;
  auto* runs = app.add_subcommand("runs", "List recorded runs; show one; diff two; compare several as a page");
  runs->add_option("--db", runs_args.db, "Run store (default: the project's .pipette/runs.db)");
  runs->add_option("-n,--limit", runs_args.limit, "How many runs to list");
  auto* runs_show = runs->add_subcommand("show", "Everything recorded about one run");
  runs_show->add_option("id", runs_args.a, "Run id (or a unique prefix)")->required();
  auto* runs_diff = runs->add_subcommand("diff", "Compare the params and reports of two runs");
  runs_diff->add_option("a", runs_args.a, "First run")->required();
  runs_diff->add_option("b", runs_args.b, "Second run")->required();
  auto* runs_compare = runs->add_subcommand("compare", "Two or more runs side by side as an HTML page; prints its path");
  runs_compare->add_option("runs", runs_args.ids, "Runs (ids or unique prefixes); the first is the baseline")
      ->required()
      ->expected(2, 26);
  runs_compare->add_option("-o,--output", runs_args.output, "The page (default: .pipette/compare/compare-A--B.html)");

  std::string ns;
  bool ops_verbose = false;
  auto* ops = app.add_subcommand("ops", "List ops with their signatures and documentation; one op in full");
  ops->add_option("name", ns, "A namespace (attr, or a plugin's: prime) or one op (attr.grad_cam)");
  ops->add_flag("-l,--long", ops_verbose, "Document every parameter");

  HooksArgs hooks_args;
  auto* hooks = app.add_subcommand("hooks", "List a model file's hook points (the paths layer= and at= take)");
  hooks->add_option("model", hooks_args.model, "A TorchScript model (.pt)")->required()->check(CLI::ExistingFile);
  hooks->add_option("--inputs", hooks_args.inputs, "A .pt tensor of example inputs: the shape at each hook point")
      ->check(CLI::ExistingFile);
  hooks->add_option("--output", hooks_args.output, "For a model returning a tuple or dict: model.load's output=");
  hooks->add_flag("--json", hooks_args.json, "A JSON array instead of a table");

  std::string plugin_name;
  auto* plugins = app.add_subcommand("plugins", "List plugins; show one plugin's ops");
  plugins->require_subcommand(1);
  plugins->add_subcommand("list", "Every plugin in the search path, with its status");
  auto* plugins_inspect = plugins->add_subcommand("inspect", "A plugin's ops with their signatures and documentation");
  plugins_inspect->add_option("name", plugin_name, "Plugin name")->required();

  std::vector<std::string> fmt_files;
  bool fmt_check = false;
  auto* fmt = app.add_subcommand("fmt", "Rewrite scripts in the canonical layout (`-` reads standard input)");
  fmt->add_option("files", fmt_files, "Scripts to format")->required();
  fmt->add_flag("--check", fmt_check, "Change nothing; list files that are not formatted (exit 1 if any)");

  std::string editors_out = "editors";
  bool editors_check = false;
  auto* editors = app.add_subcommand("editors", "Editor support files (VS Code, Vim, Emacs, Kate)");
  editors->require_subcommand(1);
  auto* editors_generate = editors->add_subcommand("generate", "Write every editor's files from the language and the op registry");
  editors_generate->add_option("--out", editors_out, "The editors/ directory to write (default: ./editors)");
  editors_generate->add_flag("--check", editors_check, "Write nothing; exit 1 if the files there are out of date");

  auto* lsp = app.add_subcommand("lsp", "Serve the Language Server Protocol on standard input/output");

  std::string help_topic;
  auto* help = app.add_subcommand("help", "Show help for pipette or for one command");
  help->add_option("command", help_topic, "A command name");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;  // usage errors are status 2, as documented
  }

  auto logger = spdlog::stderr_color_mt("pipette");
  spdlog::set_default_logger(logger);
  spdlog::set_pattern("%^%l%$: %v");
  spdlog::set_level(quiet ? spdlog::level::err
                          : verbosity >= 2 ? spdlog::level::debug
                          : verbosity == 1 ? spdlog::level::info
                                           : spdlog::level::warn);

  auto dispatch = [&]() -> int {
    if (*check) return check_command(g, files, sets);
    if (*graph) return graph_command(g, graph_file, format, graph_sets, output);
    if (*run) {
      prefer_passive_openmp(run_args.jobs);
      return runtime_commands().run(g, run_args);
    }
    if (*exec_node) return runtime_commands().exec_node(g, exec_args);
    if (*runs) {
      if (*runs_show) runs_args.action = "show";
      if (*runs_diff) runs_args.action = "diff";
      if (*runs_compare) runs_args.action = "compare";
      if (runs_args.db.empty()) runs_args.db = default_run_store().string();
      return runtime_commands().runs(runs_args);
    }
    if (*cache)
      return runtime_commands().cache(cache_action, cache_dir.empty() ? default_cache_dir().string() : cache_dir);
    if (*ops) return ops_command(g, ns, ops_verbose);
    if (*hooks) return runtime_commands().hooks(hooks_args);
    if (*fmt) return fmt_command(g, fmt_files, fmt_check);
    if (*editors) return editors_command(g, editors_out, editors_check);
    if (*lsp) return lsp_command(g);
    if (*plugins) return plugins_command(g, *plugins_inspect ? "inspect" : "list", plugin_name);
    if (*help) {
      if (help_topic.empty()) {
        // app.help() would describe the command that was given: `help` itself.
        std::fputs(app.get_formatter()->make_help(&app, app.get_name(), CLI::AppFormatMode::Normal).c_str(), stdout);
        return 0;
      }
      for (auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
        if (sub->get_name() == help_topic) {
          std::fputs(sub->help().c_str(), stdout);
          return 0;
        }
      }
      std::fprintf(stderr, "pipette: error: no command '%s' (try `pipette help`)\n", help_topic.c_str());
      return 2;
    }
    std::fputs(app.help().c_str(), stdout);
    return 0;
  };
  // No exception ends pipette with abort(): whatever escapes a command is said
  // as an error (status 2, an I/O or usage problem).
  try {
    return dispatch();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipette: error: %s\n", e.what());
    return 2;
  }
}
