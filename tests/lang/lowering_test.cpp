// Lowering to the graph IR: loops, pipelines, CSE, DCE, imports, determinism.
#include <gtest/gtest.h>

#include <chrono>

#include <filesystem>
#include <fstream>

#include "lang/passes.hpp"
#include "support.hpp"

namespace pipette::test {
namespace {

TEST(Lowering, LoopsExpandIntoIndependentBranches) {
  auto c = compile("for n in [1, 2, 3] {\n  report \"m{n}\" = tensor.mean(tensor.random([n]))\n}\n");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(count_op(*c.graph, "tensor.random"), 3u);
  EXPECT_EQ(count_op(*c.graph, "tensor.mean"), 3u);
  ASSERT_EQ(c.graph->reports.size(), 3u);
  EXPECT_EQ(c.graph->reports[2].name, "m3");
  EXPECT_EQ(c.graph->nodes[4].arg("shape")->to_source(), "[3]");
}

TEST(Lowering, LoopsOverListParams) {
  lang::CompileOptions o;
  o.sets = {{"sizes", "[4, 5]"}};
  auto c = compile("param sizes: list<int> = [1]\nfor s in sizes { report \"r{s}\" = tensor.random([s]) }\n", o);
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(c.graph->reports.size(), 2u);
  EXPECT_EQ(c.graph->reports[1].name, "r5");
}

TEST(Lowering, LoopsNeedConstantLists) {
  auto c = compile("let t = tensor.random([2])\nfor x in t { report \"a\" = x }\n");
  EXPECT_NE(c.diagnostics.find("a for loop needs a list, found tensor"), std::string::npos) << c.diagnostics;
}

TEST(Lowering, PipelinesAreInlinedAtEachCall) {
  auto c = compile(R"(
pipeline norm(x: tensor, k: float = 2) {
  let m = tensor.mean(x)
  return tensor.div(tensor.sub(x, m), k)
}
report "a" = norm(tensor.random([2]))
report "b" = tensor.random([3]) |> norm(k=4)
)");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(count_op(*c.graph, "tensor.div"), 2u);
  const Node& div = c.graph->nodes.back();
  EXPECT_EQ(div.arg("b")->f, 4.0);
  ASSERT_EQ(div.inlined_from.size(), 1u);
  EXPECT_EQ(div.inlined_from[0].line, 7u);  // the call site
  EXPECT_EQ(div.loc.line, 4u);              // the op inside the pipeline
}

TEST(Lowering, PipelinesCallingPipelines) {
  auto c = compile("pipeline a(x) { return tensor.mean(x) }\npipeline b(x) { return a(a(x)) }\nreport \"r\" = b(tensor.random([4]))\n");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(count_op(*c.graph, "tensor.mean"), 2u);
  EXPECT_EQ(c.graph->nodes.back().inlined_from.size(), 2u);
}

TEST(Lowering, RecursionIsADiagnostic) {
  auto c = compile("pipeline a(x) { return b(x) }\npipeline b(x) { return a(x) }\nreport \"r\" = a(1)\n");
  EXPECT_NE(c.diagnostics.find("pipeline 'a' calls itself (a -> b -> a)"), std::string::npos) << c.diagnostics;
  EXPECT_FALSE(c.graph);
}

TEST(Lowering, ExponentialExpansionIsBounded) {
  std::string text = "pipeline p0(x) { return tensor.mean(x) }\n";
  for (int i = 1; i <= 40; ++i)
    text += "pipeline p" + std::to_string(i) + "(x) { return tensor.add(p" + std::to_string(i - 1) + "(x), p" +
            std::to_string(i - 1) + "(tensor.mul(x, 2))) }\n";
  text += "report \"r\" = p40(tensor.random([1]))\n";
  lang::CompileOptions o;
  o.max_nodes = 10000;
  auto c = compile(text, o);
  EXPECT_NE(c.diagnostics.find("expands to more than 10000 operations"), std::string::npos) << c.diagnostics;
}

TEST(Lowering, ExpansionPastTheDefaultLimitIsRefusedBeforeItIsMaterialised) {
  // 41 pipelines that each call the one before twice: 2^41 nodes. With the
  // default limit of a million nodes, the refusal used to come after 16 s and
  // 5 GB of expansion; counted on the syntax tree first, it takes milliseconds
  // (the bound allows a slow, busy machine a hundred times over).
  std::string text = "pipeline p0(x) { return tensor.add(x, 1) }\n";
  for (int i = 1; i <= 41; ++i)
    text += "pipeline p" + std::to_string(i) + "(x) { return p" + std::to_string(i - 1) + "(p" +
            std::to_string(i - 1) + "(x)) }\n";
  text += "report \"r\" = p41(tensor.random([1]))\n";
  auto t0 = std::chrono::steady_clock::now();
  auto c = compile(text);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(c.diagnostics.find("expands to more than 1000000 operations"), std::string::npos) << c.diagnostics;
  EXPECT_LT(seconds, 2.0);
  // The same for a loop over a literal list: 2000 iterations of a 1024-node pipeline.
  std::string items = "1";
  for (int i = 2; i <= 2000; ++i) items += ", " + std::to_string(i);
  std::string looped = text.substr(0, text.find("pipeline p11")) + "for i in [" + items +
                       "] { report \"r{i}\" = p10(tensor.random([i])) }\n";
  t0 = std::chrono::steady_clock::now();
  auto loop = compile(looped);
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_NE(loop.diagnostics.find("expands to more than 1000000 operations"), std::string::npos) << loop.diagnostics;
  EXPECT_LT(seconds, 2.0);
  // A script under the limit still compiles.
  lang::CompileOptions small;
  small.max_nodes = 64;
  auto under = compile("pipeline p(x) { return tensor.add(x, 1) }\nfor i in [1, 2, 3] { report \"r{i}\" = p(tensor.random([i])) }\n", small);
  EXPECT_TRUE(under.graph) << under.diagnostics;
}

TEST(Lowering, CommonSubexpressionsMerge) {
  auto c = compile(R"(
let a = tensor.random([3])
let b = tensor.random([3])
report "x" = tensor.add(tensor.mean(a), tensor.mean(b))
)");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(count_op(*c.graph, "tensor.random"), 1u);
  EXPECT_EQ(count_op(*c.graph, "tensor.mean"), 1u);
  const Node& add = c.graph->nodes.back();
  EXPECT_EQ(add.arg("a")->node, add.arg("b")->node);
}

TEST(Lowering, DeadNodesAreDropped) {
  lang::CompileOptions o;
  auto c = compile("let used = tensor.random([1])\nlet dead = tensor.mean(used)\nreport \"x\" = used\n", o);
  ASSERT_TRUE(c.graph);
  EXPECT_EQ(c.graph->nodes.size(), 1u);
  // save is a side effect: it and its inputs stay.
  auto s = compile("tensor.random([2]) |> save(\"r.pt\")\n");
  ASSERT_TRUE(s.graph) << s.diagnostics;
  EXPECT_EQ(s.graph->nodes.size(), 2u);
}

TEST(Lowering, PassesWorkAlone) {
  Graph g;
  auto node = [&](std::string op, std::vector<std::pair<std::string, Operand>> args) {
    Node n;
    n.id = static_cast<uint32_t>(g.nodes.size());
    n.op = std::move(op);
    n.args = std::move(args);
    g.nodes.push_back(n);
  };
  node("x.a", {{"v", Operand::integer(1)}});
  node("x.a", {{"v", Operand::integer(1)}});
  node("x.b", {{"in", Operand::ref(1)}});
  node("x.c", {{"in", Operand::ref(0)}});  // dead
  g.reports.push_back(Report{"r", Operand::ref(2, {"f"}), Type::any(), {}});
  lang::merge_common_nodes(g);
  ASSERT_EQ(g.nodes.size(), 3u);
  EXPECT_EQ(g.nodes[1].arg("in")->node, 0u);
  lang::drop_dead_nodes(g);
  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.reports[0].value.node, 1u);
  EXPECT_EQ(g.reports[0].value.path, std::vector<std::string>{"f"});
}

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("pipette-import-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_ / "lib");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& rel, const std::string& text) { std::ofstream(dir_ / rel) << text; }
  Compiled compile_main(lang::CompileOptions o = {}) {
    lang::Compiler c(registry(), std::move(o));
    Compiled out;
    out.graph = c.compile_file((dir_ / "main.pipe").string());
    out.diagnostics = c.render_diagnostics();
    out.errors = c.diagnostics().error_count();
    return out;
  }
  std::filesystem::path dir_;
};

TEST_F(ImportTest, EachFileLoadsOnceAndByName) {
  write("lib/m.pipe", "pipeline twice(x) { return tensor.mul(x, 2) }\n");
  write("lib/n.pipe", "import \"m.pipe\"\npipeline four(x) { return twice(twice(x)) }\n");
  write("main.pipe", "import \"lib/m.pipe\"\nimport n\nreport \"r\" = four(tensor.random([1]))\n");
  lang::CompileOptions o;
  o.module_path = {(dir_ / "lib").string()};
  auto c = compile_main(o);
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(count_op(*c.graph, "tensor.mul"), 2u);
}

TEST_F(ImportTest, CyclesAreDiagnosed) {
  write("lib/a.pipe", "import \"b.pipe\"\n");
  write("lib/b.pipe", "import \"a.pipe\"\n");
  write("main.pipe", "import \"lib/a.pipe\"\n");
  auto c = compile_main();
  EXPECT_NE(c.diagnostics.find("import cycle: "), std::string::npos) << c.diagnostics;
  EXPECT_NE(c.diagnostics.find("a.pipe -> "), std::string::npos);
}

TEST_F(ImportTest, ModulesOnlyDefinePipelines) {
  write("lib/m.pipe", "let x = 1\n");
  write("main.pipe", "import \"lib/m.pipe\"\n");
  auto c = compile_main();
  EXPECT_NE(c.diagnostics.find("an imported module may only define pipelines"), std::string::npos) << c.diagnostics;
}

TEST_F(ImportTest, MissingModuleListsWhereItLooked) {
  write("main.pipe", "import nothing.here\n");
  lang::CompileOptions o;
  o.module_path = {(dir_ / "lib").string()};
  auto c = compile_main(o);
  EXPECT_NE(c.diagnostics.find("cannot find module 'nothing.here'"), std::string::npos) << c.diagnostics;
  EXPECT_NE(c.diagnostics.find("nothing/here.pipe"), std::string::npos);
}

TEST(Determinism, SameScriptSameBytes) {
  std::ifstream in(std::string(PIPETTE_SOURCE_DIR) + "/examples/explain_fashion.pipe");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ASSERT_FALSE(text.empty());
  auto a = compile(text);
  auto b = compile(text);
  ASSERT_TRUE(a.graph) << a.diagnostics;
  EXPECT_EQ(graph_to_json(*a.graph), graph_to_json(*b.graph));
  EXPECT_EQ(graph_to_dot(*a.graph), graph_to_dot(*b.graph));
  // A different param changes exactly the nodes that depend on it.
  lang::CompileOptions o;
  o.sets = {{"steps", "64"}};
  auto c = compile(text, o);
  ASSERT_TRUE(c.graph);
  ASSERT_EQ(c.graph->nodes.size(), a.graph->nodes.size());
  size_t differ = 0;
  for (size_t i = 0; i < a.graph->nodes.size(); ++i) {
    std::string x, y;
    for (auto& [k, v] : a.graph->nodes[i].args) x += v.canonical();
    for (auto& [k, v] : c.graph->nodes[i].args) y += v.canonical();
    differ += x != y;
  }
  EXPECT_EQ(differ, 2u);  // only integrated_gradients and max_sensitivity of IG (steps=...)
}

}  // namespace
}  // namespace pipette::test

