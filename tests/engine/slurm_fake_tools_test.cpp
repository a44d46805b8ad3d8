// The Slurm executor against stand-in tools (shell scripts that print what
// Slurm 22.05 prints), for what the one-machine cluster cannot show: a job
// that scontrol has forgotten (MinJobAge after it ended) is learned from
// sacct where accounting answers, and only then. The real cluster's tests are
// tests/cluster/slurm_executor_test.sh.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <unistd.h>

#include "engine/slurm_executor.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

class FakeSlurm : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipette-fake-slurm-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "bin");
    tools_.sbatch = tool("sbatch", "echo 77");
    tools_.squeue = tool("squeue", "exit 0");  // the job is no longer listed
    tools_.scontrol = tool("scontrol", "echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1");
    tools_.scancel = tool("scancel", "exit 0");
    tools_.sinfo = tool("sinfo", "echo 'debug*'");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string tool(const std::string& name, const std::string& body) {
    fs::path p = dir_ / "bin" / name;
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    fs::permissions(p, fs::perms::owner_all);
    return p.string();
  }

  SlurmConfig config() {
    SlurmConfig c;
    c.pipette = "/bin/true";
    c.work_dir = dir_ / "work";
    c.cache_dir = dir_ / "cache";
    c.chdir = dir_;
    c.retries = 0;
    c.poll_seconds = 0.02;
    c.gather_seconds = 0.01;
    c.backoff_seconds = 0.05;
    return c;
  }

  // Runs one node through the executor; what it reported.
  OffloadOutcome run_one() {
    SlurmConfig c = config();
    Node n;
    n.id = 0;
    n.op = "attr.saliency";
    NodeKey key{0x1234567890abcdefULL};
    std::promise<OffloadOutcome> got;
    {
      SlurmExecutor ex(tools_, c);
      ex.start(n, key, [&](OffloadOutcome o) { got.set_value(std::move(o)); });
      auto f = got.get_future();
      EXPECT_EQ(f.wait_for(std::chrono::seconds(20)), std::future_status::ready);
      return f.get();
    }
  }

  fs::path dir_;
  SlurmTools tools_;
};

TEST_F(FakeSlurm, AJobScontrolForgotIsLearnedFromSacct) {
  tools_.sacct = tool("sacct",
                      "echo '77|OUT_OF_MEMORY|0:125|node07|2026-12-07T08:00:00|2026-12-07T08:00:04|2026-12-07T08:00:34'");
  EXPECT_TRUE(slurm_accounting(tools_));
  OffloadOutcome o = run_one();
  EXPECT_EQ(o.status, OffloadOutcome::Status::Failed);
  EXPECT_EQ(o.job.job_id, "77");
  EXPECT_EQ(o.job.state, "OUT_OF_MEMORY");
  EXPECT_EQ(o.job.host, "node07");
  EXPECT_EQ(o.job.queue_seconds, 4);
  EXPECT_EQ(o.job.run_seconds, 30);
  EXPECT_NE(o.error.find("ended OUT_OF_MEMORY (exit 0, signal 125) on node07: raise mem="), std::string::npos) << o.error;
}

TEST_F(FakeSlurm, WithoutAccountingAForgottenJobIsGone) {
  // What sacct does on a cluster without slurmdbd, as this machine's does.
  tools_.sacct = tool("sacct", "echo 'sacct: error: Slurm accounting storage is disabled' >&2; exit 1");
  EXPECT_FALSE(slurm_accounting(tools_));
  tools_.sacct.clear();  // as prepare_slurm leaves it
  OffloadOutcome o = run_one();
  EXPECT_EQ(o.status, OffloadOutcome::Status::Failed);
  EXPECT_EQ(o.job.state, "GONE");
  EXPECT_TRUE(o.job.host.empty());
}

// How many times a stand-in tool ran (each run appends a line to its log).
int runs_of(const fs::path& log) {
  std::ifstream in(log);
  int n = 0;
  for (std::string line; std::getline(in, line);) ++n;
  return n;
}

