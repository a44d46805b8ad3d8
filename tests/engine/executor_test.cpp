// The executor: concurrency, failure isolation, cancellation, reproducible
// seeds, and the minimum ops (tensors, files, TorchScript models, Fashion-MNIST).
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/csrc/jit/python/update_graph_executor_opt.h>
#include <torch/script.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "engine/executor.hpp"
#include "engine/value_io.hpp"
#include "lang/compiler.hpp"
#include "engine/provenance.hpp"
#include "stdlib/data/npy_reader.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

// The standard library plus test ops with observable behaviour.
struct TestLib {
  OpLibrary lib;
  std::atomic<int> running{0}, peak{0};

  TestLib() {
    stdlib::register_all(lib);
    lib.define(OpSignature("test.busy", "Sleeps, counting how many run at once.")
                   .input("tag", "int", "")
                   .param("ms", "int", Operand::integer(150), "")
                   .returns("int"),
               [this](const OpArgs& a, OpContext&) {
                 int now = ++running;
                 int seen = peak.load();
                 while (now > seen && !peak.compare_exchange_weak(seen, now)) {}
                 std::this_thread::sleep_for(std::chrono::milliseconds(a.int_("ms")));
                 --running;
                 return Value(a.int_("tag"));
               });
    lib.define(OpSignature("test.steps", "Reports progress over `n` steps; logs once; returns its budget.")
                   .input("n", "int", "")
                   .returns("int"),
               [](const OpArgs& a, OpContext& ctx) {
                 for (int64_t i = 1; i <= a.int_("n"); ++i) ctx.progress(static_cast<uint64_t>(i), a.int_("n"));
                 ctx.log(OpContext::Warn, "halfway there");
                 return Value(static_cast<int64_t>(ctx.memory_budget));
               });
    lib.define(OpSignature("test.device", "Returns the device it ran on and its input's.")
                   .input("x", "tensor", "")
                   .returns("string"),
               [](const OpArgs& a, OpContext& ctx) {
                 return Value(ctx.device.str() + "/" + a.tensor("x").device().str());
               });
    lib.define(OpSignature("test.jit_optimize", "Whether TorchScript's graph optimisation is on where it runs.")
                   .input("x", "any", "")
                   .returns("bool"),
               [](const OpArgs&, OpContext&) { return Value(torch::jit::getGraphExecutorOptimize()); });
    lib.define(OpSignature("test.fail", "Always fails.").input("x", "any", "").returns("int"),
               [](const OpArgs&, OpContext&) -> Value { throw OpError("planted failure"); });
  }

  Graph compile(const std::string& text) {
    lang::Compiler c(lib.ops, {});
    auto g = c.compile_text("exec.pipe", text);
    EXPECT_TRUE(g) << c.render_diagnostics();
    return g ? *g : Graph{};
  }

  Execution run(const Graph& g, RunOptions o = {}) {
    if (o.out_dir.empty()) o.out_dir = fs::temp_directory_path() / ("pipette-exec-" + std::to_string(::getpid()));
    return execute(g, lib.ops, lib.impls, o);
  }
};

const Value* report(const Execution& e, const std::string& name) {
  for (auto& [k, v] : e.reports)
    if (k == name) return &v;
  return nullptr;
}

TEST(Executor, IndependentNodesRunConcurrently) {
  TestLib t;
  Graph g = t.compile("for i in [1, 2, 3, 4] { report \"r{i}\" = test.busy(i) }\n");
  RunOptions two;
  two.jobs = 2;
  auto e = t.run(g, two);
  EXPECT_TRUE(e.ok());
  EXPECT_EQ(t.peak.load(), 2);
  t.peak = 0;
  RunOptions one;
  one.jobs = 1;
  t.run(g, one);
  EXPECT_EQ(t.peak.load(), 1);
}

// Regression: roots that finished while the executor was still starting roots
// used to start their consumers a second time (after the input was released).
TEST(Executor, EveryNodeRunsExactlyOnce) {
  TestLib t;
  // A quick root, many other roots to start, then the quick root's consumer.
  std::string text = "let first = test.busy(0, ms=0)\nfor i in [";
  for (int i = 1; i <= 300; ++i) text += (i > 1 ? ", " : "") + std::to_string(i);
  text += "] { report \"r{i}\" = test.busy(i, ms=0) }\nreport \"last\" = test.busy(first, ms=0)\n";
  Graph g = t.compile(text);
  for (int jobs : {2, 4}) {
    for (int round = 0; round < 25; ++round) {
      RunOptions o;
      o.jobs = jobs;
      std::atomic<int> starts{0};
      auto e = execute(g, t.lib.ops, t.lib.impls, o, [&](const Node&, const NodeOutcome& out) {
        starts += out.status == NodeOutcome::Status::Pending;
      });
      EXPECT_TRUE(e.ok());
      ASSERT_EQ(starts.load(), 302) << "jobs " << jobs;
    }
  }
}

