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

// A token classifier (ids -> class logits) is explained by the tensor methods
// on its id tensors: feature ablation with a padding id as the baseline, and
// layer integrated gradients at its embedding, which add up to the logit's
// change from the all-padding input.
TEST_F(LlmAttribution, TokenClassifiersTakeTheTensorMethods) {
  at::manual_seed(61);
  torch::jit::Module embed("Embedding");
  embed.register_parameter("weight", at::randn({9, 4}, at::kDouble), false);
  embed.define("def forward(self, ids):\n    return torch.embedding(self.weight, ids)\n");
  torch::jit::Module net("TokenClassifier");
  net.register_module("embed", embed);
  net.register_module("head", linear_module(at::randn({3, 4}, at::kDouble), at::zeros({3}, at::kDouble)));
  net.define("def forward(self, ids):\n    return self.head.forward(torch.tanh(self.embed.forward(ids)).mean(1))\n");
  net.save((dir_ / "tc.pt").string());
  at::Tensor ids = at::tensor({3, 5, 7, 2, 1, 4, 8, 6}, at::kLong).view({2, 4});
  save(ids, "ids.pt");
  auto e = run("let m = model.load(\"tc.pt\")\nlet ids = tensor.load(\"ids.pt\")\n"
               "report \"fa\" = attr.feature_ablation(m, ids, target=1, baselines=0)\n"
               "report \"lig\" = attr.layer_integrated_gradients(m, ids, target=1, layer=\"embed\", baselines=0, steps=64)\n"
               "report \"occ\" = attr.occlusion(m, ids, target=1, window=[1], baselines=0)\n"
               "report \"sv\" = attr.shapley_value_sampling(m, ids, target=1, baselines=0, n_samples=5)\n");
  ASSERT_TRUE(e.ok());
  auto logit = [&](const at::Tensor& x) { return net.forward({x}).toTensor().select(1, 1); };
  at::Tensor fa = report(e, "fa");
  ASSERT_EQ(fa.sizes(), ids.sizes());
  at::Tensor without = ids.clone();
  without[0][2] = 0;
  at::Tensor manual = at::empty({2, 4}, at::kDouble);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j) {
      at::Tensor w = ids.clone();
      w[i][j] = 0;
      manual[i][j] = (logit(ids) - logit(w))[i];
    }
  // Scores of integer inputs are kept in double, not truncated to the ids' type.
  EXPECT_LT((fa - manual).abs().max().item<double>(), 1e-12) << fa << manual;
  EXPECT_LT((report(e, "occ") - manual).abs().max().item<double>(), 1e-12);
  EXPECT_LT((report(e, "sv").sum(1) - (logit(ids) - logit(at::zeros_like(ids)))).abs().max().item<double>(), 1e-12);
  at::Tensor lig = report(e, "lig");  // [2, 4, 4]: per position and embedding width
  at::Tensor change = logit(ids) - logit(at::zeros_like(ids));
  EXPECT_LT((lig.sum({1, 2}) - change).abs().max().item<double>(), 1e-4);
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
