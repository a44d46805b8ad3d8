// Datasets: lazily read, batched, indexed views, and the data.* ops over them.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>

#include "engine/dataset.hpp"
#include "engine/executor.hpp"
#include "engine/value_io.hpp"
#include "lang/compiler.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette {
namespace {

namespace fs = std::filesystem;

at::Tensor field(const Value& record, const std::string& name) {
  return select_path(record, {name}).toTensor();
}

TEST(Dataset, TensorDatasetGathersSlicesAndChecksRanges) {
  auto d = tensor_dataset({{"x", at::arange(10, at::kFloat).reshape({5, 2})}, {"y", at::arange(5, at::kLong)}}, "toy");
  EXPECT_EQ(d->size(), 5);
  EXPECT_EQ(d->fields(), (std::vector<std::string>{"x", "y"}));
  Value b = d->gather(at::tensor({4, 0}, at::kLong));
  EXPECT_TRUE(field(b, "y").equal(at::tensor({4, 0}, at::kLong)));
  EXPECT_TRUE(field(b, "x").equal(at::tensor({8.f, 9.f, 0.f, 1.f}).reshape({2, 2})));
  EXPECT_EQ(field(d->slice(3, 99), "y").size(0), 2);  // clamped to the end
  try {
    d->gather(at::tensor({5}, at::kLong));
    FAIL() << "out of range";
  } catch (const OpError& e) {
    EXPECT_NE(std::string(e.what()).find("example index 5 is out of range for toy (5 examples)"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(tensor_dataset({{"x", at::zeros({3})}, {"y", at::zeros({4})}}, "bad"), OpError);
  EXPECT_THROW(tensor_dataset({{"x", at::zeros({})}}, "scalar"), OpError);
}

TEST(Dataset, IndexViewsComposeWithoutCopying) {
  auto base = tensor_dataset({{"v", at::arange(10, at::kLong) * 10}}, "tens");
  auto odd = index_dataset(base, at::tensor({1, 3, 5, 7, 9}, at::kLong), "odd");
  auto tail = index_dataset(odd, at::tensor({4, 2}, at::kLong), "tail");
  EXPECT_EQ(tail->size(), 2);
  EXPECT_TRUE(tail->column("v").equal(at::tensor({90, 50}, at::kLong)));
  EXPECT_TRUE(tail->column("v").is_same(tail->column("v")));  // read once, shared by every consumer
  EXPECT_THROW(tail->column("w"), OpError);
}

TEST(Dataset, AValueIsADatasetOnlyWhenItHoldsOne) {
  Value d = make_dataset(tensor_dataset({{"v", at::zeros({2})}}, "z"));
  EXPECT_TRUE(is_dataset(d));
  EXPECT_FALSE(is_dataset(Value(at::zeros({2}))));
  EXPECT_TRUE(contains_dataset(make_record({{"train", d}, {"n", Value(int64_t{2})}})));
  EXPECT_FALSE(contains_dataset(make_record({{"n", Value(int64_t{2})}})));
  EXPECT_EQ(describe(d), "dataset z (2 examples)");
  EXPECT_TRUE(select_path(d, {"v"}).toTensor().equal(at::zeros({2})));
  EXPECT_THROW(to_dataset(Value(int64_t{1})), OpError);
}

struct DataScript : ::testing::Test {
  void SetUp() override {
    stdlib::register_all(lib);
    dir = fs::temp_directory_path() / ("pipette-data-" + std::to_string(::getpid()));
    fs::create_directories(dir);
  }
  void TearDown() override { fs::remove_all(dir); }
  Execution run(const std::string& text) {
    lang::Compiler c(lib.ops, {});
    auto g = c.compile_text((dir / "d.pipe").string(), text);
    EXPECT_TRUE(g) << c.render_diagnostics();
    graph = g ? *g : Graph{};
    RunOptions o;
    o.out_dir = dir / "out";
    o.script_dir = dir;
    return execute(graph, lib.ops, lib.impls, o);
  }
  Value report(const Execution& e, const std::string& name) {
    for (auto& [k, v] : e.reports)
      if (k == name) return v;
    ADD_FAILURE() << "no report " << name;
    return Value();
  }
  OpLibrary lib;
  fs::path dir;
  Graph graph;
};

TEST_F(DataScript, FashionMnistOpensLazilyAndReadsWhatIsAsked) {
  auto e = run("let d = data.fashion_mnist(split=\"test\", limit=100)\n"
               "report \"d\" = d\nreport \"b\" = data.batch(d, size=8, index=2)\n");
  ASSERT_TRUE(e.ok()) << e.nodes[0].error << e.nodes[1].error;
  auto d = to_dataset(report(e, "d"));
  EXPECT_EQ(d->size(), 100);
  EXPECT_EQ(d->summary(), "Fashion-MNIST test (100 examples)");
  Value b = report(e, "b");
  EXPECT_EQ(field(b, "images").sizes(), (std::vector<int64_t>{8, 1, 28, 28}));
  EXPECT_TRUE(field(b, "labels").equal(d->column("labels").slice(0, 16, 24)));
  EXPECT_TRUE(field(b, "images").equal(d->column("images").slice(0, 16, 24)));
}

TEST_F(DataScript, AMissingDatasetFailsWhenOpenedNamingTheFile) {
  auto e = run("report \"n\" = tensor.sum(data.fashion_mnist(root=\"nowhere\").labels)\n");
  ASSERT_EQ(e.failed, 1u);
  EXPECT_NE(e.nodes[0].error.find("nowhere/train-images-idx3-ubyte.gz"), std::string::npos) << e.nodes[0].error;
}

TEST_F(DataScript, SplitSubsetAndBatchPartitionTheExamples) {
  write_value_file(Value(at::arange(10, at::kLong)), dir / "i.pt");
  auto e = run(
      "let d = data.from_tensors({x: tensor.random([10, 3]), i: tensor.load(\"i.pt\")})\n"
      "let parts = data.split(d, fraction=0.7, seed=3)\n"
      "report \"train\" = parts.train.i\nreport \"test\" = parts.test.i\n"
      "report \"first\" = data.subset(d, count=4, start=2).i\n"
      "report \"random\" = data.subset(d, count=4, shuffle=true, seed=5).i\n"
      "report \"random_again\" = data.subset(d, count=4, shuffle=true, seed=6).i\n"
      "report \"last_batch\" = data.batch(d, size=4, index=2).i\n"
      "save(parts.test, \"test.pt\")\n"
      "report \"past_end\" = data.batch(d, size=4, index=3)\n");
  EXPECT_EQ(e.failed, 1u);  // only the batch past the end
  at::Tensor train = report(e, "train").toTensor(), test = report(e, "test").toTensor();
  EXPECT_EQ(train.size(0), 7);
  EXPECT_EQ(test.size(0), 3);
  // Together the two halves are every example, once.
  EXPECT_TRUE(std::get<0>(at::cat({train, test}).sort()).equal(at::arange(10, at::kLong)));
  EXPECT_FALSE(train.equal(at::arange(7, at::kLong)));  // shuffled
  EXPECT_TRUE(report(e, "first").toTensor().equal(at::arange(2, 6, at::kLong)));
  EXPECT_FALSE(report(e, "random").toTensor().equal(report(e, "random_again").toTensor()));
  EXPECT_TRUE(report(e, "last_batch").toTensor().equal(at::tensor({8, 9}, at::kLong)));
  bool batch_error = false;
  for (auto& n : e.nodes) batch_error |= n.error.find("starts past the end") != std::string::npos;
  EXPECT_TRUE(batch_error);
  Value saved = read_pt_file(dir / "out" / "test.pt");  // a dataset is saved as its fields
  EXPECT_TRUE(field(saved, "i").equal(test));
  EXPECT_EQ(field(saved, "x").sizes(), (std::vector<int64_t>{3, 3}));
}

TEST_F(DataScript, TypesFollowDatasetFields) {
  lang::Compiler c(lib.ops, {});
  auto g = c.compile_text("t.pipe", "let d = data.fashion_mnist()\nreport \"x\" = d.pixels\n");
  EXPECT_FALSE(g);
  EXPECT_NE(c.render_diagnostics().find("no field 'pixels' in dataset{images: tensor, labels: tensor}"),
            std::string::npos)
      << c.render_diagnostics();
  EXPECT_TRUE(Type::parse("dataset{images: tensor}")->accepts(*Type::parse("dataset{images: tensor, labels: tensor}")));
  EXPECT_FALSE(Type::parse("dataset{images: tensor}")->accepts(*Type::parse("record{images: tensor}")));
  EXPECT_EQ(Type::parse("dataset{a: tensor}")->to_string(), "dataset{a: tensor}");
}

}  // namespace
}  // namespace pipette
