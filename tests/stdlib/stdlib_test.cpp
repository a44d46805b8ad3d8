// The standard library's models, training, attribution, metrics and pictures,
// against analytic answers.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/script.h>

#include <filesystem>
#include <fstream>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

TEST_F(Stdlib, IntegratedGradientsOnALinearModelIsExactForEveryQuadrature) {
  at::manual_seed(1);
  at::Tensor w = at::randn({3, 12}), b = at::randn({3});
  save_linear(w, b);
  at::Tensor x = at::randn({4, 3, 2, 2}), base = at::randn({1, 3, 2, 2}), target = at::tensor({0, 2, 1, 2}, at::kLong);
  save(x, "x.pt");
  save(base, "base.pt");
  save(target, "t.pt");
  at::Tensor expected = w.index_select(0, target).view({4, 3, 2, 2}) * (x - base);
  for (const char* method : {"riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"}) {
    auto e = run(std::string("let m = model.load(\"linear.pt\")\n") +
                 "report \"ig\" = attr.integrated_gradients(m, tensor.load(\"x.pt\"), target=tensor.load(\"t.pt\"), "
                 "baselines=tensor.load(\"base.pt\"), steps=7, method=\"" + method + "\")\n");
    ASSERT_TRUE(e.ok()) << method;
    EXPECT_TRUE(at::allclose(report(e, "ig"), expected, 1e-5, 1e-5)) << method;
  }
}

TEST_F(Stdlib, IntegratedGradientsCompletenessImprovesWithStepsAndSurvivesChunking) {
  torch::jit::Module m("Curved");
  at::manual_seed(2);
  m.register_parameter("w", at::randn({6, 2}), false);
  m.define("def forward(self, x):\n    return torch.tanh(torch.flatten(x, 1) @ self.w) ** 2\n");
  m.save((dir_ / "curved.pt").string());
  at::Tensor x = at::randn({5, 6});
  save(x, "x.pt");
  auto gap = [&](int steps, uint64_t budget) {
    RunOptions o;
    o.memory_budget = budget;
    auto e = run("let m = model.load(\"curved.pt\")\nlet x = tensor.load(\"x.pt\")\n"
                 "report \"ig\" = attr.integrated_gradients(m, x, target=1, steps=" + std::to_string(steps) +
                 ", method=\"riemann_trapezoid\")\nreport \"fx\" = model.predict(m, x)\n", o);
    at::Tensor fx = report(e, "fx").select(1, 1);
    at::Tensor f0 = at::zeros_like(fx);  // F(0) = tanh(0)^2
    return std::make_pair((report(e, "ig").sum(1) - (fx - f0)).abs().max().item<double>(), report(e, "ig"));
  };
  auto [coarse, a4] = gap(4, 0);
  auto [fine, a256] = gap(256, 0);
  EXPECT_LT(fine, coarse / 100) << coarse << " -> " << fine;  // trapezoid error falls as 1/steps^2
  EXPECT_LT(fine, 1e-4);
  auto [chunked, a256_chunked] = gap(256, 1);  // a 1-byte budget: one path point at a time
  EXPECT_TRUE(at::allclose(a256, a256_chunked, 1e-5, 1e-6));
}

