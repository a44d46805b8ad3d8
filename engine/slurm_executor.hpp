// The Slurm executor (issue 25): every node the executor offloads becomes a
// Slurm job running `pipette exec-node` on the same script, which reads the
// node's inputs from the shared cache and stores its output there. Nodes of
// one op with the same resources that become ready together go as one job
// array. A poller thread follows the jobs with squeue (and scontrol for how
// each ended), retries what the machine broke (out of memory, a dead node, a
// job cancelled by someone else) with backoff, and cancels everything on
// Ctrl-C. Each node's job lives in a work directory named by its provenance
// key: its script, its logs, and the id of a job still running, which a
// driver started again adopts instead of submitting twice.
#pragma once

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/api.hpp"
#include "engine/offload.hpp"
#include "engine/resources.hpp"

namespace pipette {

struct SlurmConfig {
  std::string pipette;                 // this program, as the compute nodes see it
  std::vector<std::string> exec_args;  // `exec-node` and what follows, but --node and --key
  std::filesystem::path work_dir;      // shared: job scripts, logs, adoption records
  std::filesystem::path cache_dir;     // the run's cache, where jobs store results
  std::string memory_budget;           // the run's --memory-budget, for jobs that do not ask for mem=
  std::filesystem::path chdir;         // the jobs' working directory
  std::string account;
  Resources overrides;                              // the command line's, over every node's own
  std::vector<std::pair<std::string, std::string>> sbatch_options;  // --slurm-opt K=V: --K=V
  int retries = 1;
  double backoff_seconds = 10;  // before the first retry, doubling after each
  double poll_seconds = 1;
  double gather_seconds = 0.2;  // nodes ready within this long may share a job array
  size_t max_array = 1000;      // tasks per array (Slurm's MaxArraySize is 1001 by default)
  // What the driver says about jobs as they go (submitted, running, retried).
  std::function<void(const Node&, int level, const std::string&)> say;
};

// Where the Slurm tools are, found once: an error message when sbatch is missing.
struct SlurmTools {
  std::string sbatch, squeue, scontrol, scancel, sinfo;
  std::string sacct;  // empty where there is none, or accounting does not answer
};
PIPETTE_API std::optional<SlurmTools> find_slurm_tools(std::string* error);
// Whether sacct answers (a cluster with slurmdbd); without it the driver
// learns a job's end from squeue, scontrol and the cache.
PIPETTE_API bool slurm_accounting(const SlurmTools& tools);

// Checks before anything runs: the cluster answers, the partitions exist.
// An error message naming what is wrong, or nullopt.
PIPETTE_API std::optional<std::string> check_slurm(const SlurmTools& tools, const std::vector<std::string>& partitions);

class PIPETTE_API SlurmExecutor : public NodeOffload {
 public:
  SlurmExecutor(SlurmTools tools, SlurmConfig config);
  ~SlurmExecutor() override;

  bool takes(const Node& n, const OpSignature* sig) const override;
  void start(const Node& n, const NodeKey& key, std::function<void(OffloadOutcome)> done) override;
  void cancel_all() override;

  // The sbatch options a node's job gets, in order (for tests and `--dry-run`).
  std::vector<std::string> sbatch_options(const Node& n) const;
  // The key's work directory.
  std::filesystem::path job_dir(const NodeKey& key) const;

  struct Stats {
    size_t submitted = 0, arrays = 0, adopted = 0, retried = 0, cancelled = 0;
  };
  Stats stats() const;

 private:
  struct Job;
  void poll_loop();
  void submit_ready(std::vector<std::shared_ptr<Job>> ready);
  bool submit(const std::vector<std::shared_ptr<Job>>& group);
  bool adopt(Job& j);
  void poll_once();
  void ended(const std::shared_ptr<Job>& j, const std::string& state);
  void finish(const std::shared_ptr<Job>& j, OffloadOutcome o);
  // scancel of those that have a job (500 ids a call), then each told Cancelled.
  void cancel_jobs(const std::vector<std::shared_ptr<Job>>& jobs);
  std::string write_job_script(const Job& j) const;
  void say(const Job& j, int level, const std::string& what) const;

  SlurmTools tools_;
  SlurmConfig config_;
  std::string user_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<Job>> waiting_;                // to submit (new, or due for a retry)
  std::map<std::string, std::shared_ptr<Job>> running_;      // by Slurm job id
  std::map<uint64_t, std::shared_ptr<Job>> active_;        // by key: not yet finished
  bool stopping_ = false;
  bool woken_ = false;                 // new work for the poller since it last looked
  std::atomic<bool> cancelled_{false};  // read without the lock on the poller's paths
  Stats stats_;
  std::thread poller_;
};

}  // namespace pipette
