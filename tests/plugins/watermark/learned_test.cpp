// The learned watermark: trained by the pipeline at a low and a high strength
// on python3-skimage's photographs; embed -> detect, its budget, its
// robustness, the saved TorchScript module, and the errors for models that
// are not (yet) a watermark.
#include <torch/script.h>

#include "watermark_fixture.hpp"

namespace pipette {
namespace {

class WatermarkLearned : public Watermark {
 protected:
  // Eight photographs at 128x128 and a weak (2/255) and a strong (16/255)
  // watermark trained on them; ~8 s.
  static std::string trained() {
    return "let photos = data.images(names=[\"astronaut.png\", \"chelsea.png\", \"coffee.png\", \"rocket.jpg\", "
           "\"motorcycle_left.png\", \"hubble_deep_field.jpg\", \"ihc.png\", \"retina.jpg\"], size=128).images\n"
           "let key = watermark.key(bits=32, seed=7)\n"
           "let weak = watermark.train(photos, strength=2, seed=1)\n"
           "let strong = watermark.train(photos, strength=16, seed=1)\n";
  }
};

TEST_F(WatermarkLearned, CarriesTheKeyWithinItsBudget) {
  auto e = run(trained() + R"(
let mw = watermark.embed(photos, key, method="learned", model=weak.model)
let ms = watermark.embed(photos, key, method="learned", model=strong.model)
report "photos" = photos
report "weak" = mw
report "strong" = ms
report "weak_train" = weak.bit_accuracy
let other = watermark.key(bits=32, seed=8)
report "weak_acc" = watermark.detect(mw, key, method="learned", model=weak.model)
report "strong_acc" = watermark.detect(ms, key, method="learned", model=strong.model)
report "weak_other" = watermark.detect(mw, other, method="learned", model=weak.model)
report "weak_clean" = watermark.detect(photos, key, method="learned", model=weak.model)
report "strong_clean" = watermark.detect(photos, key, method="learned", model=strong.model)
report "weak_psnr" = watermark.psnr(mw, photos)
report "strong_psnr" = watermark.psnr(ms, photos)
report "weak_blur" = watermark.detect(watermark.distort(mw, "blur", 2), key, method="learned", model=weak.model)
report "strong_blur" = watermark.detect(watermark.distort(ms, "blur", 2), key, method="learned", model=strong.model)
report "strong_jpeg" = watermark.detect(watermark.distort(ms, "jpeg", 50), key, method="learned", model=strong.model)
save(strong.model, "strong.pt")
)");
  ASSERT_TRUE(e.ok());
  EXPECT_GE(report(e, "weak_train").toDouble(), 0.99);
  EXPECT_GE(tensor(e, "weak_acc").min().item<double>(), 0.95);
  EXPECT_GE(tensor(e, "weak_acc").mean().item<double>(), 0.99);
  EXPECT_GE(tensor(e, "strong_acc").min().item<double>(), 0.99);
  // Another key, or no watermark: chance.
  EXPECT_NEAR(tensor(e, "weak_other").mean().item<double>(), 0.5, 0.12);
  EXPECT_NEAR(tensor(e, "weak_clean").mean().item<double>(), 0.5, 0.12);
  EXPECT_NEAR(tensor(e, "strong_clean").mean().item<double>(), 0.5, 0.12);
  // The strength is an L-infinity budget, held exactly; it decides visibility.
  at::Tensor photos = tensor(e, "photos");
  EXPECT_LE((tensor(e, "weak") - photos).abs().max().item<double>(), 2.0 / 255 + 1e-6);
  EXPECT_LE((tensor(e, "strong") - photos).abs().max().item<double>(), 16.0 / 255 + 1e-6);
  EXPECT_GT(tensor(e, "weak_psnr").min().item<double>(), 38.0);
  EXPECT_LT(tensor(e, "strong_psnr").max().item<double>(), 30.0);
  // ... and robustness: blur takes the weak one to chance, not the strong one.
  EXPECT_LT(tensor(e, "weak_blur").mean().item<double>(), 0.7);
  EXPECT_GT(tensor(e, "strong_blur").mean().item<double>(), 0.85);
  EXPECT_GT(tensor(e, "strong_jpeg").mean().item<double>(), 0.9);

  // The saved module is the encoder/decoder pair Python can call.
  torch::jit::Module m = torch::jit::load((dir_ / "out" / "strong.pt").string());
  EXPECT_EQ(m.attr("bits").toInt(), 32);
  at::Tensor bits = at::randint(0, 2, {8, 32}).to(at::kFloat);
  at::Tensor logits = m.get_method("decode")({m.get_method("encode")({photos, bits}).toTensor()}).toTensor();
  EXPECT_TRUE(at::equal(logits.gt(0).to(at::kFloat), bits));
  EXPECT_TRUE(at::equal(m.forward({photos}).toTensor(), m.get_method("decode")({photos}).toTensor()));
}

// The paper's first result at small scale: diffusion purification (a small
// diffusion model trained on the same photographs' crops in the test) takes
// the low-perturbation watermarks towards chance as t* grows, while the strong
// learned watermark survives it.
TEST_F(WatermarkLearned, PurificationRemovesLowPerturbationWatermarksOnly) {
  auto e = run(trained() + R"(
pipeline purified(dm: model, w: model, key: tensor, photos: tensor, t: float) {
  let p = diffusion.purify(dm, watermark.embed(photos, key, method="learned", model=w), t=t, steps=5)
  return tensor.mean(watermark.detect(p, key, method="learned", model=w))
}
let dm = diffusion.train(photos, size=32, steps=500, batch=16, width=8, seed=2)
for t in [0.1, 0.3] {
  for m in ["dwt_dct", "dwt_dct_svd"] {
    let marked = watermark.embed(photos, key, method=m)
    let p = diffusion.purify(dm.model, marked, t=t, steps=5)
    report "{m}/{t}" = tensor.mean(watermark.detect(p, key, method=m))
    report "{m}/{t}/psnr" = tensor.mean(watermark.psnr(p, marked))
  }
  report "weak/{t}" = purified(dm.model, weak.model, key, photos, t)
  report "strong/{t}" = purified(dm.model, strong.model, key, photos, t)
}
)");
  ASSERT_TRUE(e.ok());
  auto acc = [&](const std::string& name) { return tensor(e, name).item<double>(); };
  for (std::string m : {"dwt_dct", "dwt_dct_svd", "weak"}) {
    EXPECT_LT(std::abs(acc(m + "/0.3") - 0.5), 0.2) << m;
    EXPECT_LT(acc(m + "/0.1"), 0.9) << m;
  }
  EXPECT_GT(acc("strong/0.1"), 0.95);
  EXPECT_GT(acc("strong/0.3"), 0.85);
  // The attack costs image quality, more as t* grows.
  EXPECT_GT(acc("dwt_dct/0.1/psnr"), 20.0);
  EXPECT_GT(acc("dwt_dct/0.1/psnr"), acc("dwt_dct/0.3/psnr") + 2);
}

TEST_F(WatermarkLearned, UntrainedOrWrongModelsAreRefused) {
  auto photos = "let photos = data.images(names=[\"astronaut.png\", \"chelsea.png\"], size=64).images\n"
                "let key = watermark.key(bits=16)\n";
  // One step is not enough to learn: embed and detect refuse the decoder.
  std::string untrained = run_errors(std::string(photos) + R"(
let w = watermark.train(photos, bits=16, steps=1, seed=1)
report "x" = watermark.detect(photos, key, method="learned", model=w.model)
)");
  EXPECT_NE(untrained.find("the learned watermark's decoder is untrained: it read 0."), std::string::npos)
      << untrained;
  EXPECT_NE(untrained.find("train it longer (steps), with a larger strength or fewer bits"), std::string::npos);

  torch::jit::Module lin("Linear");
  lin.register_parameter("w", at::zeros({2, 12}), false);
  lin.define("def forward(self, x):\n    return torch.flatten(x, 1) @ self.w.t()\n");
  lin.save((dir_ / "linear.pt").string());
  EXPECT_NE(run_errors(std::string(photos) +
                       "report \"x\" = watermark.embed(photos, key, method=\"learned\", model=model.load(\"linear.pt\"))\n")
                .find("the model is not a learned watermark (it has no encode/decode pair): train one with "
                      "watermark.train"),
            std::string::npos);
  EXPECT_NE(run_errors(std::string(photos) + "report \"x\" = watermark.embed(photos, key, method=\"learned\")\n")
                .find("method=\"learned\" needs model=: the .model of a watermark.train result"),
            std::string::npos);
  EXPECT_NE(run_errors(std::string(photos) +
                       "report \"x\" = watermark.detect(photos, key, model=model.load(\"linear.pt\"))\n")
                .find("model= is for method=\"learned\"; the dwt_dct watermark has no model"),
            std::string::npos);
  EXPECT_NE(run_errors(std::string(photos) + "let w = watermark.train(photos, bits=8, steps=300, seed=1)\n"
                                             "report \"x\" = watermark.embed(photos, key, method=\"learned\", "
                                             "model=w.model)\n")
                .find("the key has 16 bits; the learned watermark carries 8"),
            std::string::npos);
  EXPECT_NE(run_errors(std::string(photos) + "report \"w\" = watermark.train(photos, size=40)\n")
                .find("size must be a multiple of the tile (16), found 40"),
            std::string::npos);
  EXPECT_NE(run_errors(std::string(photos) + "report \"w\" = watermark.train(photos, size=80)\n")
                .find("images of 64x64 are smaller than the training crops (80x80): lower size"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
