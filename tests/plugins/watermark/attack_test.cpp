// The paper's spoofing by noise pasting (hand-computed, then against the
// strong learned watermark) and the model-substitution attack (a substitute
// detector trained by the pipeline, attacked with PGD).
#include "watermark_fixture.hpp"

namespace pipette {
namespace {

TEST_F(Watermark, PasteBlendsAsThePaperDoes) {
  at::Tensor x = at::tensor({0.2f, 0.4f, 0.5f, 0.1f}).view({1, 1, 2, 2});
  at::Tensor z = at::tensor({1.0f, 0.0f, 0.5f, 0.25f}).view({1, 1, 2, 2});
  save(x, "x.pt");
  save(z, "z.pt");
  auto e = run("report \"p\" = watermark.paste(tensor.load(\"x.pt\"), tensor.load(\"z.pt\"), alpha=0.2)\n");
  ASSERT_TRUE(e.ok());
  // gamma = 1 - max(0.2 z) = 0.8; x / max(x) = x / 0.5; then + 0.2 z, to 8 bits.
  at::Tensor want = ((0.8 * x / 0.5 + 0.2 * z).clamp(0, 1) * 255).round() / 255;
  EXPECT_TRUE(at::allclose(tensor(e, "p"), want, 0, 1e-6)) << tensor(e, "p");
  EXPECT_NE(run_errors("report \"p\" = watermark.paste(tensor.load(\"x.pt\"), tensor.random([2, 1, 2, 2], "
                       "distribution=\"uniform\"))\n")
                .find("pattern has 2 images for 1: give one or one per image"),
            std::string::npos);
}

TEST_F(Watermark, BlackBoxPastingSpoofsTheStrongLearnedWatermark) {
  auto e = run(R"(
let photos = data.images(names=["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                                "hubble_deep_field.jpg", "ihc.png", "retina.jpg"], size=128).images
let key = watermark.key(bits=32, seed=7)
let strong = watermark.train(photos, strength=16, seed=1)
let z = watermark.embed(tensor.random([1, 3, 128, 128], distribution="uniform"), key, method="learned", model=strong.model)
let spoofed = watermark.paste(photos, z, alpha=0.2)
report "spoofed" = watermark.detect(spoofed, key, method="learned", model=strong.model)
report "clean" = watermark.detect(photos, key, method="learned", model=strong.model)
report "psnr" = watermark.psnr(spoofed, photos)
)");
  ASSERT_TRUE(e.ok());
  EXPECT_GT(tensor(e, "spoofed").mean().item<double>(), 0.9);
  EXPECT_LT(tensor(e, "clean").mean().item<double>(), 0.65);
}

TEST_F(Watermark, SubstituteAttackFoolsTheSubstitute) {
  auto e = run(R"(
let photos = data.images(names=["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png",
                                "hubble_deep_field.jpg", "ihc.png", "retina.jpg"], size=64).images
let key = watermark.key(bits=32, seed=7)
let strong = watermark.train(photos, strength=16, seed=1)
let marked = watermark.embed(photos, key, method="learned", model=strong.model)
let crops = watermark.substitute_data(marked, photos, count=2000, noise=0.02, seed=2)
report "labels" = crops.labels
report "crops" = crops.images
let sub = train.classifier("cnn", crops, epochs=4, lr=0.003, classes=2, seed=3)
let held = watermark.substitute_data(marked, photos, count=16, noise=0.0, seed=9)
report "held" = held.labels
report "before" = model.predict(sub.model, held.images)
let evade = watermark.pgd(sub.model, held.images, 0, eps=8, steps=50)
report "x" = held.images
report "evade" = evade
report "after" = model.predict(sub.model, evade)
)");
  ASSERT_TRUE(e.ok());
  at::Tensor labels = tensor(e, "labels");
  EXPECT_EQ(labels.size(0), 4000);
  EXPECT_EQ(labels.sum().item<int64_t>(), 2000);
  EXPECT_EQ(tensor(e, "crops").sizes(), (at::IntArrayRef{4000, 3, 32, 32}));
  // The substitute learned the watermark on unseen crops; PGD inside 8/255
  // makes it call the watermarked ones clean: its evasion error rises.
  at::Tensor held = tensor(e, "held").to(at::kBool);
  at::Tensor before = tensor(e, "before").argmax(1), after = tensor(e, "after").argmax(1);
  EXPECT_GE(before.eq(held.to(at::kLong)).to(at::kDouble).mean().item<double>(), 0.8);
  double evasion_before = before.index({held}).eq(0).to(at::kDouble).mean().item<double>();
  double evasion_after = after.index({held}).eq(0).to(at::kDouble).mean().item<double>();
  EXPECT_GE(evasion_after, 0.9);
  EXPECT_LE(evasion_before, 0.2);
  EXPECT_LE((tensor(e, "evade") - tensor(e, "x")).abs().max().item<double>(), 8.0 / 255 + 1e-6);
}

// Every ```pipe block of docs/plugins/watermark.md, and the example, compile.
TEST_F(Watermark, TheDocsAndTheExampleCompile) {
  EXPECT_GE(check_doc_blocks(fs::path(PIPETTE_SOURCE_DIR) / "docs/plugins/watermark.md"), 1);
  check_compiles(fs::path(PIPETTE_SOURCE_DIR) / "examples/watermark_robustness.pipe");
}

}  // namespace
}  // namespace pipette