TEST(Executor, SignatureOnlyOpsAreNamedAndFailWhenRun) {
  TestLib t;
  t.lib.declare(OpSignature("test.todo", "Not written yet.").input("x", "int", "").returns("int"));
  Graph g = t.compile("report \"a\" = test.todo(1)\nreport \"b\" = test.busy(2, ms=0)\n");
  EXPECT_EQ(unimplemented_ops(g, t.lib.impls), std::vector<std::string>{"test.todo"});
  auto e = t.run(g);
  EXPECT_EQ(e.failed, 1u);
  EXPECT_NE(e.nodes[0].error.find("has no implementation yet"), std::string::npos) << e.nodes[0].error;
  EXPECT_EQ(e.reports.size(), 1u);  // the other branch still ran
}

TEST(Executor, AFailureStopsOnlyWhatDependsOnIt) {
  TestLib t;
  Graph g = t.compile(
      "let bad = test.fail(1)\nreport \"after_bad\" = test.busy(bad, ms=1)\nreport \"fine\" = test.busy(7, ms=1)\n");
  auto e = t.run(g);
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.failed, 1u);
  EXPECT_EQ(e.skipped, 1u);
  ASSERT_TRUE(report(e, "fine"));
  EXPECT_EQ(report(e, "fine")->toInt(), 7);
  EXPECT_EQ(e.missing_reports, std::vector<std::string>{"after_bad"});
  const Node& failed = g.nodes[0];
  EXPECT_EQ(e.nodes[0].error, "planted failure");
  std::string msg = format_node_error(failed, "planted failure");
  EXPECT_NE(msg.find("exec.pipe:1:11: error: in node n0 (test.fail): planted failure"), std::string::npos) << msg;
}

TEST(Executor, CancellationStopsBeforeTheNextNode) {
  TestLib t;
  Graph g = t.compile("report \"a\" = test.busy(1)\n");
  std::atomic<bool> cancel{true};
  RunOptions o;
  o.cancel = &cancel;
  auto e = t.run(g, o);
  EXPECT_EQ(e.cancelled, 1u);
  EXPECT_FALSE(e.ok());
}

TEST(Executor, SeedsAreReproducibleAndDistinct) {
  TestLib t;
  Graph g = t.compile("report \"a\" = tensor.random([5])\nreport \"b\" = tensor.random([5], distribution=\"uniform\")\n");
  auto e1 = t.run(g), e2 = t.run(g);
  ASSERT_TRUE(e1.ok());
  EXPECT_TRUE(report(e1, "a")->toTensor().equal(report(e2, "a")->toTensor()));
  EXPECT_FALSE(report(e1, "a")->toTensor().equal(report(e1, "b")->toTensor()));
  RunOptions other;
  other.seed = 1;
  auto e3 = t.run(g, other);
  EXPECT_FALSE(report(e1, "a")->toTensor().equal(report(e3, "a")->toTensor()));
  // A node's seed depends on its identity, not on what else is in the graph.
  Graph bigger = t.compile("report \"z\" = tensor.random([2])\nreport \"a\" = tensor.random([5])\n");
  EXPECT_TRUE(report(e1, "a")->toTensor().equal(report(t.run(bigger), "a")->toTensor()));
}

TEST(Executor, ArithmeticAndReductions) {
  TestLib t;
  Graph g = t.compile(
      "let x = tensor.add(tensor.mul(tensor.random([3, 4]), 0.0), 2)\n"
      "report \"sum\" = tensor.sum(x)\nreport \"rows\" = tensor.mean(x, dim=1)\nreport \"max\" = tensor.max(x)\n");
  auto e = t.run(g);
  ASSERT_TRUE(e.ok());
  EXPECT_DOUBLE_EQ(report(e, "sum")->toTensor().item<double>(), 24.0);
  EXPECT_EQ(report(e, "rows")->toTensor().size(0), 3);
  EXPECT_DOUBLE_EQ(report(e, "max")->toTensor().item<double>(), 2.0);
  auto bad = t.run(t.compile("report \"m\" = tensor.mean(tensor.random([2]), dim=3)\n"));
  EXPECT_NE(bad.nodes[1].error.find("dim 3 is out of range"), std::string::npos) << bad.nodes[1].error;
}