TEST_F(Stdlib, SaliencyOfALinearModelIsItsWeights) {
  at::Tensor w = at::tensor({1.f, -2.f, 3.f, -4.f, 0.5f, 0.f}).view({2, 3}), b = at::zeros({2});
  save_linear(w, b);
  save(at::randn({2, 3}), "x.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"abs\" = attr.saliency(m, x, target=1)\n"
               "report \"signed\" = attr.saliency(m, x, target=0, abs=false)\n"
               "report \"ixg\" = attr.input_x_gradient(m, x, target=0)\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "abs").equal(w[1].abs().expand({2, 3})));
  EXPECT_TRUE(report(e, "signed").equal(w[0].expand({2, 3})));
  EXPECT_TRUE(at::allclose(report(e, "ixg"), w[0] * read_pt_file(dir_ / "x.pt").toTensor()));
}

TEST_F(Stdlib, DeletionRewardsTheAttributionThatFindsThePixelTheModelReads) {
  // Class 1's logit is 8 * pixel (0, 0); class 0's is 0.
  at::Tensor w = at::zeros({2, 16});
  w[1][0] = 8.0;
  save_linear(w, at::zeros({2}));
  save(at::ones({3, 1, 4, 4}), "x.pt");
  at::Tensor right = at::zeros({3, 1, 4, 4}), wrong = at::ones({3, 1, 4, 4});
  right.index_put_({at::indexing::Slice(), 0, 0, 0}, 1.0);
  wrong.index_put_({at::indexing::Slice(), 0, 0, 0}, 0.0);
  save(right, "right.pt");
  save(wrong, "wrong.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"right\" = metric.deletion(m, x, tensor.load(\"right.pt\"), target=1, steps=16)\n"
               "report \"wrong\" = metric.deletion(m, x, tensor.load(\"wrong.pt\"), target=1, steps=16)\n");
  ASSERT_TRUE(e.ok());
  double p1 = 1.0 / (1.0 + std::exp(-8.0)), half = 0.5;
  // Removing the pixel at the first step: the curve is p1 at 0, then 1/2.
  EXPECT_NEAR(report(e, "right").item<double>(), (p1 / 2 + half * 15 + half / 2) / 16, 1e-6);
  // Removing it last: p1 until the final step.
  EXPECT_NEAR(report(e, "wrong").item<double>(), (p1 / 2 + p1 * 15 + half / 2) / 16, 1e-6);
}

TEST_F(Stdlib, TrainingLearnsFashionMnistAndTheModelOpensAsTorchScript) {
  Cache cache(dir_ / "cache");
  RunOptions o;
  o.cache = &cache;
  const char* text =
      "let trained = train.classifier(arch=\"mlp\", data=data.fashion_mnist(limit=3000), epochs=2, batch=32)\n"
      "report \"accuracy\" = trained.accuracy\nreport \"losses\" = trained.losses\n"
      "save(trained.model, \"model.pt\")\n";
  auto first = run(text, o);
  ASSERT_TRUE(first.ok());
  double accuracy = report(first, "accuracy").item<double>();
  EXPECT_GT(accuracy, 0.70);  // 300 held-out images; chance is 0.10
  at::Tensor losses = report(first, "losses");
  EXPECT_LT(losses[1].item<float>(), losses[0].item<float>());
  torch::jit::Module m = torch::jit::load((dir_ / "out" / "model.pt").string());
  EXPECT_EQ(m.forward({at::zeros({5, 1, 28, 28})}).toTensor().sizes(), (std::vector<int64_t>{5, 10}));
  EXPECT_TRUE(m.find_method("features").has_value());  // the hook point layer methods use
  // The record with its model comes back from the cache, model included.
  auto second = run(text, o);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.computed, 1u);  // only the save, which writes its file in every run
  for (auto& n : graph_.nodes)
    if (n.op == "train.classifier") {
      EXPECT_TRUE(second.nodes[n.id].cached);
    }
  EXPECT_EQ(report(second, "accuracy").item<double>(), accuracy);
  EXPECT_TRUE(fs::exists(dir_ / "out" / "model.pt"));
}

TEST_F(Stdlib, ArchitecturesBuildForAnyImageShape) {
  for (const char* arch : {"mlp", "cnn", "resnet"}) {
    save(at::rand({40, 3, 9, 13}), "x.pt");
    save(at::arange(40, at::kLong) % 3, "y.pt");
    auto e = run(std::string("let d = data.from_tensors({images: tensor.load(\"x.pt\"), labels: tensor.load(\"y.pt\")})\n") +
                 "let t = train.classifier(arch=\"" + arch + "\", data=d, epochs=1, batch=16, holdout=0.25)\n"
                 "report \"out\" = model.predict(t.model, d)\n");
    ASSERT_TRUE(e.ok()) << arch;
    EXPECT_EQ(report(e, "out").sizes(), (std::vector<int64_t>{40, 3})) << arch;
  }
}

TEST_F(Stdlib, HeatmapsArePngsYouCanOpen) {
  save(at::rand({5, 1, 28, 28}), "x.pt");
  save(at::randn({5, 1, 28, 28}), "a.pt");
  auto e = run("let h = viz.heatmap(tensor.load(\"x.pt\"), tensor.load(\"a.pt\"), max_images=4)\n"
               "report \"shape\" = h\nsave(h, \"h.png\")\n");
  ASSERT_TRUE(e.ok());
  at::Tensor h = report(e, "shape");
  EXPECT_EQ(h.sizes(), (std::vector<int64_t>{4, 3, 112, 112}));  // scaled 4x to reach 112 px
  EXPECT_GE(h.min().item<float>(), 0.f);
  EXPECT_LE(h.max().item<float>(), 1.f);
  std::ifstream png(dir_ / "out" / "h.png", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(png)), {});
  ASSERT_GT(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  auto be32 = [&](size_t at) {
    return (uint32_t(uint8_t(bytes[at])) << 24) | (uint32_t(uint8_t(bytes[at + 1])) << 16) |
           (uint32_t(uint8_t(bytes[at + 2])) << 8) | uint32_t(uint8_t(bytes[at + 3]));
  };
  EXPECT_EQ(be32(16), 2u * 112 + 2);  // a 2x2 grid with a 2-pixel gap: width
  EXPECT_EQ(be32(20), 2u * 112 + 2);  // and height
}

}  // namespace
}  // namespace pipette
