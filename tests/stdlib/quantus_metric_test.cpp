// The Quantus-named metrics where the answer is known by hand: on a linear
// model with input x gradient attributions and a zero baseline, every output
// drop equals the removed relevance, so faithfulness correlation and estimate
// are exactly 1; putting back features of positive weight never lowers the
// output (monotonicity 1), one of negative weight does (0); a linear model's
// gradient does not move, so its local Lipschitz estimate and continuity are 0;
// constant attributions are NaN per input, left out of the mean with a warning.
// Agreement with Quantus itself: tests/python/quantus_agreement_test.sh.
#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class QuantusMetrics : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(41);
    w_ = at::randn({2, 16}, at::kDouble);
    save_linear(w_, at::zeros({2}, at::kDouble));
    x_ = at::rand({5, 16}, at::kDouble) + 0.1;
    save(x_, "x.pt");
    save(x_ * w_[0], "ixg0.pt");  // input x gradient of logit 0
  }
  at::Tensor w_, x_;
};

TEST_F(QuantusMetrics, FaithfulnessOfInputTimesGradientOnALinearModelIsOne) {
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\nlet a = tensor.load(\"ixg0.pt\")\n"
               "report \"corr\" = metric.faithfulness_correlation(m, x, a, target=0, baseline=0, subset_size=5, nr_runs=30, reduce=\"none\")\n"
               "report \"est\" = metric.faithfulness_estimate(m, x, a, target=0, baseline=0, features_in_step=2, reduce=\"none\")\n");
  ASSERT_TRUE(e.ok());
  EXPECT_LT((report(e, "corr") - 1).abs().max().item<double>(), 1e-9);
  EXPECT_LT((report(e, "est") - 1).abs().max().item<double>(), 1e-9);
}

TEST_F(QuantusMetrics, MonotonicityFollowsTheWeightsSigns) {
  save_linear(at::rand({2, 16}, at::kDouble) * at::tensor({1.0, 0.0}, at::kDouble).view({2, 1}), at::zeros({2}, at::kDouble));
  auto pos = run("report \"m\" = metric.monotonicity(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), tensor.load(\"x.pt\"), "
                 "target=0, baseline=0)\n");
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(report(pos, "m").item<double>(), 1.0);
  at::Tensor w = at::rand({2, 16}, at::kDouble);
  w[0][3] = -5;  // restoring feature 3 lowers logit 0 and its probability
  save_linear(w, at::zeros({2}, at::kDouble));
  auto neg = run("report \"m\" = metric.monotonicity(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), tensor.load(\"x.pt\"), "
                 "target=0, baseline=0, reduce=\"none\")\n");
  ASSERT_TRUE(neg.ok());
  EXPECT_EQ(report(neg, "m").sum().item<double>(), 0.0);
}

TEST_F(QuantusMetrics, AConstantGradientIsPerfectlyRobust) {
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"lle\" = metric.local_lipschitz_estimate(m, x, target=0, nr_samples=8, reduce=\"none\")\n");
  ASSERT_TRUE(e.ok());
  EXPECT_LT(report(e, "lle").abs().max().item<double>(), 1e-9);
  // A squared model's gradient grows along one direction: normalised, it does
  // not move; unnormalised, the estimate is positive.
  save_module("sq.pt", {{"w", w_}}, "def forward(self, x):\n    return (torch.flatten(x, 1) @ self.w.t()) ** 2\n");
  auto sq = run("report \"lle\" = metric.local_lipschitz_estimate(model.load(\"sq.pt\"), tensor.load(\"x.pt\"), target=0, "
                "nr_samples=8, reduce=\"none\")\nreport \"raw\" = metric.local_lipschitz_estimate(model.load(\"sq.pt\"), "
                "tensor.load(\"x.pt\"), target=0, nr_samples=8, normalise=false, reduce=\"none\")\n");
  ASSERT_TRUE(sq.ok());
  EXPECT_LT(report(sq, "lle").abs().max().item<double>(), 1e-9);
  EXPECT_GT(report(sq, "raw").min().item<double>(), 1e-3);
}