namespace pipette::test {

const Node& only(const Graph& g, const std::string& op) {
  for (auto& n : g.nodes)
    if (n.op == op) return n;
  ADD_FAILURE() << "no " << op;
  return g.nodes.front();
}

// resources= on an op call or a pipeline call: what the node's job asks a
// cluster for. A pipeline's request reaches the nodes inside it; a node's own
// request wins key by key; neither changes the node's arguments.
TEST(Lowering, ResourcesOnCallsAndPipelines) {
  auto c = compile(R"(
pipeline shift(x: tensor) {
  return tensor.add(x, 1.0, resources={mem: "8G", time: "30m"})
}
let a = tensor.random([2])
report "r" = shift(a, resources={cpus: 4, time: "2h"})
report "s" = tensor.mul(a, 2.0, resources={gpus: 1, partition: "gpu"}, device="cpu")
)");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(only(*c.graph, "tensor.add").resources.to_string(), "cpus=4 mem=8G time=00:30:00");
  const Node& mul = only(*c.graph, "tensor.mul");
  EXPECT_EQ(mul.resources.to_string(), "gpus=1 partition=gpu");
  EXPECT_EQ(mul.device, "cpu");
  EXPECT_EQ(mul.args.size(), 2u);
  EXPECT_TRUE(only(*c.graph, "tensor.random").resources.empty());
}

TEST(Lowering, BadResourcesAreNamedWhereTheyAreWritten) {
  auto c = compile("report \"s\" = tensor.mul(tensor.random([2]), 2.0, resources={gpu: 1})\n");
  EXPECT_FALSE(c.graph);
  EXPECT_NE(c.diagnostics.find("test.pipe:1:60: error: in resources: no resource is called 'gpu'"), std::string::npos)
      << c.diagnostics;
  EXPECT_NE(c.diagnostics.find("did you mean 'gpus'?"), std::string::npos) << c.diagnostics;
  c = compile("report \"s\" = tensor.mul(tensor.random([2]), 2.0, resources={mem: \"lots\"})\n");
  EXPECT_NE(c.diagnostics.find("mem expects a size such as 512M or 16G, got 'lots'"), std::string::npos) << c.diagnostics;
  c = compile("let r = tensor.random([2])\nreport \"s\" = tensor.mul(r, 2.0, resources=r)\n");
  EXPECT_NE(c.diagnostics.find("resources must be a constant record"), std::string::npos) << c.diagnostics;
}

TEST(Lowering, ShardsSplitAnAttributionCallByExampleRange) {
  auto c = compile(R"(
let m = model.load("net.pt")
let x = tensor.random([10, 4])
report "a" = attr.saliency(m, x, target=tensor.random([10]), shards=4, resources={cpus: 2})
)");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(count_op(*c.graph, "attr.saliency"), 4u);
  EXPECT_EQ(count_op(*c.graph, "tensor.shard"), 8u);  // inputs and target, per shard
  EXPECT_EQ(count_op(*c.graph, "tensor.cat"), 1u);
  for (auto& n : c.graph->nodes)
    if (n.op == "attr.saliency") EXPECT_EQ(n.resources.to_string(), "cpus=2");
  auto bad = compile("report \"a\" = tensor.add(tensor.random([2]), 1.0, shards=2)\n");
  EXPECT_NE(bad.diagnostics.find("'tensor.add' cannot be sharded"), std::string::npos) << bad.diagnostics;
  bad = compile("let m = model.load(\"net.pt\")\nreport \"a\" = attr.saliency(m, tensor.random([2, 2]), shards=0)\n");
  EXPECT_NE(bad.diagnostics.find("shards must be a constant whole number from 1 to 10000"), std::string::npos)
      << bad.diagnostics;
}

}  // namespace pipette::test
