// The op registry: names, namespaces, clashes, and signature declarations.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "engine/graph.hpp"
#include "engine/op_registry.hpp"

namespace pipette {
namespace {

TEST(Registry, FindsOpsAndNamespaces) {
  OpRegistry r;
  r.add(OpSignature("attr.saliency", "S.").input("x", "tensor", "").returns("tensor"));
  r.add(OpSignature("attr.layer.gradcam", "G.").returns("tensor"));
  r.add(OpSignature("save", "Save.").returns("string"));
  EXPECT_TRUE(r.find("attr.saliency"));
  EXPECT_FALSE(r.find("attr"));
  EXPECT_TRUE(r.is_namespace("attr"));
  EXPECT_TRUE(r.is_namespace("attr.layer"));
  EXPECT_FALSE(r.is_namespace("att"));
  EXPECT_FALSE(r.is_namespace("save"));
  EXPECT_EQ(r.ops_in("attr").size(), 2u);
  EXPECT_EQ(r.ops_in("attr.layer").size(), 1u);
  EXPECT_EQ(r.namespaces(), (std::vector<std::string>{"attr", "attr.layer"}));
}

TEST(Registry, ClashNamesBothOwners) {
  OpRegistry r;
  r.add(OpSignature("x.op", "A."));
  OpSignature again("x.op", "B.");
  again.set_plugin("toy");
  try {
    r.add(again);
    FAIL() << "a clash must throw";
  } catch (const RegistryError& e) {
    EXPECT_STREQ(e.what(), "op 'x.op' from plugin 'toy' is already registered by the standard library");
  }
}

TEST(Registry, RejectsMalformedNames) {
  OpRegistry r;
  for (const char* bad : {"", ".a", "a.", "a..b", "a.1b", "a-b", "a b"})
    EXPECT_THROW(r.add(OpSignature(bad, "")), RegistryError) << bad;
}

TEST(Signature, DeclarationAndPrinting) {
  OpSignature s("attr.ig", "Integrated gradients. Long text.");
  s.input("inputs", "tensor", "x")
      .optional("target", "int", "t")
      .param("steps", "int", Operand::integer(50), "n")
      .range(1)
      .param("method", "string", Operand::string("gl"), "m")
      .choices({"gl", "riemann"})
      .returns("tensor");
  EXPECT_EQ(s.to_string(),
            "attr.ig(inputs: tensor, target: int|none = none, steps: int = 50, method: string = \"gl\") -> tensor");
  EXPECT_EQ(s.summary(), "Integrated gradients.");
  EXPECT_TRUE(s.find_param("method")->compile_time);  // choices imply a constant
  EXPECT_EQ(*s.find_param("steps")->min, 1.0);
  // The one-line summary ends at a sentence, not at an abbreviation or inside parentheses.
  EXPECT_EQ(OpSignature("d.t", "A dataset of tensors (e.g. from tensor.load). More.").summary(),
            "A dataset of tensors (e.g. from tensor.load).");
  EXPECT_EQ(OpSignature("w.a", "As Saberi et al. 2024 attack it. More.").summary(), "As Saberi et al. 2024 attack it.");
  EXPECT_EQ(OpSignature("x.y", "Values (i.e. logits. Or not) here. More.").summary(), "Values (i.e. logits. Or not) here.");
  EXPECT_THROW(OpSignature("a.b", "").input("x", "tensr", ""), std::logic_error);
  EXPECT_THROW(OpSignature("a.b", "").range(1), std::logic_error);
  EXPECT_THROW(OpSignature("a.b", "").input("x", "tensor", "").param("x", "int", Operand::integer(1), ""), std::logic_error);
}

TEST(GraphJson, RefsRecordsAndConstantsAreUnambiguous) {
  Graph g;
  g.script = "s.pipe";
  Node n;
  n.op = "x.a";
  n.args = {{"c", Operand::record({{"$ref", Operand::string("not a ref")}})},
            {"r", Operand::ref(0, {"images"})},
            {"l", Operand::list({Operand::integer(1), Operand::real(2.0), Operand::none()})}};
  g.nodes.push_back(n);
  g.reports.push_back(Report{"bytes\xff", Operand::string("\xff"), Type::string(), {}});
  auto j = nlohmann::json::parse(graph_to_json(g));
  auto& args = j["nodes"][0]["args"];
  EXPECT_EQ(args["c"]["$record"]["$ref"], "not a ref");
  EXPECT_EQ(args["r"]["$ref"], "n0");
  EXPECT_EQ(args["r"]["path"][0], "images");
  EXPECT_TRUE(args["l"][1].is_number_float());
  EXPECT_TRUE(args["l"][2].is_null());
  EXPECT_EQ(j["reports"][0]["name"], "bytes\xEF\xBF\xBD");  // invalid UTF-8 replaced, not thrown
}

TEST(Operand, CanonicalFormsDistinguishKinds) {
  EXPECT_NE(Operand::integer(2).canonical(), Operand::real(2.0).canonical());
  EXPECT_NE(Operand::string("1").canonical(), Operand::integer(1).canonical());
  EXPECT_EQ(Operand::real(0.1).to_source(), "0.1");
  EXPECT_EQ(Operand::string("a{b}\"").to_source(), "\"a{{b}}\\\"\"");
  EXPECT_EQ(Operand::ref(3, {"x", "y"}).to_source(), "$n3.x.y");
}

}  // namespace
}  // namespace pipette
