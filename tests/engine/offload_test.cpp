// Nodes computed elsewhere (RunOptions::offload), with an in-process stand-in
// for a Slurm job: on its own thread it runs the node as `pipette exec-node`
// does, execute() with targets = {node} on the same graph and cache. The
// driver must then load the value from the cache, start its consumers, keep
// light nodes to itself, carry failures and cancellation, and say when a job's
// result is not in the cache.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>

#include "engine/cache.hpp"
#include "engine/executor.hpp"
#include "engine/offload.hpp"
#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

struct Lib {
  OpLibrary lib;
  std::atomic<int> heavy_runs{0};
  Lib() {
    stdlib::register_all(lib);
    lib.define(OpSignature("test.heavy", "Doubles a tensor; counts its runs.").input("x", "tensor", "").returns("tensor"),
               [this](const OpArgs& a, OpContext&) {
                 ++heavy_runs;
                 return Value(a.tensor("x") * 2);
               });
    lib.define(OpSignature("test.broken", "Fails.").input("x", "tensor", "").returns("tensor"),
               [](const OpArgs&, OpContext&) -> Value { throw OpError("planted failure"); });
  }
  Graph compile(const std::string& text) {
    lang::Compiler c(lib.ops, {});
    auto g = c.compile_text("offload.pipe", text);
    EXPECT_TRUE(g) << c.render_diagnostics();
    return g ? *g : Graph{};
  }
};

// A "cluster" of threads: each job executes its node from the cache.
class ThreadJobs : public NodeOffload {
 public:
  ThreadJobs(Lib& l, const Graph& g, const Cache& c) : lib_(l), g_(g), cache_(c) {}
  ~ThreadJobs() override {
    for (auto& t : threads_) t.join();
  }
  bool takes(const Node&, const OpSignature* sig) const override { return sig && !sig->is_light(); }
  void start(const Node& n, const NodeKey&, std::function<void(OffloadOutcome)> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    taken.push_back(n.op);
    uint32_t id = n.id;
    if (hold) {
      held_.push_back(std::move(done));
      return;
    }
    threads_.emplace_back([this, id, done = std::move(done)] {
      OffloadOutcome o;
      o.job.executor = "threads";
      o.job.job_id = "t" + std::to_string(id);
      if (!drop_results) {
        RunOptions ro;
        ro.cache = &cache_;
        ro.targets = {id};
        ro.out_dir = fs::temp_directory_path() / "pipette-offload-job";
        Execution e = execute(g_, lib_.lib.ops, lib_.lib.impls, ro);
        if (e.nodes[id].status != NodeOutcome::Status::Done) o.error = "job: " + e.nodes[id].error;
        else o.status = OffloadOutcome::Status::Done;
        local_nodes_run += e.computed;
      } else {
        o.status = OffloadOutcome::Status::Done;  // says done, stored nothing
      }
      done(std::move(o));
    });
  }
  void cancel_all() override {
    std::lock_guard<std::mutex> lock(mu_);
    ++cancels;
    for (auto& d : held_) {
      OffloadOutcome o;
      o.status = OffloadOutcome::Status::Cancelled;
      d(std::move(o));
    }
    held_.clear();
  }

  std::vector<std::string> taken;
  bool hold = false, drop_results = false;
  int cancels = 0;
  std::atomic<size_t> local_nodes_run{0};

 private:
  Lib& lib_;
  const Graph& g_;
  const Cache& cache_;
  std::mutex mu_;
  std::vector<std::thread> threads_;
  std::vector<std::function<void(OffloadOutcome)>> held_;
};

class Offload : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipette-offload-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    cache_.emplace(dir_ / "cache");
    cache_->prepare();
  }
  void TearDown() override { fs::remove_all(dir_); }
  Execution run(const Graph& g, NodeOffload* off, const std::atomic<bool>* cancel = nullptr) {
    RunOptions o;
    o.cache = &*cache_;
    o.offload = off;
    o.cancel = cancel;
    o.out_dir = dir_ / "out";
    return execute(g, lib_.lib.ops, lib_.lib.impls, o);
  }
  static at::Tensor report(const Execution& e, const std::string& name) {
    for (auto& [k, v] : e.reports)
      if (k == name) return v.toTensor();
    ADD_FAILURE() << "no report " << name;
    return {};
  }
  Lib lib_;
  fs::path dir_;
  std::optional<Cache> cache_;
};

const char* kSweep =
    "let x = tensor.random([8], seed=3)\n"
    "for k in [1, 2, 3] {\n"
    "  let y = test.heavy(tensor.mul(x, k))\n"
    "  report \"y{k}\" = tensor.add(test.heavy(y), 1.0)\n"
    "}\n";

