// Explanation metrics against values known in closed form.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

using at::indexing::Slice;

double value(const Execution& e, const std::string& name) {
  for (auto& [k, v] : e.reports)
    if (k == name) return v.toDouble();
  ADD_FAILURE() << "no report " << name;
  return NAN;
}

TEST_F(Stdlib, InsertionRewardsTheAttributionThatFindsThePixelTheModelReads) {
  at::Tensor w = at::zeros({2, 16});
  w[1][0] = 8.0;  // class 1's logit is 8 * pixel (0, 0)
  save_linear(w, at::zeros({2}));
  save(at::ones({3, 1, 4, 4}), "x.pt");
  at::Tensor right = at::zeros({3, 1, 4, 4});
  right.index_put_({Slice(), 0, 0, 0}, 1.0);
  save(right, "right.pt");
  save(1 - right, "wrong.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"right\" = metric.insertion(m, x, tensor.load(\"right.pt\"), target=1, steps=16)\n"
               "report \"wrong\" = metric.insertion(m, x, tensor.load(\"wrong.pt\"), target=1, steps=16)\n"
               "report \"curve\" = metric.flipping_curve(m, x, tensor.load(\"right.pt\"), target=1, steps=16, insertion=true)\n");
  ASSERT_TRUE(e.ok());
  double p1 = 1.0 / (1.0 + std::exp(-8.0)), half = 0.5;
  EXPECT_NEAR(value(e, "right"), (half / 2 + p1 * 15 + p1 / 2) / 16, 1e-6);  // inserted at the first step
  EXPECT_NEAR(value(e, "wrong"), (half / 2 + half * 15 + p1 / 2) / 16, 1e-6);  // inserted last
  at::Tensor curve = report(e, "curve");
  ASSERT_EQ(curve.sizes(), (std::vector<int64_t>{3, 17}));
  EXPECT_NEAR(curve[0][0].item<double>(), half, 1e-6);
  EXPECT_NEAR(curve[0][1].item<double>(), p1, 1e-6);
}

TEST_F(Stdlib, InfidelityCompletenessAndSensitivityOfALinearModel) {
  at::manual_seed(11);
  at::Tensor w = at::randn({2, 6});
  save_linear(w, at::zeros({2}));
  save(at::randn({4, 6}), "x.pt");
  save(w[1].expand({4, 6}).contiguous(), "grad.pt");
  save(at::zeros({4, 6}), "zero.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"inf_grad\" = metric.infidelity(m, x, tensor.load(\"grad.pt\"), target=1, stdevs=0.5, n_perturb=64)\n"
               "report \"inf_zero\" = metric.infidelity(m, x, tensor.load(\"zero.pt\"), target=1, stdevs=0.5, n_perturb=64)\n"
               "report \"comp_ig\" = metric.completeness(m, x, attr.integrated_gradients(m, x, target=1), target=1)\n"
               "report \"comp_sal\" = metric.completeness(m, x, attr.saliency(m, x, target=1), target=1)\n"
               "report \"sens\" = metric.max_sensitivity(m, x, target=1, abs=false)\n");
  ASSERT_TRUE(e.ok());
  // F(x) - F(x - I) = w . I exactly, so the gradient explains every perturbation.
  EXPECT_LT(value(e, "inf_grad"), 1e-10);
  // Explaining nothing leaves E[(w . I)^2] = 0.25 |w|^2, estimated from 64 draws.
  double expected = 0.25 * (w[1] * w[1]).sum().item<double>();
  EXPECT_NEAR(value(e, "inf_zero"), expected, expected * 0.35);
  EXPECT_LT(value(e, "comp_ig"), 1e-5);
  EXPECT_GT(value(e, "comp_sal"), 1e-2);
  EXPECT_LT(value(e, "sens"), 1e-6);  // the gradient of a linear model does not move
}

TEST_F(Stdlib, SensitivityOfACurvedModelIsPositiveAndMaxExceedsAverage) {
  at::manual_seed(12);
  save_module("curved.pt", {{"w", at::randn({6, 2})}}, "def forward(self, x):\n    return torch.tanh(x @ self.w) ** 2\n");
  save(at::randn({4, 6}), "x.pt");
  auto e = run("let m = model.load(\"curved.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"max\" = metric.max_sensitivity(m, x, target=1, radius=0.1, n_samples=16)\n"
               "report \"avg\" = metric.avg_sensitivity(m, x, target=1, radius=0.1, n_samples=16)\n");
  ASSERT_TRUE(e.ok());
  EXPECT_GT(value(e, "avg"), 1e-4);
  EXPECT_GT(value(e, "max"), value(e, "avg"));
}

TEST_F(Stdlib, MprtSimilarityDropsAsLayersAreRandomised) {
  at::manual_seed(13);
  save_module("mlp.pt", {{"fc1_weight", at::randn({16, 8})}, {"fc1_bias", at::randn({16})},
                         {"fc2_weight", at::randn({3, 16})}, {"fc2_bias", at::randn({3})}},
              "def forward(self, x):\n"
              "    return torch.linear(torch.relu(torch.linear(x, self.fc1_weight, self.fc1_bias)), self.fc2_weight, self.fc2_bias)\n");
  save(at::randn({32, 8}), "x.pt");
  auto e = run("let m = model.load(\"mlp.pt\")\n"
               "report \"mprt\" = metric.mprt(m, tensor.load(\"x.pt\"), target=0)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor s = report(e, "mprt");
  ASSERT_EQ(s.numel(), 2);  // fc2, then fc2 and fc1
  EXPECT_LT(s[0].item<double>(), 0.9);
  EXPECT_LT(s[1].item<double>(), 0.5);
}

TEST_F(Stdlib, SparsenessComplexityPointingGameAndRelevanceMass) {
  at::Tensor one_hot = at::zeros({2, 1, 4, 4}), uniform = at::ones({2, 1, 4, 4});
  one_hot.index_put_({Slice(), 0, 2, 3}, 5.0);
  save(one_hot, "one_hot.pt");
  save(uniform, "uniform.pt");
  at::Tensor mask = at::zeros({2, 4, 4});
  mask[0][2][3] = 1;  // the first example's region holds the peak
  mask[1][0][0] = 1;  // the second's does not
  save(mask, "mask.pt");
  auto e = run("let a = tensor.load(\"one_hot.pt\")\nlet u = tensor.load(\"uniform.pt\")\nlet k = tensor.load(\"mask.pt\")\n"
               "report \"gini_one\" = metric.sparseness(a)\nreport \"gini_uniform\" = metric.sparseness(u)\n"
               "report \"entropy_one\" = metric.complexity(a)\nreport \"entropy_uniform\" = metric.complexity(u)\n"
               "report \"pointing\" = metric.pointing_game(a, k)\nreport \"mass\" = metric.relevance_mass(u, k)\n");
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(value(e, "gini_one"), 15.0 / 16, 1e-6);
  EXPECT_NEAR(value(e, "gini_uniform"), 0.0, 1e-6);
  EXPECT_NEAR(value(e, "entropy_one"), 0.0, 1e-6);
  EXPECT_NEAR(value(e, "entropy_uniform"), std::log(16.0), 1e-6);
  EXPECT_DOUBLE_EQ(value(e, "pointing"), 0.5);
  EXPECT_NEAR(value(e, "mass"), 1.0 / 16, 1e-9);
}

}  // namespace
}  // namespace pipette
