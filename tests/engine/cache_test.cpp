// The cache: hits, invalidation, damaged entries, resume after a failure.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/script.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "engine/cache.hpp"
#include "engine/executor.hpp"
#include "engine/value_io.hpp"
#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

class CacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipette-cache-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    stdlib::register_all(lib_);
    lib_.define(OpSignature("test.count", "Counts its executions.").input("x", "any", "").returns("any"),
                [this](const OpArgs& a, OpContext&) {
                  ++executions_;
                  return a["x"];
                });
  }
  void TearDown() override { fs::remove_all(dir_); }

  Execution run(const std::string& text, std::vector<std::pair<std::string, std::string>> sets = {},
                uint64_t seed = 0) {
    lang::CompileOptions co;
    co.sets = std::move(sets);
    lang::Compiler c(lib_.ops, co);
    auto g = c.compile_text((dir_ / "s.pipe").string(), text);
    EXPECT_TRUE(g) << c.render_diagnostics();
    graph_ = *g;
    RunOptions o;
    o.out_dir = dir_ / "out";
    o.script_dir = dir_;
    o.cache = &cache_;
    o.seed = seed;
    return execute(graph_, lib_.ops, lib_.impls, o);
  }

  fs::path dir_;
  OpLibrary lib_;
  Cache cache_{fs::temp_directory_path() / ("pipette-cache-" + std::to_string(::getpid())) / "cache"};
  Graph graph_;
  int executions_ = 0;
};

TEST_F(CacheTest, ARerunWithNothingChangedExecutesNoOp) {
  const char* text = "let r = tensor.random([4])\nreport \"a\" = test.count(tensor.sum(r))\n";
  auto first = run(text);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.computed, 3u);
  EXPECT_EQ(executions_, 1);
  auto second = run(text);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.computed, 0u);
  EXPECT_EQ(second.cached, 3u);
  EXPECT_EQ(executions_, 1);
  EXPECT_TRUE(first.reports[0].second.toTensor().equal(second.reports[0].second.toTensor()));
  EXPECT_EQ(cache_.stats().entries, 3u);
}

TEST_F(CacheTest, ChangingAParameterRecomputesOnlyDownstream) {
  const char* text =
      "param k: float = 1\nlet base = tensor.random([3])\nreport \"a\" = tensor.sum(base)\n"
      "report \"b\" = test.count(tensor.mul(base, k))\n";
  run(text);
  auto again = run(text, {{"k", "2"}});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.computed, 2u);  // mul and count; random and sum come from the cache
  EXPECT_EQ(again.cached, 2u);
}

TEST_F(CacheTest, ANewRunSeedRecomputesOnlyStochasticNodesAndTheirConsumers) {
  const char* text =
      "report \"fixed\" = test.count(tensor.sum(tensor.load(\"x.pt\")))\n"
      "report \"noisy\" = tensor.sum(tensor.random([4]))\n";
  write_value_file(Value(at::ones({3})), dir_ / "x.pt");
  auto first = run(text);
  auto reseeded = run(text, {}, 7);
  ASSERT_TRUE(reseeded.ok());
  EXPECT_EQ(executions_, 1);           // the deterministic branch stays cached
  EXPECT_EQ(reseeded.computed, 2u);    // random and the sum that reads it
  EXPECT_FALSE(first.reports[1].second.toTensor().equal(reseeded.reports[1].second.toTensor()));
}

