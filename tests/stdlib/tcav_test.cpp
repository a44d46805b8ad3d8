// TCAV with planted concepts: a model whose target output grows along one
// direction u of a layer's value; a concept whose examples sit along +u scores
// 1 and one along -u scores 0, both significantly apart from CAVs of random
// sets; the t-test's p-values equal scipy's ttest_ind on known samples.
#include "stdlib/core/statistics.hpp"
#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class Tcav : public Stdlib {};

TEST_F(Tcav, PlantedConceptsScoreOneAndZeroAndAreSignificant) {
  at::manual_seed(51);
  at::Tensor u = at::randn({6}, at::kDouble);
  u = u / u.norm();
  torch::jit::Module net("Net");
  net.register_module("fc1", linear_module(at::eye(6, at::kDouble), at::zeros({6}, at::kDouble)));
  at::Tensor head = at::stack({u, at::zeros_like(u)});
  net.register_module("head", linear_module(head, at::zeros({2}, at::kDouble)));
  net.define("def forward(self, x):\n    return self.head.forward(torch.tanh(self.fc1.forward(x)))\n");
  net.save((dir_ / "net.pt").string());
  // Inputs spread over tanh's curve: the gradient at fc1 varies, so random CAVs score in between.
  save(at::randn({40, 6}, at::kDouble) * 2, "x.pt");
  save(at::randn({15, 6}, at::kDouble) + 5 * u, "up.pt");
  save(at::randn({15, 6}, at::kDouble) - 5 * u, "down.pt");
  std::string randoms;
  for (int i = 0; i < 8; ++i) {
    save(at::randn({15, 6}, at::kDouble), "r" + std::to_string(i) + ".pt");
    randoms += std::string(i ? ", " : "") + "tensor.load(\"r" + std::to_string(i) + ".pt\")";
  }
  auto e = run("report \"t\" = attr.tcav(model.load(\"net.pt\"), tensor.load(\"x.pt\"), target=0, layer=\"fc1\", "
               "concepts={up: tensor.load(\"up.pt\"), down: tensor.load(\"down.pt\")}, random=[" + randoms + "])\n");
  ASSERT_TRUE(e.ok());
  const auto& rec = e.reports[0].second.toGenericDict();
  at::Tensor score = rec.at("score").toTensor(), p = rec.at("p_value").toTensor();
  EXPECT_GE(score[0].item<double>(), 0.99);  // up
  EXPECT_LE(score[1].item<double>(), 0.01);  // down
  EXPECT_TRUE(rec.at("significant").toTensor().all().item<bool>()) << p;
  EXPECT_GT(rec.at("accuracy").toTensor().min().item<double>(), 0.9);
  at::Tensor rs = rec.at("random_scores").toTensor();
  EXPECT_EQ(rs.numel(), 28);  // each unordered pair of the 8 random sets once
  EXPECT_NEAR(p[0].item<double>(), stdlib::t_test_p_value(rec.at("scores").toTensor()[0], rs), 1e-15);
}

TEST_F(Tcav, TheTTestMatchesScipy) {
  // scipy.stats.ttest_ind(a, b).pvalue for these samples.
  EXPECT_NEAR(stdlib::t_test_p_value(at::tensor({0.9, 1.0, 0.8}, at::kDouble), at::tensor({0.2, 0.6, 0.4, 0.5}, at::kDouble)),
              0.008158145327976674, 1e-12);
  EXPECT_NEAR(stdlib::t_test_p_value(at::ones({5}, at::kDouble),
                                     at::tensor({0.0, 1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 1.0}, at::kDouble)),
              0.07824815644840659, 1e-12);
}

}  // namespace
}  // namespace pipette