TEST_F(Offload, HeavyNodesGoToJobsAndTheDriverReadsTheirResultsFromTheCache) {
  Graph g = lib_.compile(kSweep);
  ThreadJobs jobs(lib_, g, *cache_);
  Execution e = run(g, &jobs);
  ASSERT_TRUE(e.ok());
  // Only the heavy op went out; tensor.* stayed in the driver.
  EXPECT_EQ(jobs.taken, std::vector<std::string>(6, "test.heavy"));
  EXPECT_EQ(lib_.heavy_runs.load(), 6);  // each computed once, in its job
  fs::remove_all(dir_ / "cache");
  Cache fresh(dir_ / "local-cache");
  RunOptions o;
  o.cache = &fresh;
  o.out_dir = dir_ / "out-local";
  Execution local = execute(g, lib_.lib.ops, lib_.lib.impls, o);
  ASSERT_TRUE(local.ok());
  for (const char* name : {"y1", "y2", "y3"}) EXPECT_TRUE(at::equal(report(e, name), report(local, name))) << name;
  for (auto& n : g.nodes)
    if (n.op == "test.heavy") {
      ASSERT_TRUE(e.nodes[n.id].job.has_value());
      EXPECT_EQ(e.nodes[n.id].job->executor, "threads");
      EXPECT_FALSE(e.nodes[n.id].cached);
    }
}

TEST_F(Offload, AFailedJobFailsOnlyWhatDependsOnIt) {
  Graph g = lib_.compile(
      "let x = tensor.random([4], seed=1)\n"
      "report \"bad\" = test.heavy(test.broken(x))\n"
      "report \"good\" = test.heavy(x)\n"
      "report \"x\" = x\n");
  ThreadJobs jobs(lib_, g, *cache_);
  Execution e = run(g, &jobs);
  EXPECT_EQ(e.failed, 1u);
  EXPECT_EQ(e.skipped, 1u);
  std::string errors;
  for (auto& o : e.nodes) errors += o.error;
  EXPECT_NE(errors.find("job: planted failure"), std::string::npos) << errors;
  EXPECT_EQ(e.missing_reports, std::vector<std::string>{"bad"});
  EXPECT_TRUE(at::equal(report(e, "good"), report(e, "x") * 2));
}

TEST_F(Offload, CtrlCReachesTheOffloadOnceAndCancelsItsNodes) {
  Graph g = lib_.compile(kSweep);
  ThreadJobs jobs(lib_, g, *cache_);
  jobs.hold = true;  // jobs never finish by themselves
  std::atomic<bool> cancel{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.store(true);
  });
  Execution e = run(g, &jobs, &cancel);
  stopper.join();
  EXPECT_EQ(jobs.cancels, 1);
  EXPECT_EQ(e.cancelled, 3u);  // the held jobs
  EXPECT_EQ(e.skipped, 6u);    // their consumers (3 heavy, 3 add), never started
  EXPECT_FALSE(e.ok());
}

TEST_F(Offload, AJobWhoseResultIsNotInTheCacheIsAnErrorThatSaysSo) {
  Graph g = lib_.compile("report \"y\" = test.heavy(tensor.random([4], seed=1))\n");
  ThreadJobs jobs(lib_, g, *cache_);
  jobs.drop_results = true;
  Execution e = run(g, &jobs);
  ASSERT_EQ(e.failed, 1u);
  std::string err;
  for (auto& o : e.nodes) err += o.error;
  EXPECT_NE(err.find("finished, but its result is not in the cache"), std::string::npos) << err;
  EXPECT_NE(err.find("filesystem the compute nodes share"), std::string::npos) << err;
}

TEST_F(Offload, TargetsComputeOneNodeAndWhatItNeedsButNoSideEffects) {
  Graph g = lib_.compile(
      "let x = tensor.random([4], seed=1)\n"
      "let y = test.heavy(x)\n"
      "save(y, \"y.pt\")\n"
      "report \"z\" = test.heavy(y)\n");
  uint32_t y = 1;
  ASSERT_EQ(g.nodes[y].op, "test.heavy");
  RunOptions o;
  o.cache = &*cache_;
  o.targets = {y};
  o.out_dir = dir_ / "out";
  Execution e = execute(g, lib_.lib.ops, lib_.lib.impls, o);
  EXPECT_EQ(lib_.heavy_runs.load(), 1);
  EXPECT_EQ(e.computed, 2u);  // x and y
  EXPECT_FALSE(fs::exists(dir_ / "out" / "y.pt"));
  EXPECT_TRUE(cache_->contains(e.keys[y]));
}

}  // namespace
}  // namespace pipette
