// The classical watermarks on real photographs (python3-skimage), through the
// loaded plugin: embed -> detect, wrong keys, distortions, and bad input.
#include "watermark_fixture.hpp"

namespace pipette {
namespace {

TEST_F(Watermark, EmbedThenDetectReadsTheKeyBackOnPhotographs) {
  auto e = run(photos() +
               "let key = watermark.key(bits=32)\n"
               "for m in [\"dwt_dct\", \"dwt_dct_svd\"] {\n"
               "  let marked = watermark.embed(photos, key, method=m)\n"
               "  report \"acc_{m}\" = watermark.detect(marked, key, method=m)\n"
               "  report \"psnr_{m}\" = watermark.psnr(marked, photos)\n"
               "  report \"ssim_{m}\" = watermark.ssim(marked, photos)\n"
               "  for k in [1, 2, 3, 4, 5] {\n"
               "    report \"wrong_{m}_{k}\" = watermark.detect(marked, watermark.key(bits=32, seed=k), method=m)\n"
               "  }\n"
               "}\n"
               "report \"key\" = key\n");
  ASSERT_TRUE(e.ok());
  for (std::string m : {"dwt_dct", "dwt_dct_svd"}) {
    auto acc = tensor(e, "acc_" + m);
    EXPECT_EQ(acc.size(0), 6);
    EXPECT_GE(acc.min().item<float>(), 0.99) << m << ": " << acc;
    // Invisible: PSNR around 40 dB, SSIM above 0.9.
    EXPECT_GT(tensor(e, "psnr_" + m).min().item<float>(), 35.0) << m;
    EXPECT_GT(tensor(e, "ssim_" + m).min().item<float>(), 0.9) << m;
    // Five other 32-bit keys: about half the bits.
    double wrong = 0;
    for (int k = 1; k <= 5; ++k) wrong += tensor(e, "wrong_" + m + "_" + std::to_string(k)).mean().item<double>();
    EXPECT_NEAR(wrong / 5, 0.5, 0.15) << m;
  }
}

TEST_F(Watermark, DwtDctSurvivesMildNoiseButNotStrongJpeg) {
  auto e = run(photos() +
               "let key = watermark.key(bits=32)\n"
               "let marked = watermark.embed(photos, key)\n"
               "report \"noise\" = watermark.detect(watermark.distort(marked, \"noise\", 0.01), key)\n"
               "report \"blur\" = watermark.detect(watermark.distort(marked, \"blur\", 0.5), key)\n"
               "report \"jpeg90\" = watermark.detect(watermark.distort(marked, \"jpeg\", 90), key)\n"
               "report \"jpeg20\" = watermark.detect(watermark.distort(marked, \"jpeg\", 20), key)\n"
               "report \"svd_jpeg50\" = watermark.detect(watermark.distort(watermark.embed(photos, key, "
               "method=\"dwt_dct_svd\"), \"jpeg\", 50), key, method=\"dwt_dct_svd\")\n"
               "report \"dct_jpeg50\" = watermark.detect(watermark.distort(marked, \"jpeg\", 50), key)\n");
  ASSERT_TRUE(e.ok());
  double noise = tensor(e, "noise").mean().item<double>(), jpeg20 = tensor(e, "jpeg20").mean().item<double>();
  EXPECT_GE(noise, 0.95);
  EXPECT_GE(tensor(e, "jpeg90").mean().item<double>(), jpeg20);
  EXPECT_LT(jpeg20, 0.7);  // at chance, near the unmarked images' reading
  EXPECT_GT(noise - jpeg20, 0.25);
  // The SVD variant holds at quality 50 where the plain one is gone.
  EXPECT_GT(tensor(e, "svd_jpeg50").mean().item<double>(), tensor(e, "dct_jpeg50").mean().item<double>() + 0.2);
}

TEST_F(Watermark, DistortionsKeepShapeAndRangeAndDoWhatTheySay) {
  auto e = run(photos() +
               "report \"x\" = photos\n"
               "report \"jpeg\" = watermark.distort(photos, \"jpeg\", 50)\n"
               "report \"blur\" = watermark.distort(photos, \"blur\", 1.0)\n"
               "report \"noise\" = watermark.distort(photos, \"noise\", 0.05)\n"
               "report \"brightness\" = watermark.distort(photos, \"brightness\", 1.3)\n"
               "report \"contrast\" = watermark.distort(photos, \"contrast\", 0.6)\n"
               "report \"rotation\" = watermark.distort(photos, \"rotation\", 10)\n"
               "report \"crop\" = watermark.distort(photos, \"crop\", 0.8)\n"
               "report \"resize\" = watermark.distort(photos, \"resize\", 0.5)\n"
               "report \"rotation90\" = watermark.distort(photos, \"rotation\", 90)\n"
               "report \"identity\" = watermark.distort(watermark.distort(watermark.distort(photos, \"rotation\", 0), "
               "\"brightness\", 1), \"contrast\", 1)\n"
               "report \"combined\" = photos |> watermark.distort(\"jpeg\", 50) |> watermark.distort(\"blur\", 1.0)\n");
  ASSERT_TRUE(e.ok());
  auto x = tensor(e, "x");
  auto psnr = [&](const at::Tensor& y) { return (10 * at::log10(1 / (y - x).pow(2).mean())).item<double>(); };
  for (auto k : {"jpeg", "blur", "noise", "brightness", "contrast", "rotation", "crop", "resize", "combined"}) {
    auto y = tensor(e, k);
    EXPECT_EQ(y.sizes(), x.sizes()) << k;
    EXPECT_GE(y.min().item<float>(), 0.0f) << k;
    EXPECT_LE(y.max().item<float>(), 1.0f) << k;
    EXPECT_LT(psnr(y), 40) << k << " left the images as they were";
    EXPECT_GT(psnr(y), 10) << k << " destroyed the images";
  }
  EXPECT_LT(psnr(tensor(e, "combined")), psnr(tensor(e, "jpeg")));
  EXPECT_LT((tensor(e, "identity") - x).abs().max().item<float>(), 1e-5);
  // 90 degrees counter-clockwise on a square image is numpy's rot90.
  EXPECT_LT((tensor(e, "rotation90") - at::rot90(x, 1, {2, 3})).abs().max().item<float>(), 1e-4);
  EXPECT_GT(tensor(e, "brightness").mean().item<float>(), x.mean().item<float>());
  EXPECT_LT(tensor(e, "contrast").std().item<float>(), x.std().item<float>());
}

TEST_F(Watermark, BadInputGetsClearErrors) {
  EXPECT_NE(run_errors("report \"x\" = watermark.embed(tensor.random([3, 64, 64]), watermark.key())\n")
                .find("must be images [N, C, H, W], got a tensor of 3 dimensions"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = watermark.embed(tensor.mul(tensor.random([1, 3, 64, 64]), 255), watermark.key())\n")
                .find("must lie in [0, 1]"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = watermark.embed(tensor.random([1, 3, 32, 32], distribution=\"uniform\"), watermark.key(bits=64))\n")
                .find("a 64-bit key does not fit in 32x32 images: they carry 16 bits"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = watermark.detect(tensor.random([1, 3, 32, 32], distribution=\"uniform\"), tensor.mul(watermark.key(), 3))\n")
                .find("a key holds only 0s and 1s"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = watermark.distort(tensor.random([1, 3, 32, 32], distribution=\"uniform\"), \"jpeg\", 0)\n")
                .find("jpeg quality must be in [1, 100]"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = watermark.distort(tensor.random([1, 3, 32, 32], distribution=\"uniform\"), \"sharpen\", 1)\n")
                .find("unknown distortion 'sharpen'"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"x\" = watermark.embed(tensor.random([1, 2, 32, 32], distribution=\"uniform\"), watermark.key(bits=8))\n")
                .find("1 or 3 channels"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
