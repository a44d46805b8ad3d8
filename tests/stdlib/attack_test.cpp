// attack.* where the answer is known by hand: on a linear two-class model the
// cross-entropy's input gradient for label 0 is p1 * (w1 - w0), so every
// attack's direction is known; a model that reads one pixel makes
// attack.compare's metrics countable and attack.min_perturbation's answer the
// margin over the gradient's L1 norm. Captum's FGSM and PGD are compared in
// captum_agreement_test.cpp.
#include <cmath>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class Attack : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(5);
    // Small weights keep the softmax away from saturation.
    w_ = at::randn({2, 12}, at::kDouble) * 0.1;
    save_linear(w_, at::zeros({2}, at::kDouble));
    x_ = at::rand({6, 12}, at::kDouble) * 0.8 + 0.1;
    save(x_, "x.pt");
  }
  Value value(const Execution& e, const std::string& name) {
    for (auto& [k, v] : e.reports)
      if (k == name) return v;
    ADD_FAILURE() << "no report " << name;
    return Value();
  }
  at::Tensor field(const Execution& e, const std::string& name, std::vector<std::string> path) {
    return select_path(value(e, name), path).toTensor();
  }
  at::Tensor direction() const { return (w_[1] - w_[0]).sign().view({1, -1}); }  // up the loss of label 0
  at::Tensor w_, x_;
};

TEST_F(Attack, FgsmAndPgdMoveAlongTheKnownGradientSign) {
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"fgsm\" = attack.fgsm(m, x, target=0, eps=0.05)\n"
               "report \"toward\" = attack.fgsm(m, x, target=1, targeted=true, eps=0.05)\n"
               "report \"pgd\" = attack.pgd(m, x, target=0, radius=0.08, step=0.01, steps=12, lower=0, upper=1)\n"
               "report \"half\" = attack.pgd(m, x, target=0, radius=0.08, step=0.01, steps=4)\n");
  ASSERT_TRUE(e.ok());
  auto d = direction();
  EXPECT_LT((report(e, "fgsm") - (x_ + 0.05 * d)).abs().max().item<double>(), 1e-12);
  // Towards class 1 is down the loss of label 1: the same direction.
  EXPECT_LT((report(e, "toward") - (x_ + 0.05 * d)).abs().max().item<double>(), 1e-12);
  // Twelve steps of 0.01 reach the corner of the 0.08 ball and stay; four go half way.
  EXPECT_LT((report(e, "pgd") - (x_ + 0.08 * d).clamp(0, 1)).abs().max().item<double>(), 1e-12);
  EXPECT_LT((report(e, "half") - (x_ + 0.04 * d)).abs().max().item<double>(), 1e-12);
}

TEST_F(Attack, L2PgdEndsOnTheBallAlongTheGradient) {
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"l2\" = attack.pgd(m, x, target=0, radius=0.3, steps=20, norm=\"l2\")\n"
               "report \"sign\" = attack.pgd(m, x, target=0, radius=0.3, step=0.05, steps=20, norm=\"l2\", "
               "l2_step=\"sign\")\n");
  ASSERT_TRUE(e.ok());
  at::Tensor u = (w_[1] - w_[0]).view({1, -1});
  at::Tensor want = x_ + 0.3 * u / u.norm();
  EXPECT_LT((report(e, "l2") - want).abs().max().item<double>(), 1e-9);
  // Captum's rule: sign steps, then the L2 projection; it ends on the ball along sign(u).
  at::Tensor s = u.sign();
  EXPECT_LT((report(e, "sign") - (x_ + 0.3 * s / s.norm())).abs().max().item<double>(), 1e-6);
  at::Tensor dist = (report(e, "sign") - x_).norm(2, {1});
  EXPECT_LT((dist - 0.3).abs().max().item<double>(), 1e-6);
}

