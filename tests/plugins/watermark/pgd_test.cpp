// watermark.pgd on a linear two-class model, where the answer is known: the
// gradient's sign is sign(w1 - w0) everywhere, so targeted PGD towards class 0
// ends at clip(x - eps * sign(w1 - w0), 0, 1) once steps * step >= eps.
#include <torch/script.h>

#include "watermark_fixture.hpp"

namespace pipette {
namespace {

class WatermarkPgd : public Watermark {
 protected:
  void SetUp() override {
    Watermark::SetUp();
    torch::jit::Module m("Linear2");
    at::manual_seed(3);
    // Small weights keep the softmax away from saturation, where float's 1 - p0
    // rounds to 0 and the gradient's sign is no longer sign(w1 - w0).
    w_ = at::randn({2, 3 * 16 * 16}) * 0.01;
    m.register_parameter("w", w_, false);
    m.define("def forward(self, x):\n    return torch.flatten(x, 1) @ self.w.t()\n");
    m.save((dir_ / "linear.pt").string());
    x_ = at::rand({5, 3, 16, 16});
    save(x_, "x.pt");
  }
  at::Tensor w_, x_;
};

TEST_F(WatermarkPgd, EndsAtTheCornerOfTheEpsBallOnALinearModel) {
  auto e = run("let m = model.load(\"linear.pt\")\n"
               "let x = tensor.load(\"x.pt\")\n"
               "report \"adv\" = watermark.pgd(m, x, 0, eps=8, steps=40, step=0.05)\n"
               "report \"short\" = watermark.pgd(m, x, 0, eps=8, steps=10, step=0.05)\n");
  ASSERT_TRUE(e.ok());
  double eps = 8.0 / 255.0;
  auto adv = tensor(e, "adv");
  auto want = (x_ - eps * (w_[1] - w_[0]).sign().view({1, 3, 16, 16})).clamp(0, 1);
  EXPECT_LT((adv - want).abs().max().item<double>(), 1e-6);
  // The eps ball holds exactly, and so does [0, 1].
  EXPECT_LE((adv - x_).abs().max().item<double>(), eps + 1e-6);
  EXPECT_GE(adv.min().item<float>(), 0.0f);
  EXPECT_LE(adv.max().item<float>(), 1.0f);
  // Ten steps of 0.05 eps go half way.
  auto half = (x_ - 0.5 * eps * (w_[1] - w_[0]).sign().view({1, 3, 16, 16})).clamp(0, 1);
  EXPECT_LT((tensor(e, "short") - half).abs().max().item<double>(), 1e-6);
  // And the target class gained: logit(0) - logit(1) grew for every image.
  auto margin = [&](const at::Tensor& x) {
    auto l = x.flatten(1).matmul(w_.t());
    return l.select(1, 0) - l.select(1, 1);
  };
  EXPECT_TRUE((margin(adv) > margin(x_)).all().item<bool>());
}

TEST_F(WatermarkPgd, BadTargetsAndModelsAreErrors) {
  EXPECT_NE(run_errors("report \"a\" = watermark.pgd(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), 2)\n")
                .find("target 2, but the model has 2 outputs"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"a\" = watermark.pgd(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), "
                       "tensor.load(\"x.pt\"))\n")
                .find("'target' has 3840 entries for 5 inputs"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
