// Nodes computed outside this process (issue 25: a Slurm job per node). The
// executor hands such a node to a NodeOffload instead of calling its op; the
// offload makes the node's value appear in the run's cache under the node's
// key, and the executor then loads it as it loads any cache hit. So resume,
// the cache and the run store work the same whichever executor computed a node.
#pragma once

#include <functional>
#include <string>

#include "engine/api.hpp"
#include "engine/graph.hpp"
#include "engine/op_signature.hpp"
#include "engine/provenance.hpp"

namespace pipette {

// Where and how an offloaded node ran, as report.json and the run store keep it.
struct JobRecord {
  std::string executor;  // "slurm"
  std::string job_id;    // "1234", or "1234_5" for an array task
  std::string host;      // the node it ran on
  std::string state;     // the scheduler's last word: COMPLETED, FAILED, OUT_OF_MEMORY, ...
  int exit_code = 0;
  int attempts = 0;      // submissions, retries included
  double queue_seconds = -1, run_seconds = -1;  // -1: unknown
  std::string log;       // path of the job's log file
};

// {"executor": "slurm", "job_id": "1234", "host": ..., "state": ..., ...}:
// a node's "job" in report.json and in the run store.
PIPETTE_API std::string job_record_json(const JobRecord& j);

struct OffloadOutcome {
  enum class Status { Done, Failed, Cancelled };
  Status status = Status::Failed;
  std::string error;    // for Failed: what went wrong, with the log's tail
  std::string warning;  // e.g. "retried after OUT_OF_MEMORY"
  JobRecord job;
};

class PIPETTE_API NodeOffload {
 public:
  virtual ~NodeOffload() = default;
  // Whether this node is computed elsewhere. Light ops (datasets, tensor
  // arithmetic, pictures) stay in the driver.
  virtual bool takes(const Node& n, const OpSignature* sig) const = 0;
  // Starts computing node n, whose inputs are in the cache, so that its value
  // is stored there under `key`. `done` is called exactly once, from any thread.
  virtual void start(const Node& n, const NodeKey& key, std::function<void(OffloadOutcome)> done) = 0;
  // Ctrl-C: stop everything started; each pending `done` is then called with Cancelled.
  virtual void cancel_all() = 0;
};

}  // namespace pipette