TEST_F(Attack, RandomStartsStayInTheBallAndFollowTheSeed) {
  const std::string call = "attack.pgd(m, x, target=0, radius=0.05, step=0.001, steps=1, random_start=true";
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"a\" = " + call + ", seed=1)\nreport \"b\" = " + call + ", seed=1)\n"
               "report \"c\" = " + call + ", seed=2)\n"
               "report \"l2\" = " + call + ", norm=\"l2\", seed=1)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor a = report(e, "a");
  EXPECT_TRUE(a.equal(report(e, "b")));
  EXPECT_FALSE(a.equal(report(e, "c")));
  EXPECT_LE((a - x_).abs().max().item<double>(), 0.05 + 1e-12);
  // A uniform start fills the cube: its spread is not that of one step.
  EXPECT_GT((a - x_).abs().max().item<double>(), 0.03);
  EXPECT_LE((report(e, "l2") - x_).norm(2, {1}).max().item<double>(), 0.05 + 1e-9);
}

TEST_F(Attack, CompareCountsWhatEachPerturbationDoes) {
  // logits [x0, 0.5]: class 0 exactly when the first pixel is above 0.5.
  at::Tensor w = at::zeros({2, 4}, at::kDouble);
  w[0][0] = 1;
  save_linear(w, at::tensor({0.0, 0.5}, at::kDouble));
  at::Tensor x = at::full({4, 4}, 0.2, at::kDouble);
  x.select(1, 0).copy_(at::tensor({0.9, 0.8, 0.1, 0.3}, at::kDouble));  // predicted 0, 0, 1, 1
  save(x, "x.pt");
  at::Tensor labels = at::tensor({0, 0, 1, 0}, at::kLong);  // the last one is wrong already
  save(labels, "labels.pt");
  at::Tensor dark = x.clone();
  dark.select(1, 0).fill_(0.0);  // everything becomes class 1
  save(dark, "dark.pt");
  at::Tensor tries = at::stack({x, dark});  // two attempts: the original, then the dark one
  save(tries, "tries.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"c\" = attack.compare(m, x, {dark: tensor.load(\"dark.pt\"), tries: tensor.load(\"tries.pt\")}, "
               "target=tensor.load(\"labels.pt\"), batch=2)\n");
  ASSERT_TRUE(e.ok());
  auto col = [&](const char* c) { return field(e, "c", {"summary", c}); };
  // Rows: original, dark, tries.
  EXPECT_TRUE(col("accuracy").allclose(at::tensor({0.75, 0.25, 0.5}, at::kDouble)));
  EXPECT_TRUE(col("worst_accuracy").allclose(at::tensor({0.75, 0.25, 0.25}, at::kDouble)));
  EXPECT_TRUE(col("flip_rate").allclose(at::tensor({0.0, 0.5, 0.25}, at::kDouble)));
  EXPECT_TRUE(col("attempts").allclose(at::tensor({1.0, 1.0, 2.0}, at::kDouble)));
  EXPECT_TRUE(col("linf").allclose(at::tensor({0.0, 0.525, 0.2625}, at::kDouble)));
  // The label's probability is the softmax at the label: p0 = 1 / (1 + exp(0.5 - x0)).
  at::Tensor p0 = 1 / (1 + (0.5 - x.select(1, 0)).exp());
  at::Tensor p = at::where(labels.eq(0), p0, 1 - p0);
  EXPECT_NEAR(col("label_probability")[0].item<double>(), p.mean().item<double>(), 1e-12);
  EXPECT_NEAR(col("loss")[0].item<double>(), (-p.log()).mean().item<double>(), 1e-12);
  EXPECT_TRUE(field(e, "c", {"correct", "dark"}).equal(at::tensor({0, 0, 1, 0}).to(at::kBool)));
  // Per batch of two: the dark set gets the first pair wrong and half the second; the
  // two attempts average the original and the dark set.
  EXPECT_TRUE(field(e, "c", {"batches", "accuracy"}).allclose(at::tensor({1.0, 0.5, 0.0, 0.5, 0.5, 0.5}, at::kDouble)));
}

