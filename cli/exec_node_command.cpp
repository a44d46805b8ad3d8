// `pipette exec-node`: one node of a script, as a Slurm job runs it. It
// compiles the script as the driver did (the same --set and seed give the
// same provenance keys), takes the node's inputs from the cache, runs it, and
// stores its value there under the same key. Light nodes it needs that are not
// cached (datasets, which are never stored) it recomputes; any other input
// missing means the cache is not the one the driver wrote: an error saying so.
// Exit statuses: engine/slurm_client.hpp (exec_node_exit).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <variant>

#include "cli/compile_setup.hpp"
#include "cli/plugin_loading.hpp"
#include "cli/plugin_setup.hpp"
#include "cli/run_options.hpp"
#include "engine/atomic_file.hpp"
#include "engine/executor.hpp"
#include "engine/provenance.hpp"
#include "engine/slurm_client.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::cli {

namespace {

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "this node";
  return buf;
}

// Said on stderr (the job's log) and left in error.txt for the driver.
int fail(const ExecNodeArgs& a, int status, const std::string& message, const std::string& shown = {}) {
  std::fprintf(stderr, "pipette exec-node: %s\n", (shown.empty() ? message : shown).c_str());
  try {
    write_inside(std::filesystem::path(a.work_dir), "error.txt", message + "\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipette exec-node: cannot write error.txt in %s: %s\n", a.work_dir.c_str(), e.what());
  }
  return status;
}

}  // namespace

int exec_node_command(const GlobalOptions& g, const ExecNodeArgs& a) {
  using namespace exec_node_exit;
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(a.work_dir) / "error.txt", ec);  // an earlier attempt's
  auto options = compile_options(g);
  if (auto err = parse_sets(a.sets, options.sets)) return fail(a, kUsage, *err);
  auto seed = parse_seed(a.seed);
  if (!seed) return fail(a, kUsage, "--seed expects a whole number, got '" + a.seed + "'");
  auto budget = a.memory_budget.empty() ? std::variant<uint64_t, std::string>(default_memory_budget())
                                        : parse_bytes(a.memory_budget);
  if (auto* err = std::get_if<std::string>(&budget)) return fail(a, kUsage, *err);
  auto device = choose_device(a.device);
  if (!device) return fail(a, kUsage, "--device cuda, but this node's LibTorch sees no CUDA device (a GPU partition?)");

  lang::Compiler compiler(builtin_registry(), options);
  auto graph = compiler.compile_file(a.file);
  std::fputs(compiler.render_diagnostics(false).c_str(), stderr);
  if (!graph) return fail(a, kUsage, "the script " + a.file + " does not compile on " + host_name() + " (see the log)");
  OpLibrary lib = stdlib::library();
  if (!graph->plugins.empty() && !load_declared_plugins(g, *graph, lib))
    return fail(a, kUsage, "a plugin of the script cannot be loaded on " + host_name() + " (see the log)");
  if (a.node >= graph->nodes.size())
    return fail(a, kUsage, "the script has no node n" + std::to_string(a.node) + ": it changed since the driver compiled it");
  const Node& n = graph->nodes[a.node];

  std::filesystem::path script(a.file);
  std::filesystem::path script_dir = script.has_parent_path() ? script.parent_path() : std::filesystem::path(".");
  auto keys = provenance_keys(*graph, lib.ops, script_dir, *seed);
  if (keys[a.node].hex() != a.key)
    return fail(a, kUsage,
                "node n" + std::to_string(a.node) + " (" + n.op + ") has key " + keys[a.node].hex() + " here but " +
                    a.key + " in the driver: the script, its params, a file it reads or pipette itself differ on " +
                    host_name());

  Cache cache(a.cache);
  if (cache.contains(keys[a.node])) {
    std::fprintf(stderr, "pipette exec-node: n%u (%s) is in the cache already; nothing to compute\n", a.node, n.op.c_str());
    return kOk;
  }
  // What would run besides the node must be light: anything else the driver
  // computed and stored, so its absence means another cache.
  auto plan = plan_nodes(*graph, keys, &cache, {a.node});
  for (auto& m : graph->nodes) {
    if (m.id == a.node || plan[m.id] != NodePlan::Run) continue;
    const OpSignature* sig = lib.ops.find(m.op);
    if (sig && sig->is_light()) continue;
    return fail(a, kInputsMissing,
                "input n" + std::to_string(m.id) + " (" + m.op + " at " + m.loc.to_string() + ") is not in the cache " +
                    cache.dir().string() + " as " + host_name() +
                    " sees it, though the driver stored it there: is the cache directory on a filesystem shared by the "
                    "driver and the compute nodes?");
  }

  RunOptions ro;
  ro.jobs = 1;
  // The CPUs Slurm gave the job, not the node's: a job of cpus=1 on a
  // 64-core node computes on one thread (and as a local run of one thread would).
  for (const char* var : {"SLURM_CPUS_PER_TASK", "SLURM_CPUS_ON_NODE"}) {
    const char* v = std::getenv(var);
    if (v && std::atoi(v) > 0) {
      ro.intra_threads = std::atoi(v);
      break;
    }
  }
  ro.seed = *seed;
  ro.device = *device;
  ro.out_dir = std::filesystem::path(a.work_dir) / "out";
  ro.script_dir = script_dir;
  ro.cache = &cache;
  ro.memory_budget = std::get<uint64_t>(budget);
  ro.targets = {a.node};
  ro.log = [](const Node& m, int level, const std::string& msg) {
    std::fprintf(stderr, "%s: %s: n%u %s: %s\n", level >= OpContext::Warn ? "warning" : "info", m.loc.to_string().c_str(),
                 m.id, m.op.c_str(), msg.c_str());
  };
  std::fprintf(stderr, "pipette exec-node: n%u (%s) at %s on %s\n", a.node, n.op.c_str(), n.loc.to_string().c_str(),
               host_name().c_str());
  Execution e = execute(*graph, lib.ops, lib.impls, ro);
  for (auto& m : graph->nodes) {
    const NodeOutcome& o = e.nodes[m.id];
    if (o.status != NodeOutcome::Status::Failed) continue;
    // The driver shows the error at the node's line; the log gets it in full here.
    std::string shown = format_node_error(m, o.error);
    if (m.id == a.node) return fail(a, kOpFailed, o.error, shown);
    return fail(a, kOpFailed, "input n" + std::to_string(m.id) + " (" + m.op + "), recomputed in the job, failed: " + o.error,
                shown);
  }
  if (e.nodes[a.node].status != NodeOutcome::Status::Done)
    return fail(a, kOpFailed, std::string("the node ended ") + status_name(e.nodes[a.node].status));
  if (e.cache_write_failures || !cache.contains(keys[a.node]))
    return fail(a, kCacheUnwritable,
                "n" + std::to_string(a.node) + " was computed, but its result could not be stored in the cache " +
                    cache.dir().string() + " (" + e.nodes[a.node].warning + ")");
  std::fprintf(stderr, "pipette exec-node: n%u done in %.2f s\n", a.node, e.nodes[a.node].seconds);
  return kOk;
}

}  // namespace pipette::cli
