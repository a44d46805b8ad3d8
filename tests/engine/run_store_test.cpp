// The run store: runs, nodes and reports recorded and read back.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "engine/run_store.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

TEST(RunStore, RecordsAndReadsBack) {
  fs::path db = fs::temp_directory_path() / ("pipette-runs-" + std::to_string(::getpid())) / "runs.db";
  fs::remove_all(db.parent_path());
  Graph g;
  g.params = {{"steps", Operand::integer(32)}};
  Node n;
  n.op = "tensor.sum";
  n.loc = SourceLoc{"s.pipe", 3, 5, 10};
  g.nodes.push_back(n);
  Execution e;
  e.keys = {NodeKey{0xabcdef}};
  e.nodes.resize(1);
  e.nodes[0].status = NodeOutcome::Status::Done;
  e.nodes[0].seconds = 0.25;
  e.reports = {{"auc", Value(0.5)}, {"big", Value(at::ones({100}))}};
  RunInfo a{"s-1-aaaa", "s.pipe", "1234", 0, "cpu", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "ok"};
  RunInfo b = a;
  b.run_id = "s-2-bbbb";
  b.started = "2026-01-02T00:00:00Z";
  b.status = "failed";
  {
    RunStore store(db);
    store.record(g, e, a, "runs/s-1");
    store.record(g, e, b, "runs/s-2");
  }
  RunStore store(db);  // reopened: it is on disk
  auto runs = store.list();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, "s-2-bbbb");  // newest first
  EXPECT_EQ(runs[1].params_json, "{\"steps\":32}");
  auto got = store.get("s-1");  // a unique prefix
  ASSERT_TRUE(got);
  EXPECT_EQ(got->out_dir, "runs/s-1");
  ASSERT_EQ(got->nodes.size(), 1u);
  EXPECT_EQ(got->nodes[0].key, "0000000000abcdef");
  EXPECT_EQ(got->nodes[0].loc, "s.pipe:3:5");
  EXPECT_DOUBLE_EQ(got->nodes[0].seconds, 0.25);
  ASSERT_EQ(got->reports.size(), 2u);
  EXPECT_EQ(got->reports[0].value_json, "0.5");
  EXPECT_EQ(got->reports[1].value_json, R"({"file":"reports/big.pt","shape":[100],"dtype":"float32"})");
  EXPECT_FALSE(store.get("nope"));
  EXPECT_NE(utc_now_iso().find('.'), std::string::npos);  // milliseconds
  EXPECT_THROW(store.get("s-"), RunStoreError);  // ambiguous
  // Runs with the same start time list in the order they were recorded, newest first.
  RunInfo c = b;
  c.run_id = "s-0-cccc";  // sorts before the others by id
  store.record(g, e, c, "runs/s-3");
  EXPECT_EQ(store.list()[0].id, "s-0-cccc");
  fs::remove_all(db.parent_path());
}

// A node's warnings are kept with it, and found again by its key when a
// later run loads it from the cache: the newest run that computed it wins;
// a run that loaded it, or one that failed, does not count.
TEST(RunStore, WarningsOfTheRunThatComputedANodeAreFoundByItsKey) {
  fs::path db = fs::temp_directory_path() / ("pipette-runs-w-" + std::to_string(::getpid())) / "runs.db";
  fs::remove_all(db.parent_path());
  Graph g;
  Node n;
  n.op = "metric.deletion";
  n.loc = SourceLoc{"s.pipe", 2, 1, 10};
  g.nodes.push_back(n);
  auto exec_with = [](NodeOutcome::Status st, bool cached, std::vector<std::string> warnings) {
    Execution e;
    e.keys = {NodeKey{0x1234}};
    e.nodes.resize(1);
    e.nodes[0].status = st;
    e.nodes[0].cached = cached;
    e.nodes[0].warnings = std::move(warnings);
    return e;
  };
  RunInfo info{"s-1", "s.pipe", "h", 0, "cpu", "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "ok"};
  {
    RunStore store(db);
    store.record(g, exec_with(NodeOutcome::Status::Done, false, {"old warning"}), info, "o1");
    info.run_id = "s-2", info.started = "2026-01-02T00:00:00Z";
    store.record(g, exec_with(NodeOutcome::Status::Done, false, {"9 of 64 attributions are constant"}), info, "o2");
    info.run_id = "s-3", info.started = "2026-01-03T00:00:00Z";
    store.record(g, exec_with(NodeOutcome::Status::Done, true, {"(from the cache) x"}), info, "o3");
    info.run_id = "s-4", info.started = "2026-01-04T00:00:00Z";
    store.record(g, exec_with(NodeOutcome::Status::Failed, false, {"failed's"}), info, "o4");
  }
  RunStore store(db);
  auto found = store.warnings_when_computed({"0000000000001234", "00000000000000ff"});
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found["0000000000001234"].run_id, "s-2");
  EXPECT_EQ(found["0000000000001234"].warnings, std::vector<std::string>{"9 of 64 attributions are constant"});
  fs::remove_all(db.parent_path());
}

TEST(RunStore, EightConcurrentFirstRunsLoseNoRow) {
  // A sweep started in eight shells on a fresh .pipette/: each process creates
  // (and migrates) the schema. Two of them used to see the same column missing
  // and both add it; the loser died with "duplicate column name: peak_bytes".
  fs::path db = fs::temp_directory_path() / ("pipette-runs-race-" + std::to_string(::getpid())) / "runs.db";
  for (int round = 0; round < 3; ++round) {
    fs::remove_all(db.parent_path());
    std::vector<pid_t> children;
    for (int i = 0; i < 8; ++i) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {  // a child: one "first run", then _exit without gtest's cleanup
        int status = 0;
        try {
          Graph g;
          Execution e;
          RunInfo info{"run-" + std::to_string(i), "s.pipe", "1", 0, "cpu", "t0", "t1", "ok"};
          RunStore(db).record(g, e, info, "out");
        } catch (const std::exception& err) {
          std::fprintf(stderr, "child %d: %s\n", i, err.what());
          status = 1;
        }
        ::_exit(status);
      }
      children.push_back(pid);
    }
    int failed = 0;
    for (pid_t pid : children) {
      int status = 0;
      ::waitpid(pid, &status, 0);
      failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    EXPECT_EQ(failed, 0) << "round " << round;
    EXPECT_EQ(RunStore(db).list().size(), 8u) << "round " << round;
  }
  fs::remove_all(db.parent_path());
}

}  // namespace
}  // namespace pipette