TEST_F(Attack, MinPerturbationFindsTheMarginOverTheL1Norm) {
  // FGSM moves the logit difference by eps * ||w0 - w1||_1: the label flips
  // at eps = margin / ||w0 - w1||_1, the first grid value at or above it.
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"lin\" = attack.min_perturbation(m, x, max=2, step=0.01)\n"
               "report \"bin\" = attack.min_perturbation(m, x, max=2, step=0.01, mode=\"binary\")\n"
               "report \"none\" = attack.min_perturbation(m, x, max=0.001, step=0.001)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor logits = x_.matmul(w_.t());
  at::Tensor margin = (logits.select(1, 0) - logits.select(1, 1)).abs();
  at::Tensor need = margin / (w_[0] - w_[1]).abs().sum();
  at::Tensor want = (need / 0.01 - 1e-9).ceil() * 0.01;
  at::Tensor lin = field(e, "lin", {"param"}), bin = field(e, "bin", {"param"});
  EXPECT_LT((lin - want).abs().max().item<double>(), 1e-9) << lin << want;
  EXPECT_TRUE(lin.allclose(bin));
  EXPECT_TRUE(field(e, "lin", {"found"}).all().item<bool>());
  // The perturbed inputs are predicted otherwise; the prediction says so.
  at::Tensor pred = logits.argmax(1);
  EXPECT_TRUE(field(e, "bin", {"prediction"}).ne(pred).all().item<bool>());
  EXPECT_TRUE(field(e, "bin", {"perturbed"}).matmul(w_.t()).argmax(1).ne(pred).all().item<bool>());
  // Nothing flips within 0.001: NaN and found = false, not a number that looks like an answer.
  EXPECT_TRUE(field(e, "none", {"param"}).isnan().all().item<bool>());
  EXPECT_FALSE(field(e, "none", {"found"}).any().item<bool>());
}

TEST_F(Attack, ProbabilityOutputsAreNotSoftmaxedTwice) {
  // A three-class linear model ending in softmax: loss="auto" follows -log p,
  // as Captum's default does, which moves the inputs exactly as the logits'
  // cross-entropy does; the cross-entropy of the probabilities (softmaxed
  // twice) points elsewhere.
  at::Tensor w3 = at::randn({3, 12}, at::kDouble);
  save_module("soft.pt", {{"w", w3}}, "def forward(self, x):\n    return torch.softmax(torch.flatten(x, 1) @ self.w.t(), 1)\n");
  save_module("logits.pt", {{"w", w3}}, "def forward(self, x):\n    return torch.flatten(x, 1) @ self.w.t()\n");
  const std::string call = "(m, x, target=0, radius=0.3, steps=5, norm=\"l2\"";
  auto e = run("let m = model.load(\"soft.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"auto\" = attack.pgd" + call + ")\n"
               "report \"logp\" = attack.pgd" + call + ", loss=\"log_prob\")\n"
               "report \"twice\" = attack.pgd" + call + ", loss=\"cross_entropy\")\n"
               "report \"logits\" = attack.pgd(model.load(\"logits.pt\"), x, target=0, radius=0.3, steps=5, norm=\"l2\")\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "auto").equal(report(e, "logp")));
  EXPECT_LT((report(e, "auto") - report(e, "logits")).abs().max().item<double>(), 1e-9);
  EXPECT_GT((report(e, "twice") - report(e, "logits")).abs().max().item<double>(), 1e-3);
}

TEST_F(Attack, BadInputsAreNamed) {
  const std::string load = "let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n";
  EXPECT_NE(run_errors(load + "report \"a\" = attack.fgsm(m, x, targeted=true)\n").find("a targeted attack needs target="),
            std::string::npos);
  EXPECT_NE(run_errors(load + "report \"a\" = attack.fgsm(m, x, lower=0, upper=0.5)\n").find("outside [lower, upper]"),
            std::string::npos);
  EXPECT_NE(run_errors(load + "report \"a\" = attack.fgsm(m, x, loss=\"log_prob\")\n").find("must be a probability"),
            std::string::npos);
  EXPECT_NE(run_errors(load + "report \"a\" = attack.pgd(m, x, target=4)\n").find("target 4, but the model has 2 outputs"),
            std::string::npos);
  save_module("one.pt", {{"w", w_}}, "def forward(self, x):\n    return (torch.flatten(x, 1) @ self.w.t())[:, 0]\n");
  EXPECT_NE(run_errors("report \"a\" = attack.fgsm(model.load(\"one.pt\"), tensor.load(\"x.pt\"), target=0)\n")
                .find("at least two outputs per input"),
            std::string::npos);
  EXPECT_NE(run_errors(load + "report \"a\" = attack.compare(m, x, {bad: tensor.load(\"x.pt\") |> tensor.slice(0, 0, 2)})\n")
                .find("perturbed.bad"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
