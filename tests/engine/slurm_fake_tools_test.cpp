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

  // Runs one node through the executor; what it reported.
  OffloadOutcome run_one() {
    SlurmConfig c;
    c.pipette = "/bin/true";
    c.work_dir = dir_ / "work";
    c.cache_dir = dir_ / "cache";
    c.chdir = dir_;
    c.retries = 0;
    c.poll_seconds = 0.02;
    c.gather_seconds = 0.01;
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

}  // namespace
}  // namespace pipette