TEST_F(FakeSlurm, JobsAreNotRequeuedBySlurmAndTheirScriptIsNotInjectable) {
  std::string args = (dir_ / "sbatch.args").string();
  tools_.sbatch = tool("sbatch", "echo \"$@\" > " + args + "; echo 80");
  tools_.scontrol = tool("scontrol", "echo 'JobId=80 JobState=COMPLETED ExitCode=0:0'");
  SlurmConfig c = config();
  c.sbatch_options = {{"comment", "a\nrm -rf /"}};
  Node n;
  n.op = "attr.saliency";
  n.loc.file = "odd\nname.pipe";
  n.loc.line = 3;
  std::promise<OffloadOutcome> got;
  {
    SlurmExecutor ex(tools_, c);
    ex.start(n, NodeKey{0xabcULL}, [&](OffloadOutcome o) { got.set_value(std::move(o)); });
    ASSERT_EQ(got.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
    std::ifstream script(ex.job_dir(NodeKey{0xabcULL}) / "job.sh");
    std::string line;
    int commands = 0;
    while (std::getline(script, line))
      if (!line.empty() && line[0] != '#') ++commands;
    EXPECT_EQ(commands, 1);  // the exec line; the rest are comments
  }
  std::ifstream in(args);
  std::string given((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(given.find("--no-requeue"), std::string::npos) << given;
}

TEST_F(FakeSlurm, TwoNodesOfOneKeyShareOneJob) {
  // Placed apart (device=) but computing the same thing: one job, both told.
  std::string log = (dir_ / "sbatch.log").string();
  tools_.sbatch = tool("sbatch", "echo x >> " + log + "; echo 78");
  tools_.scontrol = tool("scontrol", "echo 'JobId=78 JobState=COMPLETED ExitCode=0:0 NodeList=n1'");
  Node a, b;
  a.id = 0, b.id = 1;
  a.op = b.op = "attr.saliency";
  NodeKey key{0xfeedULL};
  std::promise<OffloadOutcome> got_a, got_b;
  {
    SlurmExecutor ex(tools_, config());
    ex.start(a, key, [&](OffloadOutcome o) { got_a.set_value(std::move(o)); });
    ex.start(b, key, [&](OffloadOutcome o) { got_b.set_value(std::move(o)); });
    auto fa = got_a.get_future(), fb = got_b.get_future();
    ASSERT_EQ(fa.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    ASSERT_EQ(fb.wait_for(std::chrono::seconds(20)), std::future_status::ready);
    EXPECT_EQ(fa.get().job.job_id, "78");
    EXPECT_EQ(fb.get().job.job_id, "78");
  }
  EXPECT_EQ(runs_of(log), 1);
}

TEST_F(FakeSlurm, ABusyControllerIsAskedAgainAndAJobStillCompletingIsFollowed) {
  std::string log = (dir_ / "sbatch.log").string(), seen = (dir_ / "scontrol.log").string();
  // The first sbatch finds slurmctld busy; the second is taken.
  tools_.sbatch = tool("sbatch", "echo x >> " + log + "\nif [ $(wc -l < " + log +
                                     ") -eq 1 ]; then echo 'sbatch: error: Batch job submission failed: Socket timed "
                                     "out on send/recv operation' >&2; exit 1; fi\necho 79");
  // The first look at the job finds it COMPLETING: not an end yet.
  tools_.scontrol = tool("scontrol", "echo x >> " + seen + "\nif [ $(wc -l < " + seen +
                                         ") -eq 1 ]; then echo 'JobId=79 JobState=COMPLETING ExitCode=0:0'; else echo "
                                         "'JobId=79 JobState=OUT_OF_MEMORY ExitCode=0:125 NodeList=n2'; fi");
  OffloadOutcome o = run_one();
  EXPECT_EQ(runs_of(log), 2);
  EXPECT_GE(runs_of(seen), 2);
  EXPECT_EQ(o.job.job_id, "79");
  EXPECT_EQ(o.job.attempts, 1);  // the refused submission was not an attempt
  EXPECT_EQ(o.job.state, "OUT_OF_MEMORY");
}

TEST_F(FakeSlurm, ASlurmRefusalThatIsTheUsersIsNotRetried) {
  std::string log = (dir_ / "sbatch.log").string();
  tools_.sbatch = tool("sbatch", "echo x >> " + log +
                                     "; echo 'sbatch: error: Batch job submission failed: Requested node configuration "
                                     "is not available' >&2; exit 1");
  OffloadOutcome o = run_one();
  EXPECT_EQ(runs_of(log), 1);
  EXPECT_NE(o.error.find("Slurm refused its job (sbatch: error: Batch job submission failed: Requested node"),
            std::string::npos)
      << o.error;
}

}  // namespace
}  // namespace pipette
