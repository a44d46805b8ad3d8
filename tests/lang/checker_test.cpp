// Type checking and name resolution against op signatures.
#include <gtest/gtest.h>

#include "support.hpp"

namespace pipette::test {
namespace {

bool has(const Compiled& c, const std::string& text) { return c.diagnostics.find(text) != std::string::npos; }

TEST(Checker, CleanScriptHasNoDiagnostics) {
  auto c = compile(R"(
let d = data.fashion_mnist(split="test", limit=8)
report "mean" = tensor.mean(d.images)
)");
  EXPECT_EQ(c.errors + c.warnings, 0u) << c.diagnostics;
  ASSERT_TRUE(c.graph);
}

TEST(Checker, UnknownOpSuggestsTheClosest) {
  auto c = compile("let a = attr.integrated_gradient(1)\nreport \"a\" = a\n");
  EXPECT_TRUE(has(c, "unknown op 'attr.integrated_gradient'")) << c.diagnostics;
  EXPECT_TRUE(has(c, "did you mean 'attr.integrated_gradients'?"));
}

TEST(Checker, UnknownParameterSuggests) {
  auto c = compile("let d = data.fashion_mnist(splt=\"test\")\nreport \"a\" = d\n");
  EXPECT_TRUE(has(c, "'data.fashion_mnist' has no parameter 'splt'")) << c.diagnostics;
  EXPECT_TRUE(has(c, "did you mean 'split'?"));
}

TEST(Checker, MissingRequiredArgument) {
  auto c = compile("report \"a\" = model.predict(model.load(\"m.pt\"))\n");
  EXPECT_TRUE(has(c, "missing argument 'inputs' of 'model.predict'")) << c.diagnostics;
  EXPECT_TRUE(has(c, "note: signature: model.predict("));
}

TEST(Checker, WrongTypeSaysExpectedAndFound) {
  auto c = compile("report \"a\" = tensor.mean(\"not a tensor\")\n");
  EXPECT_TRUE(has(c, "argument 'x' of 'tensor.mean' must be tensor, found string")) << c.diagnostics;
}

TEST(Checker, IntWidensToFloatAndIsStoredAsFloat) {
  auto c = compile("report \"a\" = tensor.add(tensor.random([2]), 2)\n");
  ASSERT_TRUE(c.graph) << c.diagnostics;
  auto& add = c.graph->nodes.back();
  ASSERT_EQ(add.op, "tensor.add");
  EXPECT_EQ(add.arg("b")->kind, Operand::Kind::Float);
  EXPECT_EQ(add.arg("b")->f, 2.0);
}

TEST(Checker, DuplicateNamesAndArguments) {
  auto c = compile("let a = 1\nlet a = 2\nreport \"x\" = tensor.random([a], distribution=\"normal\", distribution=\"uniform\")\n");
  EXPECT_TRUE(has(c, "redefinition of 'a'")) << c.diagnostics;
  EXPECT_TRUE(has(c, "previous definition is here"));
  EXPECT_TRUE(has(c, "argument 'distribution' is given twice"));
}

TEST(Checker, UseBeforeDefinition) {
  auto c = compile("report \"x\" = tensor.mean(b)\nlet b = tensor.random([3])\n");
  EXPECT_TRUE(has(c, "'b' is used before its definition")) << c.diagnostics;
}

TEST(Checker, UnusedLetIsAWarningOnly) {
  auto c = compile("let unused = tensor.random([3])\nreport \"x\" = 1\n");
  EXPECT_EQ(c.errors, 0u);
  EXPECT_EQ(c.warnings, 1u);
  EXPECT_TRUE(has(c, "warning: unused variable 'unused'")) << c.diagnostics;
  ASSERT_TRUE(c.graph);
  EXPECT_TRUE(c.graph->nodes.empty());  // and it is not computed
}

TEST(Checker, VariablesMayNotShadowNamespaces) {
  auto c = compile("let data = 1\nreport \"x\" = data\n");
  EXPECT_TRUE(has(c, "'data' is the name of an op namespace")) << c.diagnostics;
  EXPECT_EQ(c.errors, 1u);  // the use is not reported again
}

TEST(Checker, ChoicesAndRanges) {
  auto c = compile("let d = data.fashion_mnist(split=\"tset\", limit=0)\nreport \"x\" = d\n");
  EXPECT_TRUE(has(c, "'tset' is not a valid split for 'data.fashion_mnist'")) << c.diagnostics;
  EXPECT_TRUE(has(c, "did you mean 'test'?"));
  EXPECT_TRUE(has(c, "argument 'limit' of 'data.fashion_mnist' must be at least 1, found 0"));
}

TEST(Checker, CompileTimeArgumentsMustBeConstants) {
  auto c = compile("let t = tensor.random([2])\nreport \"x\" = tensor.load(t)\n");
  EXPECT_TRUE(has(c, "must be string, found tensor")) << c.diagnostics;
  auto d = compile("pipeline p(path) { return tensor.load(path) }\nreport \"x\" = p(\"a.pt\")\n");
  EXPECT_EQ(d.errors, 0u) << d.diagnostics;
}

TEST(Checker, RecordFieldsAreChecked) {
  auto c = compile("let d = data.fashion_mnist()\nreport \"x\" = d.imgaes\n");
  EXPECT_TRUE(has(c, "no field 'imgaes' in dataset{images: tensor, labels: tensor}")) << c.diagnostics;
  EXPECT_TRUE(has(c, "did you mean 'images'?"));
  auto ok = compile("let r = {a: 1, b: \"x\"}\nreport \"x\" = r.b\n");
  ASSERT_TRUE(ok.graph) << ok.diagnostics;
  EXPECT_EQ(ok.graph->reports[0].value.s, "x");
}

TEST(Checker, ParamsAndSetOverrides) {
  const char* text = "param steps: int = 32\nparam rate: float = 1\nreport \"s\" = steps\nreport \"r\" = rate\n";
  auto c = compile(text);
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(c.graph->reports[0].value.i, 32);
  EXPECT_EQ(c.graph->reports[1].value.kind, Operand::Kind::Float);

  lang::CompileOptions o;
  o.sets = {{"steps", "64"}};
  auto s = compile(text, o);
  ASSERT_TRUE(s.graph) << s.diagnostics;
  EXPECT_EQ(s.graph->reports[0].value.i, 64);

  o.sets = {{"steps", "many"}};
  auto bad = compile(text, o);
  EXPECT_TRUE(has(bad, "--set steps=many: ")) << bad.diagnostics;

  o.sets = {{"stpes", "3"}};
  auto unknown = compile(text, o);
  EXPECT_TRUE(has(unknown, "--set stpes: the script has no param named 'stpes'")) << unknown.diagnostics;
  EXPECT_TRUE(has(unknown, "did you mean 'steps'?"));

  auto nodefault = compile("param n: int\nreport \"n\" = n\n");
  EXPECT_TRUE(has(nodefault, "param 'n' has no default and no value was given")) << nodefault.diagnostics;
}

TEST(Checker, StringParamsTakeBareWordsFromSet) {
  lang::CompileOptions o;
  o.sets = {{"name", "resnet"}, {"sizes", "[1, 2]"}};
  auto c = compile("param name: string = \"cnn\"\nparam sizes: list<int> = []\nreport \"n\" = name\nreport \"s\" = sizes\n", o);
  ASSERT_TRUE(c.graph) << c.diagnostics;
  EXPECT_EQ(c.graph->reports[0].value.s, "resnet");
  EXPECT_EQ(c.graph->reports[1].value.items.size(), 2u);
}

TEST(Checker, InterpolationNeedsConstants) {
  auto c = compile("let t = tensor.random([2])\nreport \"r_{t}\" = t\n");
  EXPECT_TRUE(has(c, "cannot put 't' into a string: its value is only known when the script runs")) << c.diagnostics;
}

TEST(Checker, SavePathsStayInsideTheOutputDirectory) {
  auto abs = compile("save(tensor.random([2]), \"/etc/x.pt\")\n");
  EXPECT_TRUE(has(abs, "output path \"/etc/x.pt\" must stay inside the run's output directory")) << abs.diagnostics;
  auto up = compile("save(tensor.random([2]), \"a/../../x.pt\")\n");
  EXPECT_TRUE(has(up, "must stay inside")) << up.diagnostics;
  auto twice = compile("save(tensor.random([2]), \"x.pt\")\nsave(tensor.random([3]), \"x.pt\")\n");
  EXPECT_TRUE(has(twice, "\"x.pt\" is written twice")) << twice.diagnostics;
}

TEST(Checker, PipelinesSeeOnlyTheirParameters) {
  auto c = compile("let outer = 1\npipeline p() { return outer }\nreport \"x\" = p()\n");
  EXPECT_TRUE(has(c, "unknown name 'outer'")) << c.diagnostics;
  EXPECT_TRUE(has(c, "pass 'outer' as a parameter"));
  EXPECT_TRUE(has(c, "note: in pipeline 'p' called here"));
}

TEST(Checker, UncalledPipelinesAreCheckedToo) {
  auto c = compile("pipeline p(x) { return tensor.meen(x) }\nreport \"x\" = 1\n");
  EXPECT_TRUE(has(c, "unknown op 'tensor.meen'")) << c.diagnostics;
}

TEST(Checker, PluginOpsNeedTheirPlugin) {
  lang::CompileOptions o;
  o.resolve_plugin = [](const std::string& name, OpRegistry& into) -> std::optional<std::string> {
    if (name != "toy") return "not installed";
    into.add(OpSignature("toy.double", "Doubles.").input("x", "tensor", "in").returns("tensor"));
    return std::nullopt;
  };
  auto ok = compile("plugin \"toy\"\nreport \"x\" = toy.double(tensor.random([2]))\n", o);
  ASSERT_TRUE(ok.graph) << ok.diagnostics;
  EXPECT_EQ(ok.graph->plugins, std::vector<std::string>{"toy"});
  auto missing = compile("plugin \"nope\"\n", o);
  EXPECT_TRUE(has(missing, "cannot load plugin 'nope': not installed")) << missing.diagnostics;
  auto undeclared = compile("report \"x\" = toy.double(tensor.random([2]))\n", o);
  EXPECT_TRUE(has(undeclared, "unknown op 'toy.double'")) << undeclared.diagnostics;
}

TEST(Checker, AllErrorsInOnePass) {
  auto c = compile("let a = nope.op()\nlet b = tensor.mean(1)\nlet c = d\nreport \"x\" = [a, b, c]\n");
  EXPECT_EQ(c.errors, 3u) << c.diagnostics;
}

}  // namespace
}  // namespace pipette::test
