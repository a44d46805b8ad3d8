// The metric functions against hand-computed cases.
#include <gtest/gtest.h>

#include <cmath>

#include "metrics.hpp"

namespace watermark {
namespace {

TEST(WatermarkMetrics, AurocCountsOrderedPairsWithTiesAsHalf) {
  // Watermarked 0.9 and 0.8 beat all three clean scores; 0.7 beats 0.1 and 0.2
  // but not 0.75: 8 of 9 pairs.
  auto r = roc(at::tensor({0.9, 0.8, 0.7}), at::tensor({0.1, 0.75, 0.2}));
  EXPECT_NEAR(r.auroc, 8.0 / 9.0, 1e-12);
  // A tie is half a win: {0.5} vs {0.5} is 0.5; perfect separation is 1.
  EXPECT_NEAR(roc(at::tensor({0.5}), at::tensor({0.5})).auroc, 0.5, 1e-12);
  EXPECT_NEAR(roc(at::tensor({1.0, 0.9}), at::tensor({0.1, 0.2})).auroc, 1.0, 1e-12);
  EXPECT_NEAR(roc(at::tensor({0.1, 0.2}), at::tensor({1.0, 0.9})).auroc, 0.0, 1e-12);
}

TEST(WatermarkMetrics, SweepGivesEvasionAndSpoofingAtEveryThreshold) {
  auto r = roc(at::tensor({0.9, 0.8, 0.7}), at::tensor({0.1, 0.75, 0.2}));
  // Thresholds: every distinct score ascending, then +inf.
  std::vector<double> t(r.threshold.data_ptr<double>(), r.threshold.data_ptr<double>() + r.threshold.numel());
  ASSERT_EQ(t.size(), 7u);
  EXPECT_EQ(t[0], 0.1);
  EXPECT_TRUE(std::isinf(t.back()));
  // At 0.75: watermarked flagged 2 of 3 (TPR 2/3), clean flagged 1 of 3 (FPR 1/3).
  ASSERT_EQ(t[3], 0.75);
  EXPECT_NEAR(r.tpr[3].item<double>(), 2.0 / 3.0, 1e-12);
  EXPECT_NEAR(r.fpr[3].item<double>(), 1.0 / 3.0, 1e-12);
  // With FPR <= 1 %: only thresholds above 0.75, so TPR 2/3 at 0.8.
  EXPECT_NEAR(r.tpr_at_1pct, 2.0 / 3.0, 1e-12);
  EXPECT_EQ(r.tpr[6].item<double>(), 0.0);
  EXPECT_EQ(r.fpr[0].item<double>(), 1.0);
}

TEST(WatermarkMetrics, TprAtLowFprNeedsEnoughCleanImages) {
  // 1000 clean scores uniform in [0, 1); watermarked all at 0.9995: one clean
  // image in a thousand scores above 0.999, so at 0.1 % FPR every watermarked one passes.
  auto clean = at::arange(1000, at::kDouble) / 1000.0;
  auto r = roc(at::full({10}, 0.9995, at::kDouble), clean);
  EXPECT_NEAR(r.tpr_at_01pct, 1.0, 1e-12);
  auto r2 = roc(at::full({10}, 0.5, at::kDouble), clean);
  EXPECT_NEAR(r2.tpr_at_1pct, 0.0, 1e-12);
}

TEST(WatermarkMetrics, PsnrOfAKnownError) {
  auto a = at::full({2, 3, 8, 8}, 0.5);
  auto b = a.clone();
  b[0].add_(0.1);  // MSE 0.01 -> 20 dB
  auto p = psnr(a, b);
  EXPECT_NEAR(p[0].item<float>(), 20.0, 1e-4);
  EXPECT_TRUE(std::isinf(p[1].item<float>()));
}

TEST(WatermarkMetrics, SsimClosedForms) {
  // Identical images: 1. Two constant images c1, c2: the structure term is
  // C2/C2 = 1 and the luminance term (2 c1 c2 + C1) / (c1^2 + c2^2 + C1).
  auto noise = at::rand({1, 3, 32, 32}, at::TensorOptions().dtype(at::kFloat));
  EXPECT_NEAR(ssim(noise, noise)[0].item<float>(), 1.0, 1e-6);
  double c1 = 0.3, c2 = 0.6, k1 = 0.01 * 0.01;
  auto s = ssim(at::full({1, 1, 16, 16}, c1), at::full({1, 1, 16, 16}, c2));
  EXPECT_NEAR(s[0].item<float>(), (2 * c1 * c2 + k1) / (c1 * c1 + c2 * c2 + k1), 1e-6);
  // An image against its negative (uncorrelated structure turned around) is far below 1.
  EXPECT_LT(ssim(noise, 1 - noise)[0].item<float>(), 0.0);
}

TEST(WatermarkMetrics, BadInputIsRefused) {
  EXPECT_THROW(roc(at::tensor({0.5}), at::empty({0})), std::invalid_argument);
  EXPECT_THROW(roc(at::tensor({NAN}), at::tensor({0.5})), std::invalid_argument);
  EXPECT_THROW(psnr(at::zeros({1, 3, 8, 8}), at::zeros({1, 3, 8, 9})), std::invalid_argument);
  EXPECT_THROW(ssim(at::zeros({1, 1, 8, 8}), at::zeros({1, 1, 8, 8})), std::invalid_argument);  // smaller than the window
}

}  // namespace
}  // namespace watermark
