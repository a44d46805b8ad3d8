// Attribution for language models where the answer is known: feature
// ablation is the log-probability with the whole prompt minus without each
// segment (lm.logprob computes both); Shapley values add up to the
// log-probability's change from the all-absent prompt (efficiency), exactly
// when exact and per sampled order; layer integrated gradients on the
// embedding add up to each token's change (completeness). Agreement with
// Captum's LLMAttribution: tests/python/llm_attribution_test.sh.
#include <fstream>
#include <iterator>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class LlmAttribution : public Stdlib {
 protected:
  static std::string lm() {
    return "let m = train.lm([\"the red fox jumps over the lazy dog\", \"the lazy dog sleeps\", \"a red fox runs\"], "
           "steps=40, width=16, blocks=1, heads=2, context=16, seed=3).model\n";
  }
  static at::Tensor field(const Execution& e, const std::string& name, const std::string& f) {
    for (auto& [k, v] : e.reports)
      if (k == name) return v.toGenericDict().at(f).toTensor();
    ADD_FAILURE() << "no report " << name;
    return {};
  }
};

TEST_F(LlmAttribution, AblationIsTheLogProbabilityDifference) {
  auto e = run(lm() +
               "report \"fa\" = attr.llm_feature_ablation(m, \"\", \"jumps over\", segments=[\"the red\", \"fox\"])\n"
               "report \"full\" = lm.logprob(m, \"the red fox\", \"jumps over\").sum\n"
               "report \"no_fox\" = lm.logprob(m, \"the red\", \"jumps over\").sum\n"
               "report \"no_red\" = lm.logprob(m, \"fox\", \"jumps over\").sum\n");
  ASSERT_TRUE(e.ok());
  at::Tensor seq = field(e, "fa", "seq_attr");
  ASSERT_EQ(seq.numel(), 2);
  double full = report(e, "full").sum().item<double>();
  EXPECT_NEAR(seq[0].item<double>(), full - report(e, "no_red").sum().item<double>(), 1e-5);
  EXPECT_NEAR(seq[1].item<double>(), full - report(e, "no_fox").sum().item<double>(), 1e-5);
  EXPECT_EQ(field(e, "fa", "token_attr").sizes(), (at::IntArrayRef{2, 2}));
  EXPECT_LT((field(e, "fa", "token_attr").sum(0) - seq).abs().max().item<double>(), 1e-12);
}

TEST_F(LlmAttribution, ShapleyIsEfficientAndGradientsComplete) {
  auto e = run(lm() +
               "report \"exact\" = attr.llm_shapley(m, \"the red fox\", \"jumps over\", baseline=\"a\")\n"
               "report \"sampled\" = attr.llm_shapley(m, \"the red fox\", \"jumps over\", n_samples=7, baseline=\"a\")\n"
               "report \"ablated\" = attr.llm_feature_ablation(m, \"the red fox\", \"jumps over\", baseline=\"a\")\n"
               "report \"ig\" = attr.llm_gradient(m, \"the red fox\", \"jumps over\", steps=64, baseline=\"a\")\n"
               "report \"full\" = lm.logprob(m, \"the red fox\", \"jumps over\").sum\n"
               "report \"none\" = lm.logprob(m, \"a a a\", \"jumps over\").sum\n");
  ASSERT_TRUE(e.ok());
  double change = report(e, "full").sum().item<double>() - report(e, "none").sum().item<double>();
  EXPECT_NEAR(field(e, "exact", "seq_attr").sum().item<double>(), change, 1e-5);
  EXPECT_NEAR(field(e, "sampled", "seq_attr").sum().item<double>(), change, 1e-5);
  // Integrated gradients: each continuation token's row adds up to its own change.
  EXPECT_NEAR(field(e, "ig", "seq_attr").sum().item<double>(), change, 2e-3 * std::max(1.0, std::abs(change)));
  EXPECT_EQ(field(e, "ig", "token_attr").sizes(), (at::IntArrayRef{2, 3}));  // [continuation tokens, prompt tokens]
  // Three methods, three answers: they are not one number relabelled.
  EXPECT_GT((field(e, "exact", "seq_attr") - field(e, "ablated", "seq_attr")).abs().max().item<double>(), 1e-6);
}

// viz.text colours as Captum's visualize_text (lightness 100 - 50 v for
// positive v, 100 - 40 |v| for negative) and shows tokens as text, never markup.
TEST_F(LlmAttribution, TextHeatmapsColourAndEscape) {
  save(at::tensor({1.0, -0.5, 0.25}, at::kDouble), "v.pt");
  auto e = run("report \"p\" = viz.text([\"fox\", \"<script>alert(1)</script>\", \"\\\"q\\\"\"], tensor.load(\"v.pt\"), "
               "\"t.html\", normalize=false, labels=[\"total\"])\n");
  ASSERT_TRUE(e.ok());
  std::ifstream in(dir_ / "out" / "t.html");
  std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(html.find("background-color: hsl(120, 75%, 50%)\" title=\"1\">fox"), std::string::npos) << html;
  EXPECT_NE(html.find("background-color: hsl(0, 75%, 80%)"), std::string::npos);
  EXPECT_NE(html.find("background-color: hsl(120, 75%, 88%)"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script>"), std::string::npos);
  EXPECT_NE(html.find("&quot;q&quot;"), std::string::npos);
  EXPECT_NE(run_errors("report \"p\" = viz.text([\"a\"], tensor.load(\"v.pt\"), \"t.html\")\n").find("for the 1 tokens"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
