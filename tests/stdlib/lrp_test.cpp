// attr.lrp where the answer is known: every rule on one linear layer, where
// Zennit's formula is a line of algebra (relevance seeded with the target's
// output value), and conservation on a ReLU network under LRP-epsilon without
// biases in the denominators. The composites against Zennit itself:
// tests/python/zennit_agreement_test.sh.
#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class Lrp : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(21);
    w_ = at::randn({3, 5}, at::kDouble);
    b_ = at::randn({3}, at::kDouble) * 0.5;
    torch::jit::Module one("One");
    one.register_module("fc", linear_module(w_, b_));
    one.define("def forward(self, x):\n    return self.fc.forward(x)\n");
    one.save((dir_ / "one.pt").string());
    x_ = at::randn({4, 5}, at::kDouble);
    save(x_, "x.pt");
  }
  at::Tensor lrp(const std::string& rule, const std::string& extra = "") {
    auto e = run("report \"r\" = attr.lrp(model.load(\"one.pt\"), tensor.load(\"x.pt\"), target=1, composite=\"epsilon\", "
                 "rules=[\"fc=" + rule + "\"]" + extra + ")\n");
    EXPECT_TRUE(e.ok()) << rule;
    return report(e, "r");
  }
  static at::Tensor stab(const at::Tensor& z, double eps = 1e-6) { return z + eps * (z.eq(0).to(z.dtype()) + z.sign()); }
  at::Tensor w_, b_, x_;
};

TEST_F(Lrp, EveryRuleOnOneLinearLayer) {
  const at::Tensor w = w_[1], b = b_[1];  // the target's row
  at::Tensor z = x_.matmul(w) + b;         // [N]: the relevance to distribute
  auto col = [](const at::Tensor& v) { return v.view({-1, 1}); };
  auto pos = [](const at::Tensor& t) { return t.clamp_min(0); };
  auto neg = [](const at::Tensor& t) { return t.clamp_max(0); };
  at::Tensor xp = pos(x_), xn = neg(x_), wp = pos(w), wn = neg(w);
  auto close = [](const at::Tensor& got, const at::Tensor& want, const std::string& what) {
    EXPECT_LT((got - want).abs().max().item<double>(), 1e-10) << what << "\n" << got << "\n" << want;
  };
  close(lrp("epsilon", ", epsilon=0.01"), x_ * w * col(z / stab(z, 0.01)), "epsilon");
  at::Tensor zplus = xp.matmul(wp) + pos(b) + xn.matmul(wn);
  close(lrp("zplus"), (xp * wp + xn * wn) * col(z / stab(zplus)), "zplus");
  at::Tensor zneg = xp.matmul(wn) + neg(b) + xn.matmul(wp);
  close(lrp("alpha2beta1"),
        (2 * (xp * wp + xn * wn) * col(1 / stab(zplus)) - (xp * wn + xn * wp) * col(1 / stab(zneg))) * col(z),
        "alpha2beta1");
  close(lrp("alpha1beta0"), (xp * wp + xn * wn) * col(z / stab(zplus)), "alpha1beta0");
  close(lrp("flat"), at::ones_like(x_) * col(z / stab(at::full_like(z, 5.0))), "flat");
  close(lrp("wsquare"), (w * w).expand_as(x_) * col(z / stab(at::full_like(z, (w * w).sum().item<double>() + (b * b).item<double>()))),
        "wsquare");
  const double g = 0.25;
  at::Tensor up = w + g * wp, down = w + g * wn;
  at::Tensor zg_pos = xp.matmul(up) + (b + g * pos(b)) + xn.matmul(down);
  at::Tensor zg_neg = xp.matmul(down) + (b + g * neg(b)) + xn.matmul(up);
  at::Tensor gamma = at::where(col(z > 0), (xp * up + xn * down) * col(z / stab(zg_pos)),
                               at::where(col(z < 0), (xp * down + xn * up) * col(z / stab(zg_neg)), at::zeros_like(x_)));
  close(lrp("gamma"), gamma, "gamma");
  const double lo = -2, hi = 2;
  at::Tensor zbox = z - (lo * wp.sum() + pos(b)) - (hi * wn.sum() + neg(b));
  close(lrp("zbox", ", low=-2, high=2"), (x_ * w - lo * wp - hi * wn) * col(z / stab(zbox)), "zbox");
  // The chain rule: the gradient times the output.
  close(lrp("gradient"), w.expand_as(x_) * col(z), "gradient");
}

TEST_F(Lrp, EpsilonConservesTheOutputOnAReluNetwork) {
  // fc1 -> ReLU -> fc2 -> ReLU -> fc3, biases everywhere.
  torch::jit::Module net("Net");
  auto lin = [](int64_t in, int64_t out) {
    return linear_module(at::randn({out, in}, at::kDouble), at::randn({out}, at::kDouble) * 0.3);
  };
  auto relu = [] { return elementwise_module("ReLU", "torch.relu"); };
  // In place, as ReLU(inplace=True): relevance must still pass through unchanged.
  auto relu_inplace = [] { return elementwise_module("ReLU", "torch.relu_"); };
  net.register_module("fc1", lin(5, 7));
  net.register_module("r1", relu());
  net.register_module("fc2", lin(7, 6));
  net.register_module("r2", relu_inplace());
  net.register_module("fc3", lin(6, 3));
  net.define("def forward(self, x):\n    return self.fc3.forward(self.r2.forward(self.fc2.forward(self.r1.forward(self.fc1.forward(x)))))\n");
  net.save((dir_ / "net.pt").string());
  auto e = run("let m = model.load(\"net.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"kept\" = attr.lrp(m, x, target=[0, 2], composite=\"epsilon\", epsilon=1e-12, zero_bias=true)\n"
               "report \"biased\" = attr.lrp(m, x, target=0, composite=\"epsilon\", epsilon=1e-12)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor out = net.forward({x_}).toTensor();
  at::Tensor kept = report(e, "kept");  // [N, 2, 5]
  EXPECT_LT((kept.sum(2).select(1, 0) - out.select(1, 0)).abs().max().item<double>(), 1e-9);
  EXPECT_LT((kept.sum(2).select(1, 1) - out.select(1, 2)).abs().max().item<double>(), 1e-9);
  // With the biases in the denominators they absorb some: the sum is not the output.
  EXPECT_GT((report(e, "biased").sum(1) - out.select(1, 0)).abs().max().item<double>(), 1e-3);
}

TEST_F(Lrp, BadRulesAreNamed) {
  EXPECT_NE(run_errors("report \"r\" = attr.lrp(model.load(\"one.pt\"), tensor.load(\"x.pt\"), rules=[\"fc=zminus\"])\n")
                .find("unknown LRP rule 'zminus'"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"r\" = attr.lrp(model.load(\"one.pt\"), tensor.load(\"x.pt\"), rules=[\"head.*=flat\"])\n")
                .find("matches no module"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"r\" = attr.lrp(model.load(\"one.pt\"), tensor.load(\"x.pt\"), rules=[\"flat\"])\n")
                .find("must be PATH=RULE"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
