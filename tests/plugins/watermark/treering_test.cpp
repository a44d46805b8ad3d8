// Tree-Ring: the key planted in noise reads back exactly; the test's p-values
// are calibrated on unmarked noise; and through pipette's diffusion model
// (sample -> invert) generated images are told from unmarked ones.
#include "treering.hpp"
#include "watermark_fixture.hpp"

namespace pipette {
namespace {

using watermark::make_ring_key;
using watermark::plant_rings;
using watermark::ring_scores;

TEST(TreeRing, PlantedKeyReadsBackAndNoiseStaysNormal) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  auto key = make_ring_key(32, 6, 1, gen);
  EXPECT_EQ(key.mask.sum().item<int64_t>(), 109);  // integer points within radius 6 of the centre
  at::Tensor z = at::randn({64, 3, 32, 32}, gen);
  at::Tensor planted = plant_rings(z, key);
  // Only the keyed channel changes, and it stays (about) standard normal.
  EXPECT_TRUE(at::equal(planted.select(1, 0), z.select(1, 0)));
  EXPECT_NEAR(planted.select(1, 1).std().item<double>(), 1.0, 0.05);
  auto marked = ring_scores(planted, key);
  EXPECT_LT(marked.distance.max().item<double>(), 1e-3);  // the spectrum holds the key exactly
  EXPECT_GT(marked.score.min().item<double>(), 0.999);
  // Unmarked noise: the p-values of a calibrated test are uniform.
  auto clean = ring_scores(at::randn({2000, 3, 32, 32}, gen), key);
  EXPECT_NEAR(clean.score.mean().item<double>(), 0.5, 0.03);
  EXPECT_NEAR(clean.score.gt(0.95).to(at::kDouble).mean().item<double>(), 0.05, 0.015);
  EXPECT_NEAR(clean.score.gt(0.5).to(at::kDouble).mean().item<double>(), 0.5, 0.04);
}

TEST(TreeRing, BadKeysAndShapesAreErrors) {
  at::Generator gen = at::detail::createCPUGenerator(1);
  EXPECT_THROW(make_ring_key(32, 17, 0, gen), std::invalid_argument);
  auto key = make_ring_key(32, 4, 3, gen);
  try {
    plant_rings(at::randn({1, 3, 32, 32}), key);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "the key is in channel 3 but the noise has 3 channels");
  }
  try {
    ring_scores(at::randn({1, 4, 16, 16}), key);
    ADD_FAILURE();
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(), "the noise must be [N, C, 32, 32] for this key, found [1, 4, 16, 16]");
  }
}

// Through a small diffusion model trained on the photographs' crops (~10 s).
TEST_F(Watermark, TreeRingMarksGeneratedImages) {
  auto e = run(R"(
let photos = data.images(names=["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                                "hubble_deep_field.jpg", "ihc.png", "retina.jpg"], size=128).images
let dm = diffusion.train(photos, size=32, steps=500, batch=16, width=8, seed=2)
let key = watermark.ring_key(size=32, radius=6, seed=3)
let marked = diffusion.sample(dm.model, noise=watermark.ring_noise(key, n=16))
let plain = diffusion.sample(dm.model, n=16)
let clean = watermark.ring_detect(diffusion.invert(dm.model, plain), key).score
report "auroc" = watermark.roc(watermark.ring_detect(diffusion.invert(dm.model, marked), key).score, clean).auroc
let purified = diffusion.purify(dm.model, marked, t=0.1)
report "purified" = watermark.roc(watermark.ring_detect(diffusion.invert(dm.model, purified), key).score, clean).auroc
report "other_key" = watermark.roc(watermark.ring_detect(diffusion.invert(dm.model, marked),
                                                         watermark.ring_key(size=32, radius=6, seed=4)).score,
                                   clean).auroc
)");
  ASSERT_TRUE(e.ok());
  EXPECT_GE(report(e, "auroc").toDouble(), 0.95);
  EXPECT_GE(report(e, "purified").toDouble(), 0.9);  // a semantic watermark: purification at 0.1 keeps it
  EXPECT_LT(report(e, "other_key").toDouble(), 0.8);
}

TEST_F(Watermark, TreeRingKeyMismatchesAreErrors) {
  EXPECT_NE(run_errors("let k = watermark.ring_key(size=16, radius=4)\n"
                       "report \"s\" = watermark.ring_detect(tensor.random([2, 3, 32, 32]), k)\n")
                .find("the noise must be [N, C, 16, 16] for this key, found [2, 3, 32, 32]"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"k\" = watermark.ring_key(size=16, radius=9)\n")
                .find("radius must be in [1, 8] for size 16, found 9"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
