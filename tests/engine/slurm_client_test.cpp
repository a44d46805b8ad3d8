// Reading what Slurm's tools print, and deciding what a job's end means
// (retry or not), on Slurm 22.05's output formats.
#include <gtest/gtest.h>

#include "engine/slurm_client.hpp"

namespace pipette {
namespace {

TEST(SlurmClient, SqueueRowsAndArrayTasks) {
  auto rows = parse_squeue(
      "12|RUNNING|node01|pipette-attr-saliency-0123456789ab|None\n"
      "13_4|PENDING||pipette-attr-saliency-array|Resources\n"
      "squeue: warning: something\n");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].job_id, "12");
  EXPECT_EQ(rows[0].state, "RUNNING");
  EXPECT_EQ(rows[0].nodes, "node01");
  EXPECT_EQ(rows[1].job_id, "13_4");
  EXPECT_EQ(rows[1].reason, "Resources");
}

TEST(SlurmClient, ScontrolFieldsAndTimes) {
  auto f = parse_scontrol_job(
      "JobId=12 JobName=pipette-x UserId=root(0) JobState=OUT_OF_MEMORY Reason=OutOfMemory ExitCode=0:125 "
      "SubmitTime=2026-12-07T08:00:00 StartTime=2026-12-07T08:00:03 EndTime=2026-12-07T08:01:03 NodeList=node01 "
      "Command=/tmp/a b/job.sh");
  EXPECT_EQ(f["JobState"], "OUT_OF_MEMORY");
  EXPECT_EQ(f["NodeList"], "node01");
  auto s = parse_slurm_time(f["SubmitTime"]), b = parse_slurm_time(f["StartTime"]), e = parse_slurm_time(f["EndTime"]);
  ASSERT_TRUE(s && b && e);
  EXPECT_EQ(*b - *s, 3);
  EXPECT_EQ(*e - *b, 60);
  EXPECT_FALSE(parse_slurm_time("Unknown"));
  EXPECT_EQ(parse_exit_code("3:0"), std::make_pair(3, 0));
  EXPECT_EQ(parse_exit_code("0:9"), std::make_pair(0, 9));
}

// Slurm 22.05's `sacct -n -P -X -o JobID,State,ExitCode,NodeList,Submit,Start,End`.
TEST(SlurmClient, SacctRowsOfJobsScontrolForgot) {
  auto rows = parse_sacct(
      "41|COMPLETED|0:0|node01|2026-12-07T08:00:00|2026-12-07T08:00:02|2026-12-07T08:00:12\n"
      "42_3|CANCELLED by 1000|0:15|node02|2026-12-07T08:00:00|2026-12-07T08:00:05|2026-12-07T08:00:06\n"
      "43|PENDING|0:0|None assigned|2026-12-07T08:00:00|Unknown|Unknown\r\n"
      "sacct: error: some warning\n"
      "|||\n");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].job_id, "41");
  EXPECT_EQ(rows[0].nodes, "node01");
  EXPECT_EQ(*parse_slurm_time(rows[0].end) - *parse_slurm_time(rows[0].start), 10);
  EXPECT_EQ(rows[1].job_id, "42_3");
  EXPECT_EQ(rows[1].state, "CANCELLED");  // "by 1000" names who, not what
  EXPECT_EQ(classify_job_end(rows[1].state, 0, 15), JobEnd::Retry);
  EXPECT_EQ(rows[2].end, "Unknown");
  EXPECT_FALSE(parse_slurm_time(rows[2].end));
  EXPECT_STREQ(kSacctFields, "JobID,State,ExitCode,NodeList,Submit,Start,End");
}

TEST(SlurmClient, TheMachinesFailuresAreRetriedTheUsersAreNot) {
  using namespace exec_node_exit;
  EXPECT_EQ(classify_job_end("COMPLETED", 0, 0), JobEnd::Done);
  EXPECT_EQ(classify_job_end("FAILED", kOpFailed, 0), JobEnd::UserError);
  EXPECT_EQ(classify_job_end("FAILED", kInputsMissing, 0), JobEnd::UserError);
  EXPECT_EQ(classify_job_end("OUT_OF_MEMORY", 0, 125), JobEnd::Retry);
  EXPECT_EQ(classify_job_end("NODE_FAIL", 0, 0), JobEnd::Retry);
  EXPECT_EQ(classify_job_end("CANCELLED by 0", 0, 15), JobEnd::Retry);
  EXPECT_EQ(classify_job_end("PREEMPTED", 0, 0), JobEnd::Retry);
  EXPECT_EQ(classify_job_end("FAILED", 137, 0), JobEnd::Retry);  // the OOM killer, relayed by a shell
  EXPECT_EQ(classify_job_end("FAILED", 0, 9), JobEnd::Retry);
  EXPECT_EQ(classify_job_end("TIMEOUT", 0, 0), JobEnd::Fail);     // the user's time=: raise it
  EXPECT_EQ(classify_job_end("FAILED", 1, 0), JobEnd::Fail);      // a crash
  EXPECT_EQ(classify_job_end("FAILED", 0, 11), JobEnd::Fail);     // a segfault is not the machine's
  EXPECT_TRUE(is_terminal_state("CANCELLED by 0"));
  EXPECT_FALSE(is_terminal_state("RUNNING"));
  EXPECT_FALSE(is_terminal_state("COMPLETING"));
}

TEST(SlurmClient, ShellQuotingSurvivesQuotesAndSpaces) {
  EXPECT_EQ(shell_quote("abc"), "'abc'");
  EXPECT_EQ(shell_quote("it's a b"), "'it'\\''s a b'");
  EXPECT_EQ(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
}

}  // namespace
}  // namespace pipette