TEST_F(CacheTest, DamagedEntriesAreDetectedAndRecomputed) {
  const char* text = "report \"a\" = tensor.sum(tensor.random([8]))\n";
  auto first = run(text);
  auto sum_entry = cache_.entry_path(first.keys[1]);
  ASSERT_TRUE(fs::exists(sum_entry));
  {  // flip one payload byte
    std::fstream f(sum_entry, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-5, std::ios::end);
    f.put('\x5a');
  }
  auto second = run(text);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(second.nodes[1].warning.find("checksum mismatch"), std::string::npos) << second.nodes[1].warning;
  EXPECT_FALSE(second.nodes[1].cached);
  EXPECT_TRUE(second.nodes[0].cached);  // recomputing the sum needed its input: loaded, not recomputed
  EXPECT_TRUE(first.reports[0].second.toTensor().equal(second.reports[0].second.toTensor()));
  // Both damaged: the sum must run, so its input is loaded, found truncated, and recomputed too.
  fs::resize_file(cache_.entry_path(first.keys[0]), 30);
  fs::resize_file(sum_entry, 30);
  auto third = run(text);
  EXPECT_NE(third.nodes[0].warning.find("truncated"), std::string::npos) << third.nodes[0].warning;
  EXPECT_NE(third.nodes[1].warning.find("truncated"), std::string::npos) << third.nodes[1].warning;
  EXPECT_EQ(third.computed, 2u);
  EXPECT_TRUE(third.ok());
  EXPECT_TRUE(first.reports[0].second.toTensor().equal(third.reports[0].second.toTensor()));
}

TEST_F(CacheTest, ValuesOnlyCachedConsumersReadAreNotLoaded) {
  const char* text = "let r = tensor.random([4])\nlet big = tensor.mul(r, 2)\nreport \"s\" = tensor.sum(big)\n";
  auto first = run(text);
  auto plan = plan_nodes(graph_, first.keys, &cache_);
  ASSERT_EQ(plan.size(), 3u);
  EXPECT_EQ(plan[0], NodePlan::Keep);  // only `big` reads it, and `big` is not needed either
  EXPECT_EQ(plan[1], NodePlan::Keep);
  EXPECT_EQ(plan[2], NodePlan::Load);  // reported
  // Corrupt the entries nobody needs: the re-run never opens them.
  fs::resize_file(cache_.entry_path(first.keys[0]), 10);
  fs::resize_file(cache_.entry_path(first.keys[1]), 10);
  auto second = run(text);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.computed, 0u);
  EXPECT_EQ(second.cached, 3u);
  EXPECT_TRUE(second.nodes[0].warning.empty());
  EXPECT_TRUE(first.reports[0].second.toTensor().equal(second.reports[0].second.toTensor()));
}

TEST_F(CacheTest, DatasetsAreReopenedOnlyWhenAConsumerRuns) {
  const char* text = "param n: int = 40\nlet d = data.fashion_mnist(split=\"test\", limit=50)\n"
                     "report \"m\" = test.count(tensor.mean(data.subset(d, count=n).images))\n";
  auto first = run(text);
  ASSERT_TRUE(first.ok()) << first.nodes[0].error;
  EXPECT_FALSE(cache_.contains(first.keys[0]));  // a dataset is a recipe: never stored
  EXPECT_FALSE(cache_.contains(first.keys[1]));
  auto second = run(text);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.computed, 0u);
  EXPECT_EQ(second.unneeded, 2u);  // the dataset and its subset: nobody needed them
  EXPECT_EQ(second.nodes[0].status, NodeOutcome::Status::Unneeded);
  EXPECT_EQ(executions_, 1);
  auto third = run(text, {{"n", "20"}});  // the subset changes: the dataset is opened again
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third.nodes[0].status, NodeOutcome::Status::Done);
  EXPECT_EQ(third.unneeded, 0u);
  EXPECT_EQ(executions_, 2);
}

TEST_F(CacheTest, AnInterruptedWriteLeavesNoEntryAndItsTemporaryFileIsCleaned) {
  const char* text = "report \"a\" = tensor.random([2])\n";
  auto first = run(text);
  auto path = cache_.entry_path(first.keys[0]);
  fs::remove(path);
  // What a writer killed mid-write leaves (pid 999999999 does not exist).
  fs::path tmp = path.string() + ".tmp999999999-0";
  std::ofstream(tmp) << "PIPECA02 half written";
  fs::last_write_time(tmp, fs::file_time_type::clock::now() - std::chrono::minutes(10));
  auto second = run(text);
  EXPECT_EQ(second.computed, 1u);
  auto s = cache_.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.stale_temp_files, 1u);  // counted, not hidden
  auto cleaned = cache_.clean();
  EXPECT_EQ(cleaned.entries, 1u);
  EXPECT_EQ(cleaned.temp_files, 1u);
  EXPECT_FALSE(fs::exists(tmp));
  EXPECT_EQ(cache_.stats().stale_temp_files, 0u);
}