class FileOps : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pipette-files-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FileOps, SaveAndLoadRoundTrip) {
  TestLib t;
  write_value_file(Value(at::arange(6, at::kFloat).reshape({2, 3})), dir_ / "in.pt");
  Graph g = t.compile("let x = tensor.load(\"in.pt\")\nsave(tensor.mul(x, 2), \"out.pt\")\nreport \"s\" = tensor.sum(x)\n");
  RunOptions o;
  o.script_dir = dir_;
  o.out_dir = dir_ / "out";
  auto e = t.run(g, o);
  ASSERT_TRUE(e.ok()) << e.nodes[0].error;
  EXPECT_DOUBLE_EQ(report(e, "s")->toTensor().item<double>(), 15.0);
  Value back = read_pt_file(dir_ / "out" / "out.pt");
  EXPECT_TRUE(back.toTensor().equal(at::arange(6, at::kFloat).reshape({2, 3}) * 2));
}

TEST_F(FileOps, ReadsNumpyFiles) {
  // A float32 [2, 2] array, written as numpy.save does.
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }";
  header += std::string(64 - (10 + header.size() + 1) % 64, ' ') + "\n";
  std::ofstream out(dir_ / "a.npy", std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  uint16_t len = static_cast<uint16_t>(header.size());
  out.write(reinterpret_cast<char*>(&len), 2);
  out << header;
  float data[4] = {1, 2, 3, 4};
  out.write(reinterpret_cast<char*>(data), sizeof data);
  out.close();
  TestLib t;
  RunOptions o;
  o.script_dir = dir_;
  auto e = t.run(t.compile("report \"a\" = tensor.load(\"a.npy\")\n"), o);
  ASSERT_TRUE(e.ok()) << e.nodes[0].error;
  EXPECT_TRUE(report(e, "a")->toTensor().equal(at::tensor({1.f, 2.f, 3.f, 4.f}).reshape({2, 2})));
}

TEST_F(FileOps, TorchScriptModelsLoadAndPredict) {
  // A tiny model built here, as a user would export one from Python.
  torch::jit::Module m("Doubler");
  m.define(R"(
def forward(self, x):
    return x * 2.0 + 1.0
)");
  m.save((dir_ / "doubler.pt").string());
  TestLib t;
  RunOptions o;
  o.script_dir = dir_;
  auto e = t.run(t.compile("let m = model.load(\"doubler.pt\")\n"
                           "report \"y\" = model.predict(m, tensor.add(tensor.mul(tensor.random([5, 2]), 0.0), 3), batch=2)\n"),
                 o);
  ASSERT_TRUE(e.ok()) << e.nodes[0].error;
  at::Tensor y = report(e, "y")->toTensor();
  EXPECT_EQ(y.size(0), 5);
  EXPECT_TRUE(y.eq(7.0).all().item<bool>());
  auto missing = t.run(t.compile("report \"y\" = model.load(\"nope.pt\")\n"), o);
  EXPECT_NE(missing.nodes[0].error.find("cannot open"), std::string::npos) << missing.nodes[0].error;
}

TEST(Data, FashionMnistMatchesTheRealFiles) {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed";
  TestLib t;
  auto e = t.run(t.compile("let d = data.fashion_mnist(split=\"test\", limit=10)\n"
                           "report \"labels\" = d.labels\nreport \"images\" = d.images\n"));
  ASSERT_TRUE(e.ok()) << e.nodes[0].error;
  at::Tensor labels = report(e, "labels")->toTensor();
  EXPECT_TRUE(labels.equal(at::tensor({9, 2, 1, 1, 6, 1, 4, 6, 5, 7}, at::kLong)));
  at::Tensor images = report(e, "images")->toTensor();
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{10, 1, 28, 28}));
  EXPECT_GE(images.min().item<float>(), 0.f);
  EXPECT_LE(images.max().item<float>(), 1.f);
}

TEST(Executor, ContextCarriesBudgetProgressAndLog) {
  TestLib t;
  Graph g = t.compile("report \"b\" = test.steps(5)\n");
  RunOptions o;
  o.memory_budget = 123456;
  std::vector<std::pair<uint64_t, uint64_t>> seen;
  std::vector<std::string> logs;
  o.progress = [&](const Node& n, uint64_t d, uint64_t all) {
    EXPECT_EQ(n.op, "test.steps");
    seen.emplace_back(d, all);
  };
  o.log = [&](const Node&, int level, const std::string& m) {
    EXPECT_EQ(level, OpContext::Warn);
    logs.push_back(m);
  };
  auto e = t.run(g, o);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(report(e, "b")->toInt(), 123456);
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen.back(), std::make_pair(uint64_t{5}, uint64_t{5}));
  EXPECT_EQ(logs, std::vector<std::string>{"halfway there"});
}

