// Runs a graph: every node whose inputs are ready runs concurrently on oneTBB,
// up to `jobs` at a time. A failing node fails only what depends on it; other
// branches finish. A value is released as soon as its last consumer is done.
#pragma once

#include "engine/api.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/cache.hpp"
#include "engine/graph.hpp"
#include "engine/offload.hpp"
#include "engine/op_impl.hpp"
#include "engine/op_registry.hpp"
#include "engine/provenance.hpp"

namespace pipette {

struct RunOptions {
  int jobs = 0;  // concurrent nodes; 0 = one per core
  int intra_threads = 0;  // LibTorch's intra-op threads; 0 = cores / jobs
  uint64_t seed = 0;
  c10::Device device = c10::Device(c10::kCPU);
  std::filesystem::path out_dir;
  std::filesystem::path script_dir;
  const std::atomic<bool>* cancel = nullptr;
  const Cache* cache = nullptr;  // none: compute everything, store nothing
  uint64_t memory_budget = 0;    // passed to every op's context (OpContext::memory_budget)
  // TorchScript's profiling executor for the models ops call. Off by default:
  // it profiles and re-specialises a model for every new batch shape (chunks
  // have many), costing 50-200 ms per freshly loaded model, and on CPU it
  // fuses nothing. On GPU it may fuse elementwise ops; --jit-optimize.
  bool jit_optimize = false;
  // Called from worker threads: an op's progress, and its log messages.
  std::function<void(const Node&, uint64_t done, uint64_t total)> progress;
  std::function<void(const Node&, int level, const std::string& message)> log;
  // Nodes it takes are computed elsewhere (a Slurm job each) and loaded from
  // the cache when done; needs `cache`. None: every node computes here.
  NodeOffload* offload = nullptr;
  // What the run must compute: these nodes (and what they need). Empty: the
  // script's reports and side effects. `pipette exec-node` runs one node so.
  std::vector<uint32_t> targets;
};

struct NodeOutcome {
  // Unneeded: not in the cache, but nothing needs its value either, because
  // everything that reads it came from the cache (e.g. a dataset opened only
  // for a model that is already trained).
  enum class Status { Pending, Done, Failed, Skipped, Cancelled, Unneeded };
  Status status = Status::Pending;
  double seconds = 0;
  // When it started computing, in seconds from the start of the run (the
  // report's timeline); -1 when it did not compute (cached, skipped, failed
  // before it started).
  double started = -1;
  std::string error;  // what the op said, for Failed
  bool cached = false;  // Done from the cache (loaded only when a consumer needs the value)
  std::string warning;  // e.g. a damaged cache entry that was recomputed
  // What the op said at warning level while it computed (OpContext::log),
  // in order, at most 20: report.json and report.html show them at the node's
  // line. A node from the cache did not compute, and has none.
  std::vector<std::string> warnings;
  // Extra memory the node needed at its peak, in bytes; -1 when unknown. CPU:
  // resident set high-water mark over the node, measured when nodes run one at a
  // time (--jobs 1); CUDA: the caching allocator's peak.
  int64_t peak_bytes = -1;
  std::optional<JobRecord> job;  // where an offloaded node ran (RunOptions::offload)
};

struct Execution {
  std::vector<NodeKey> keys;
  std::vector<Ingredients> ingredients;  // what each key was made of (--explain)
  std::vector<NodeOutcome> nodes;
  std::vector<std::pair<std::string, Value>> reports;  // the reports that could be computed
  std::vector<std::string> missing_reports;            // names whose inputs failed
  // Why a missing report could not be read although its inputs ran (e.g. a
  // dataset field whose files do not decode), by report name.
  std::map<std::string, std::string> report_errors;
  size_t failed = 0, skipped = 0, cancelled = 0, cached = 0, computed = 0, unneeded = 0;
  size_t cache_write_failures = 0;  // results that could not be stored in the cache (the run went on)
  bool ok() const { return failed == 0 && cancelled == 0 && report_errors.empty(); }
};

// "done", "failed", ... as report.json and the run store write them.
PIPETTE_API const char* status_name(NodeOutcome::Status s);

// Called from worker threads when a node starts (outcome Pending) and ends.
using NodeObserver = std::function<void(const Node&, const NodeOutcome&)>;

// What a run will do with each node, decided before any op runs, from the cache
// alone: Load and Keep are cache hits (Keep: nothing reads the value, so it is
// not even loaded); Run computes; Unneeded is neither cached nor needed.
// Reports and side effects (save) are what a run needs; a node is needed when a
// needed consumer has to run. Without a cache every node runs.
enum class NodePlan { Run, Load, Keep, Unneeded };
// `targets`, when not empty, replaces the reports and side effects as what is needed.
PIPETTE_API std::vector<NodePlan> plan_nodes(const Graph& g, const std::vector<NodeKey>& keys, const Cache* cache,
                                             const std::vector<uint32_t>& targets = {});
PIPETTE_API const char* plan_name(NodePlan p);  // "run", "cached", "cached", "unneeded"

// Ops without an implementation, by name (each once), so a run can refuse early.
PIPETTE_API std::vector<std::string> unimplemented_ops(const Graph& g, const OpImpls& impls);

PIPETTE_API Execution execute(const Graph& g, const OpRegistry& ops, const OpImpls& impls, const RunOptions& options,
                  const NodeObserver& observer = {});

// "file:line:col: error: in node n3 (attr.saliency): MESSAGE", the source line
// and a caret, then the pipeline call sites it was inlined from.
PIPETTE_API std::string format_node_error(const Node& n, const std::string& message);

}  // namespace pipette