TEST_F(CacheTest, CleanRemovesOnlyWhatPipetteWroteInADirectoryItMarked) {
  // The hostile probe: `pipette cache clean --cache d` deleted d/ and the thesis in it.
  fs::path d = dir_ / "d";
  fs::create_directories(d);
  std::ofstream(d / "thesis.txt") << "keep";
  Cache foreign(d);
  EXPECT_THROW(foreign.clean(), CacheError);
  EXPECT_THROW(foreign.prepare(), CacheError);  // nor is it taken as a cache
  EXPECT_TRUE(fs::exists(d / "thesis.txt"));
  // A marked cache: entries go, what pipette did not write stays.
  auto first = run("report \"a\" = tensor.sum(tensor.random([3]))\n");
  ASSERT_TRUE(first.ok());
  std::ofstream(cache_.dir() / "notes.txt") << "mine";
  fs::path fan = cache_.entry_path(first.keys[0]).parent_path();
  std::ofstream(fan / "0123456789abcdef.entry") << "not an entry";  // named like one, but not one
  auto cleaned = cache_.clean();
  EXPECT_EQ(cleaned.entries, 2u);
  EXPECT_EQ(cleaned.foreign.size(), 2u);
  EXPECT_TRUE(fs::exists(cache_.dir() / "notes.txt"));
  EXPECT_TRUE(fs::exists(fan / "0123456789abcdef.entry"));
  EXPECT_EQ(cache_.stats().entries, 0u);
}

TEST_F(CacheTest, AnEntryCopiedUnderAnotherKeyIsNotTrusted) {
  const char* text = "report \"a\" = tensor.sum(tensor.random([3]))\nreport \"b\" = tensor.random([5])\n";
  auto first = run(text);
  ASSERT_TRUE(first.ok());
  // The sum's entry copied over the random tensor's: same format, valid checksum, wrong key.
  fs::copy_file(cache_.entry_path(first.keys[1]), cache_.entry_path(first.keys[0]),
                fs::copy_options::overwrite_existing);
  std::string damage;
  EXPECT_FALSE(cache_.load(first.keys[0], &damage));
  EXPECT_NE(damage.find("copied or renamed"), std::string::npos) << damage;
  auto second = run(text);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(first.reports[1].second.toTensor().equal(second.reports[1].second.toTensor()));
}

TEST_F(CacheTest, ACacheThatCannotBeWrittenCostsOnlyCaching) {
  // The cache directory lies under a regular file: every store fails. The run
  // must finish with every value, say so once, and fail no node.
  std::ofstream(dir_ / "file") << "x";
  Cache unwritable(dir_ / "file" / "cache");
  lang::Compiler c(lib_.ops, {});
  auto g = c.compile_text((dir_ / "s.pipe").string(),
                          "let r = tensor.random([4])\nreport \"a\" = tensor.sum(r)\nreport \"b\" = tensor.mul(r, 2)\n");
  ASSERT_TRUE(g);
  RunOptions o;
  o.out_dir = dir_ / "out";
  o.script_dir = dir_;
  o.cache = &unwritable;
  Execution e = execute(*g, lib_.ops, lib_.impls, o);
  EXPECT_TRUE(e.ok());
  EXPECT_EQ(e.reports.size(), 2u);
  EXPECT_EQ(e.cache_write_failures, 3u);
  size_t warnings = 0;
  for (auto& n : e.nodes) warnings += n.warning.find("cannot be stored in the cache") != std::string::npos;
  EXPECT_EQ(warnings, 1u);
}

TEST_F(CacheTest, RecordsListsAndEmptyTensorsRoundTrip) {
  NodeKey key{0x1234abcd5678ef90ull};
  Value v = make_record({{"a", Value(at::arange(6, at::kLong).view({2, 3}).t())},  // not contiguous
                         {"b", Value(at::empty({0, 4}))},
                         {"c", Value(std::string("text"))},
                         {"d", Value(2.5)}});
  cache_.store(key, v);
  auto back = cache_.load(key);
  ASSERT_TRUE(back);
  auto dict = back->toGenericDict();
  EXPECT_TRUE(dict.at("a").toTensor().equal(at::arange(6, at::kLong).view({2, 3}).t()));
  EXPECT_EQ(dict.at("b").toTensor().sizes(), (std::vector<int64_t>{0, 4}));
  EXPECT_EQ(dict.at("c").toStringRef(), "text");
  EXPECT_DOUBLE_EQ(dict.at("d").toDouble(), 2.5);
}