TEST_F(QuantusMetrics, ConstantAttributionsAreNaNPerInputAndLeftOutOfTheMean) {
  at::Tensor a = x_ * w_[0];
  a[2].fill_(0.5);  // no ranking at all
  save(a, "a.pt");
  const std::string call = "metric.faithfulness_estimate(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), tensor.load(\"a.pt\"), "
                           "target=0, baseline=0";
  Logged logged;
  auto e = run("report \"none\" = " + call + ", reduce=\"none\")\nreport \"mean\" = " + call + ")\n", logged.options());
  const std::string& log = logged.text;
  ASSERT_TRUE(e.ok());
  at::Tensor none = report(e, "none");
  EXPECT_TRUE(std::isnan(none[2].item<double>()));
  EXPECT_NEAR(report(e, "mean").item<double>(), 1.0, 1e-9);
  EXPECT_NE(log.find("faithfulness_estimate is undefined for 1 of 5 inputs"), std::string::npos) << log;
  EXPECT_NE(log.find("faithfulness_estimate is NaN for 1 of 5 inputs"), std::string::npos) << log;
}

// A model that returns probabilities is not softmaxed again: selectivity and
// IROF of the softmax model equal those of its logits with softmax=true.
TEST_F(QuantusMetrics, ProbabilityOutputsAreScoredAsTheyAre) {
  at::Tensor w = at::randn({3, 16}, at::kDouble);
  save_module("soft.pt", {{"w", w}}, "def forward(self, x):\n    return torch.softmax(torch.flatten(x, 1) @ self.w.t(), 1)\n");
  save_module("logits.pt", {{"w", w}}, "def forward(self, x):\n    return torch.flatten(x, 1) @ self.w.t()\n");
  save(x_.view({5, 1, 4, 4}), "img.pt");
  save(at::randn({5, 1, 4, 4}, at::kDouble), "a.pt");
  const std::string args = ", tensor.load(\"img.pt\"), tensor.load(\"a.pt\"), target=0, reduce=\"none\"";
  auto e = run("report \"s_soft\" = metric.selectivity(model.load(\"soft.pt\")" + args + ", patch_size=2)\n"
               "report \"s_logits\" = metric.selectivity(model.load(\"logits.pt\")" + args + ", patch_size=2)\n"
               "report \"i_soft\" = metric.irof(model.load(\"soft.pt\")" + args + ")\n"
               "report \"i_logits\" = metric.irof(model.load(\"logits.pt\")" + args + ")\n");
  ASSERT_TRUE(e.ok());
  EXPECT_LT((report(e, "s_soft") - report(e, "s_logits")).abs().max().item<double>(), 1e-9);
  EXPECT_LT((report(e, "i_soft") - report(e, "i_logits")).abs().max().item<double>(), 1e-9);
}

// Every metric keeps its per-input scores with reduce="none", and their mean
// is what reduce="mean" reports.
TEST_F(QuantusMetrics, EveryMetricReducesOrKeepsItsScores) {
  const std::string load = "let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\nlet a = tensor.load(\"ixg0.pt\")\n";
  for (const std::string& call :
       {std::string("metric.infidelity(m, x, a, target=0, seed=1"), std::string("metric.completeness(m, x, a, target=0"),
        std::string("metric.max_sensitivity(m, x, target=0, seed=1"), std::string("metric.sparseness(a"),
        std::string("metric.complexity(a"), std::string("metric.faithfulness_estimate(m, x, a, target=0")}) {
    auto e = run(load + "report \"none\" = " + call + ", reduce=\"none\")\nreport \"mean\" = " + call + ")\n");
    ASSERT_TRUE(e.ok()) << call;
    at::Tensor none = report(e, "none");
    ASSERT_EQ(none.sizes(), (at::IntArrayRef{5})) << call;
    EXPECT_NEAR(none.mean().item<double>(), report(e, "mean").item<double>(), 1e-9) << call;
  }
}

}  // namespace
}  // namespace pipette