TEST(Executor, PerCallDevicePlacement) {
  TestLib t;
  Graph g = t.compile("let x = tensor.random([3])\nreport \"d\" = test.device(x, device=\"cpu\")\n");
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[1].device, "cpu");
  EXPECT_EQ(g.nodes[0].device, "");
  auto e = t.run(g);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(report(e, "d")->toStringRef(), "cpu/cpu");
  // Placement is not identity: the key does not change with the device.
  Graph plain = t.compile("let x = tensor.random([3])\nreport \"d\" = test.device(x)\n");
  EXPECT_EQ(provenance_keys(g, t.lib.ops, {}, 0)[1].hash, provenance_keys(plain, t.lib.ops, {}, 0)[1].hash);
  if (!at::hasCUDA()) {
    auto cuda = t.run(t.compile("report \"d\" = test.device(tensor.random([3]), device=\"cuda\")\n"));
    EXPECT_EQ(cuda.failed, 1u);
    EXPECT_NE(cuda.nodes[1].error.find("sees no CUDA device"), std::string::npos) << cuda.nodes[1].error;
  } else {
    auto cuda = t.run(t.compile("report \"d\" = test.device(tensor.random([3]), device=\"cuda\")\n"));
    ASSERT_TRUE(cuda.ok()) << cuda.nodes[1].error;
    EXPECT_EQ(report(cuda, "d")->toStringRef(), "cuda:0/cuda:0");  // the input moved
  }
}

TEST(Executor, PeakMemoryIsMeasuredWhenNodesRunOneAtATime) {
  TestLib t;
  // 50M floats = 200 MB allocated and written by the node.
  Graph g = t.compile("report \"s\" = tensor.sum(tensor.random([50000000]))\n");
  RunOptions o;
  o.jobs = 1;
  auto e = t.run(g, o);
  ASSERT_TRUE(e.ok());
  if (e.nodes[0].peak_bytes < 0) GTEST_SKIP() << "this kernel cannot reset the RSS high-water mark";
  EXPECT_GT(e.nodes[0].peak_bytes, 150ll << 20);
  EXPECT_LT(e.nodes[1].peak_bytes, 50ll << 20);  // the sum needs no big buffer
  o.jobs = 2;
  EXPECT_EQ(t.run(g, o).nodes[0].peak_bytes, -1);  // overlapping nodes: unknown
}

TEST_F(FileOps, NpyAndCsvWriting) {
  for (auto dtype : {at::kFloat, at::kDouble, at::kLong, at::kInt, at::kByte, at::kBool}) {
    at::Tensor x = (at::arange(12, at::kLong).reshape({3, 4}) % 5).to(dtype);
    write_value_file(Value(x), dir_ / "x.npy");
    EXPECT_TRUE(stdlib::read_npy(dir_ / "x.npy").equal(x)) << dtype_name(dtype);
  }
  write_value_file(Value(at::tensor({1.5, 2.0})), dir_ / "scalar.npy");
  EXPECT_TRUE(stdlib::read_npy(dir_ / "scalar.npy").equal(at::tensor({1.5, 2.0})));

  c10::impl::GenericList names(c10::StringType::get());
  names.push_back("shirt, long");
  names.push_back("say \"hi\"");
  Value table = make_record({{"label", Value(names)}, {"accuracy", Value(at::tensor({0.5, 0.25}, at::kDouble))}});
  EXPECT_EQ(table_to_csv(table), "label,accuracy\n\"shirt, long\",0.5\n\"say \"\"hi\"\"\",0.25\n");
  Value ragged = make_record({{"a", Value(at::ones({2}))}, {"b", Value(at::ones({3}))}});
  EXPECT_THROW(table_to_csv(ragged), OpError);
  EXPECT_EQ(table_to_csv(Value(at::tensor({1, 2, 3, 4}).reshape({2, 2}))), "1,2\n3,4\n");
}

// Models run without TorchScript's profiling executor unless asked: it
// re-profiles every new batch shape, and the flag is per thread, so the
// executor sets it on whichever thread runs the node.
TEST(Executor, RunsModelsWithoutTheProfilingExecutorUnlessAsked) {
  TestLib t;
  Graph g = t.compile("for i in [1, 2, 3] { report \"r{i}\" = test.jit_optimize(i) }\n");
  for (bool on : {false, true}) {
    RunOptions o;
    o.jobs = 2;
    o.jit_optimize = on;
    auto e = t.run(g, o);
    ASSERT_TRUE(e.ok());
    for (const char* r : {"r1", "r2", "r3"}) EXPECT_EQ(report(e, r)->toBool(), on) << r;
  }
}

}  // namespace
}  // namespace pipette