// Resident-set high-water mark since the last reset, in bytes (Linux).
int64_t peak_rss_after_reset(const std::function<void()>& fn) {
  std::ofstream("/proc/self/clear_refs") << "5";
  auto rss = [](const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind(field, 0) == 0) return static_cast<int64_t>(std::atoll(line.c_str() + std::strlen(field))) * 1024;
    return int64_t{-1};
  };
  int64_t before = rss("VmRSS:");
  fn();
  return rss("VmHWM:") - before;
}

TEST_F(CacheTest, StoringAndLoadingALargeTensorCostsNoCopiesOfIt) {
  // Before streaming, a 1 GiB tensor took 4.4 GB to store and 5.5 GB to load.
  const int64_t bytes = int64_t{256} << 20;
  at::Tensor big = at::rand({bytes / 4});
  NodeKey key{0x0badc0ffee0ddf00ull};
  int64_t store_peak = peak_rss_after_reset([&] { cache_.store(key, Value(big)); });
  EXPECT_LT(store_peak, int64_t{48} << 20) << "storing grew the resident set by " << (store_peak >> 20) << " MiB";
  std::optional<Value> back;
  int64_t load_peak = peak_rss_after_reset([&] { back = cache_.load(key); });
  ASSERT_TRUE(back);
  EXPECT_LT(load_peak, bytes + (int64_t{48} << 20)) << "loading took " << (load_peak >> 20) << " MiB";
  EXPECT_TRUE(back->toTensor().equal(big));
}

TEST_F(CacheTest, ResumeAfterAFailureRecomputesOnlyWhatFailed) {
  const char* text =
      "let slow = test.count(tensor.sum(tensor.random([100])))\n"
      "let input = tensor.load(\"input.pt\")\n"
      "report \"done\" = slow\nreport \"needs_input\" = tensor.add(input, slow)\n";
  auto first = run(text);
  EXPECT_EQ(first.failed, 1u);
  EXPECT_EQ(executions_, 1);
  write_value_file(Value(at::ones({1})), dir_ / "input.pt");  // the user fixes the input
  auto second = run(text);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(executions_, 1);        // the finished branch was not recomputed
  EXPECT_EQ(second.computed, 2u);   // tensor.load and tensor.add
}

TEST_F(CacheTest, EditingAnInputFileInvalidatesItsNode) {
  write_value_file(Value(at::ones({2})), dir_ / "x.pt");
  const char* text = "report \"s\" = tensor.sum(tensor.load(\"x.pt\"))\n";
  auto first = run(text);
  write_value_file(Value(at::ones({2}) * 5), dir_ / "x.pt");
  auto second = run(text);
  EXPECT_EQ(second.computed, 2u);
  EXPECT_DOUBLE_EQ(second.reports[0].second.toTensor().item<double>(), 10.0);
}

TEST_F(CacheTest, ModelsSurviveTheCache) {
  torch::jit::Module m("Inc");
  m.define("def forward(self, x):\n    return x + 1.0\n");
  m.save((dir_ / "inc.pt").string());
  const char* text = "let m = model.load(\"inc.pt\")\nreport \"y\" = model.predict(m, tensor.mul(tensor.random([2, 2]), 0.0))\n";
  run(text);
  auto again = run("let m = model.load(\"inc.pt\")\nreport \"z\" = model.predict(m, tensor.random([3, 1]), batch=1)\n");
  ASSERT_TRUE(again.ok()) << again.nodes[0].error << again.nodes[2].error;
  EXPECT_TRUE(again.nodes[0].cached);  // the model came from the cache and still runs
  EXPECT_EQ(again.reports[0].second.toTensor().size(0), 3);
}

}  // namespace
}  // namespace pipette
