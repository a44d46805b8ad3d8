// Attribution methods against answers known in closed form: additive models
// whose Shapley values are exact, models that read one pixel, a hook point
// with a known active channel.
#include <gtest/gtest.h>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

using at::indexing::Slice;

// Logits = tanh(flatten(x)) @ W^T: additive in the pixels, so the Shapley
// value of a group of pixels is sum over it of W[t, i] (tanh x_i - tanh b_i).
class Additive : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(7);
    w_ = at::randn({3, 16});
    save_module("additive.pt", {{"w", w_}}, "def forward(self, x):\n    return torch.tanh(torch.flatten(x, 1)) @ self.w.t()\n");
    x_ = at::rand({5, 1, 4, 4});
    save(x_, "x.pt");
    target_ = at::tensor({0, 1, 2, 1, 0}, at::kLong);
    save(target_, "t.pt");
  }
  // Exact Shapley values of 2x2 superpixels (baseline 0), spread over their pixels.
  at::Tensor shapley_of_superpixels(const at::Tensor& target) const {
    at::Tensor per_pixel = (w_.index_select(0, target) * at::tanh(x_.flatten(1))).view({-1, 4, 4});
    at::Tensor group = per_pixel.view({-1, 2, 2, 2, 2}).sum({2, 4}, true);  // [N, 2, 1, 2, 1]
    return group.expand({-1, 2, 2, 2, 2}).reshape({-1, 1, 4, 4});
  }
  std::string call(const std::string& method, const std::string& extra = "") const {
    return "let m = model.load(\"additive.pt\")\nlet x = tensor.load(\"x.pt\")\n"
           "report \"a\" = attr." + method + "(m, x, target=tensor.load(\"t.pt\"), feature_mask=attr.feature_grid(x, rows=2, cols=2)" +
           extra + ")\n";
  }
  at::Tensor w_, x_, target_;
};

TEST_F(Additive, ShapleySamplingKernelShapLimeAndAblationRecoverExactShapleyValues) {
  at::Tensor expected = shapley_of_superpixels(target_);
  for (const char* method : {"shapley_value_sampling", "kernel_shap", "feature_ablation"}) {
    auto e = run(call(method));
    ASSERT_TRUE(e.ok()) << method;
    EXPECT_TRUE(at::allclose(report(e, "a"), expected, 1e-4, 1e-5)) << method << "\n" << report(e, "a")[0] << expected[0];
  }
  auto e = run(call("lime", ", ridge=0.0"));  // an unpenalised fit of a model linear in the coalition
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(at::allclose(report(e, "a"), expected, 1e-4, 1e-5));
}

TEST_F(Additive, SeveralTargetsComeFromTheSameForwardPasses) {
  auto e = run("let m = model.load(\"additive.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"a\" = attr.shapley_value_sampling(m, x, target=[2, 0], n_samples=3, "
               "feature_mask=attr.feature_grid(x, rows=2, cols=2))\n"
               "report \"ig\" = attr.integrated_gradients(m, x, target=[1, 2], steps=64)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor a = report(e, "a");
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{5, 2, 1, 4, 4}));
  EXPECT_TRUE(at::allclose(a.select(1, 0), shapley_of_superpixels(at::full({5}, 2, at::kLong)), 1e-4, 1e-5));
  EXPECT_TRUE(at::allclose(a.select(1, 1), shapley_of_superpixels(at::full({5}, 0, at::kLong)), 1e-4, 1e-5));
  // IG of an additive model is exact per pixel: w (tanh x - tanh 0).
  at::Tensor ig = report(e, "ig");
  ASSERT_EQ(ig.sizes(), (std::vector<int64_t>{5, 2, 1, 4, 4}));
  EXPECT_TRUE(at::allclose(ig.select(1, 1).flatten(1), w_[2] * at::tanh(x_.flatten(1)), 1e-4, 1e-5));
}

// shards=N (issue 25): the op on N example ranges, concatenated, gives the
// unsharded result whatever the per-example arguments are: a tensor of
// targets, several targets for every example (a list), a per-example
// baseline tensor, a [1, ...] one shared by every shard. Bitwise where each
// example's arithmetic does not depend on how many rows a batch has
// (saliency, feature ablation); the methods that batch many perturbed copies
// into one matrix product (IG, occlusion) land within a few ulps, as the
// same call does under another --memory-budget (checked too: the BLAS kernel
// depends on the batch's row count).
TEST_F(Additive, ShardsGiveTheUnshardedResult) {
  save(at::rand({5, 1, 4, 4}), "b5.pt");
  save(at::rand({1, 1, 4, 4}), "b1.pt");
  const std::string head = "let m = model.load(\"additive.pt\")\nlet x = tensor.load(\"x.pt\")\n";
  struct Case {
    std::string method, args;
    bool bitwise;
  };
  const Case cases[] = {
      {"saliency", "target=tensor.load(\"t.pt\")", true},
      // Bitwise on LibTorch 1.13; 2 ulps apart on 2.11, whose kernels for the
      // batched forward passes depend on the row count.
      {"feature_ablation", "target=tensor.load(\"t.pt\"), feature_mask=attr.feature_grid(x, rows=2, cols=2)", false},
      {"integrated_gradients", "target=tensor.load(\"t.pt\"), steps=8, baselines=tensor.load(\"b5.pt\")", false},
      {"integrated_gradients", "target=[0, 2], baselines=tensor.load(\"b1.pt\")", false},
      {"occlusion", "target=2, window=2", false}};
  for (auto& c : cases) {
    auto e = run(head + "report \"whole\" = attr." + c.method + "(m, x, " + c.args + ")\n" + "report \"sharded\" = attr." +
                 c.method + "(m, x, " + c.args + ", shards=3)\n");
    ASSERT_TRUE(e.ok()) << c.method;
    size_t calls = 0;
    for (auto& n : graph_.nodes) calls += n.op == "attr." + c.method;
    EXPECT_EQ(calls, 4u) << c.method;  // one whole, three shards (5 examples: 1, 2 and 2)
    at::Tensor whole = report(e, "whole"), sharded = report(e, "sharded");
    ASSERT_EQ(whole.sizes(), sharded.sizes()) << c.method;
    // In float32 ulps of the largest value: a value near 0 has a tiny ulp of its own.
    double ulps = ((whole - sharded).abs().max() / (whole.abs().max() * 1.1920929e-07)).item<double>();
    if (c.bitwise) EXPECT_TRUE(at::equal(whole, sharded)) << c.method << " " << c.args << ": " << ulps << " ulps";
    else EXPECT_LE(ulps, 8.0) << c.method << " " << c.args;
  }
  // The same few ulps as a smaller memory budget gives the unsharded call.
  RunOptions small;
  small.memory_budget = 4096;
  auto e = run(head + "report \"a\" = attr.integrated_gradients(m, x, target=tensor.load(\"t.pt\"), steps=8)\n", small);
  auto f = run(head + "report \"a\" = attr.integrated_gradients(m, x, target=tensor.load(\"t.pt\"), steps=8)\n");
  EXPECT_LE((report(e, "a") - report(f, "a")).abs().max().item<double>(), 1e-6);
  std::string err = run_errors(head + "report \"a\" = attr.saliency(m, x, target=0, shards=6)\n");
  EXPECT_NE(err.find("shards=6, but there are only 5 examples"), std::string::npos) << err;
  // Metrics of each input alone shard too; with reduce="mean" the mean is
  // taken over the shards' defined scores, as the whole call takes it.
  for (const char* metric : {"complexity(a", "deletion(m, x, a, target=tensor.load(\"t.pt\")"}) {
    const std::string call = std::string("metric.") + metric;
    e = run(head + "let a = attr.saliency(m, x, target=tensor.load(\"t.pt\"))\n" + "report \"mean\" = " + call + ")\n" +
            "report \"mean_sharded\" = " + call + ", shards=2)\n" + "report \"none\" = " + call + ", reduce=\"none\")\n" +
            "report \"none_sharded\" = " + call + ", reduce=\"none\", shards=3)\n");
    ASSERT_TRUE(e.ok()) << metric;
    EXPECT_TRUE(at::allclose(report(e, "none"), report(e, "none_sharded"), 1e-6, 1e-7)) << metric;
    EXPECT_NEAR(report(e, "mean").item<double>(), report(e, "mean_sharded").item<double>(), 1e-6) << metric;
  }
  // Predictions shard too: row i is the model on example i.
  e = run(head + "report \"whole\" = model.predict(m, x)\nreport \"sharded\" = model.predict(m, x, shards=2)\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(at::allclose(report(e, "whole"), report(e, "sharded"), 1e-6, 1e-7));
  err = run_errors("let m = model.load(\"additive.pt\")\nlet d = data.from_tensors({images: tensor.load(\"x.pt\")})\n"
                   "report \"p\" = model.predict(m, d, shards=2)\n");
  EXPECT_NE(err.find("this argument is a dataset; pass its field instead"), std::string::npos) << err;
}

TEST_F(Additive, ConvergenceDeltaShrinksWithSteps) {
  auto delta = [&](int steps) {
    auto e = run("let m = model.load(\"additive.pt\")\nlet x = tensor.load(\"x.pt\")\nlet t = tensor.load(\"t.pt\")\n"
                 "let a = attr.integrated_gradients(m, x, target=t, steps=" + std::to_string(steps) +
                 ", method=\"riemann_left\")\nreport \"d\" = attr.convergence_delta(m, x, a, target=t)\n");
    return report(e, "d").abs().max().item<double>();
  };
  double coarse = delta(4), fine = delta(400);
  EXPECT_GT(coarse, 1e-3);
  EXPECT_LT(fine, coarse / 50);
}

TEST_F(Stdlib, OcclusionFindsThePixelTheModelReads) {
  at::Tensor w = at::zeros({2, 16});
  w[1][5] = 8.0;  // class 1 reads pixel (1, 1) of a 4x4 image
  save_linear(w, at::zeros({2}));
  save(at::ones({2, 1, 4, 4}), "x.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"one\" = attr.occlusion(m, x, target=1, window=1)\n"
               "report \"two\" = attr.occlusion(m, x, target=1, window=[2, 2])\n");
  ASSERT_TRUE(e.ok());
  at::Tensor one = report(e, "one"), expected = at::zeros({2, 1, 4, 4});
  expected.index_put_({Slice(), 0, 1, 1}, 8.0);
  EXPECT_TRUE(at::allclose(one, expected));
  // 2x2 windows, stride 1: a pixel's value is the mean drop over the windows
  // covering it; 4 windows cover (1, 1), all dropping 8. Pixel (0, 0) is covered
  // by one window, which holds (1, 1); pixel (0, 1) by two, both holding it.
  at::Tensor two = report(e, "two")[0][0];
  EXPECT_FLOAT_EQ(two[1][1].item<float>(), 8.f);
  EXPECT_FLOAT_EQ(two[0][0].item<float>(), 8.f);
  EXPECT_FLOAT_EQ(two[0][1].item<float>(), 8.f);
  EXPECT_FLOAT_EQ(two[0][3].item<float>(), 0.f);  // its windows never hold (1, 1)
  EXPECT_FLOAT_EQ(two[2][2].item<float>(), 8.f / 4);  // 4 windows, one holds (1, 1)
}

// Windows over all three example dimensions, strides that do not tile the
// input (the last row is reached by a window cut short, as in Captum), against the definition
// evaluated window by window: for a linear model a window's drop is
// sum over it of w_t (x - b).
TEST_F(Stdlib, OcclusionOfThreeDimensionalWindowsMatchesTheDefinition) {
  at::manual_seed(11);
  at::Tensor w = at::randn({3, 2 * 5 * 7}), x = at::rand({4, 2, 5, 7});
  save_linear(w, at::zeros({3}));
  save(x, "x.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"a\" = attr.occlusion(m, x, target=2, window=[1, 2, 3], strides=[1, 2, 2], baselines=0.25)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor contribution = (w[2] * (x.flatten(1) - 0.25)).view({4, 2, 5, 7});
  at::Tensor total = at::zeros_like(x), count = at::zeros({2, 5, 7});
  // Captum's windows: ceil((size - window) / stride) + 1 starts per dimension,
  // the last one cut short by the edge.
  auto starts = [](int64_t size, int64_t window, int64_t stride) { return (size - window + stride - 1) / stride + 1; };
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 2 * starts(5, 2, 2); i += 2)
      for (int64_t j = 0; j < 2 * starts(7, 3, 2); j += 2) {
        Slice rows(i, std::min<int64_t>(i + 2, 5)), cols(j, std::min<int64_t>(j + 3, 7));
        at::Tensor drop = contribution.index({Slice(), Slice(c, c + 1), rows, cols}).sum({1, 2, 3}, true);
        total.index({Slice(), Slice(c, c + 1), rows, cols}) += drop;
        count.index({Slice(c, c + 1), rows, cols}) += 1;
      }
  at::Tensor expected = total / count.clamp_min(1);
  EXPECT_TRUE(at::allclose(report(e, "a"), expected, 1e-4, 1e-5)) << report(e, "a")[0] << expected[0];
  // Row 4 is reached only by the windows cut short at the edge (Captum's; pipette gave it 0 before 0.3).
  EXPECT_GT(report(e, "a").select(2, 4).abs().max().item<float>(), 0.f);
}

TEST_F(Stdlib, PermutationAndRiseCreditOnlyThePixelTheModelReads) {
  at::Tensor w = at::zeros({2, 256});
  w[1][0] = 8.0;  // pixel (0, 0) of 16x16
  save_linear(w, at::zeros({2}));
  at::manual_seed(3);
  save(at::rand({6, 1, 16, 16}), "x.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"perm\" = attr.feature_permutation(m, x, target=1)\n"
               "report \"rise\" = attr.rise(m, x, target=1, n_masks=500, cells=4)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor perm = report(e, "perm").flatten(1);
  EXPECT_EQ(perm.slice(1, 1).abs().max().item<float>(), 0.f);
  EXPECT_GT(perm.select(1, 0).abs().max().item<float>(), 0.f);
  at::Tensor rise = report(e, "rise");
  ASSERT_EQ(rise.sizes(), (std::vector<int64_t>{6, 1, 16, 16}));
  EXPECT_TRUE((rise.flatten(1).argmax(1) == 0).all().item<bool>()) << rise[0][0];
}

TEST_F(Stdlib, NoiseTunnelAndGradientShapOnALinearModel) {
  at::manual_seed(4);
  at::Tensor w = at::randn({2, 6}), x = at::randn({3, 6}), base = at::randn({1, 6});
  save_linear(w, at::zeros({2}));
  save(x, "x.pt");
  save(base, "b.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"sg\" = attr.noise_tunnel(m, x, target=1, abs=false, nt_samples=8, stdevs=0.5)\n"
               "report \"vg\" = attr.noise_tunnel(m, x, target=1, abs=false, nt_type=\"vargrad\", stdevs=0.5)\n"
               "report \"sq\" = attr.noise_tunnel(m, x, target=1, abs=false, nt_type=\"smoothgrad_sq\")\n"
               "report \"ig\" = attr.noise_tunnel(m, x, target=0, explainer=\"integrated_gradients\", stdevs=0.0, steps=4)\n"
               "report \"shap\" = attr.gradient_shap(m, x, tensor.load(\"b.pt\"), target=0, n_samples=7)\n");
  ASSERT_TRUE(e.ok());
  // The gradient of a linear model is the same at every noisy point.
  EXPECT_TRUE(at::allclose(report(e, "sg"), w[1].expand({3, 6})));
  EXPECT_TRUE(at::allclose(report(e, "vg"), at::zeros({3, 6}), 0, 1e-6));
  EXPECT_TRUE(at::allclose(report(e, "sq"), (w[1] * w[1]).expand({3, 6})));
  EXPECT_TRUE(at::allclose(report(e, "ig"), w[0] * x, 1e-5, 1e-6));
  // One baseline, no noise: every draw gives w (x - b).
  EXPECT_TRUE(at::allclose(report(e, "shap"), w[0] * (x - base), 1e-5, 1e-6));
}

TEST_F(Stdlib, BaselinesBlurAndUniform) {
  at::Tensor w = at::randn({2, 64});
  save_linear(w, at::zeros({2}));
  at::Tensor x = at::full({2, 1, 8, 8}, 0.3);
  x[1] = at::rand({1, 8, 8});
  save(x, "x.pt");
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"blur\" = attr.integrated_gradients(m, x, target=1, baselines=\"blur\", steps=2)\n"
               "report \"uniform\" = attr.integrated_gradients(m, x, target=1, baselines=\"uniform\", steps=2)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor blur = report(e, "blur");
  EXPECT_LT(blur[0].abs().max().item<float>(), 1e-5);  // a flat image blurs to itself
  EXPECT_GT(blur[1].abs().max().item<float>(), 1e-3);
  at::Tensor wx = w[1].view({1, 8, 8});
  at::Tensor implied = x - report(e, "uniform") / wx;  // the baseline each attribution used
  EXPECT_GE(implied.min().item<float>(), x.min().item<float>() - 1e-3);
  EXPECT_LE(implied.max().item<float>(), x.max().item<float>() + 1e-3);
}

// features(x) = [x, -x] as two channels; head reads channel 0 only, for class 1.
class KnownChannel : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    save_module("hooked.pt", {},
                "def features(self, x):\n    return torch.cat([x, -x], 1)\n\n"
                "def head(self, h):\n    return torch.stack([h[:, 1].mean((1, 2)), 5.0 * h[:, 0].mean((1, 2))], 1)\n\n"
                "def forward(self, x):\n    return self.head(self.features(x))\n");
    at::manual_seed(5);
    x_ = at::randn({3, 1, 4, 4});
    save(x_, "x.pt");
  }
  at::Tensor x_;
};

TEST_F(KnownChannel, GradCamWeighsTheActiveChannel) {
  auto e = run("let m = model.load(\"hooked.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"cam\" = attr.grad_cam(m, x, target=1, interpolate=\"none\")\n"
               "report \"raw\" = attr.grad_cam(m, x, target=1, relu=false, interpolate=\"none\")\n");
  ASSERT_TRUE(e.ok());
  // Channel 0's gradient is 5/16 everywhere, channel 1's is 0.
  EXPECT_TRUE(at::allclose(report(e, "raw"), x_ * (5.0 / 16)));
  EXPECT_TRUE(at::allclose(report(e, "cam"), (x_ * (5.0 / 16)).relu()));
}

TEST_F(KnownChannel, LayerIntegratedGradientsIsExactForALinearHead) {
  auto e = run("let m = model.load(\"hooked.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"lig\" = attr.layer_integrated_gradients(m, x, target=1, steps=3)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor lig = report(e, "lig");
  ASSERT_EQ(lig.sizes(), (std::vector<int64_t>{3, 2, 4, 4}));
  EXPECT_TRUE(at::allclose(lig.select(1, 0), x_.squeeze(1) * (5.0 / 16)));
  EXPECT_TRUE(at::allclose(lig.select(1, 1), at::zeros({3, 4, 4})));
}

TEST_F(Stdlib, FeatureGridNumbersSuperpixelsRowMajor) {
  save(at::zeros({1, 3, 6, 9}), "x.pt");
  auto e = run("report \"g\" = attr.feature_grid(tensor.load(\"x.pt\"), rows=2, cols=3)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor g = report(e, "g");
  ASSERT_EQ(g.sizes(), (std::vector<int64_t>{1, 1, 6, 9}));
  EXPECT_EQ(g[0][0][0][0].item<int64_t>(), 0);
  EXPECT_EQ(g[0][0][0][8].item<int64_t>(), 2);
  EXPECT_EQ(g[0][0][5][3].item<int64_t>(), 4);
  EXPECT_EQ(std::get<0>(at::_unique(g.flatten())).numel(), 6);
}

}  // namespace
}  // namespace pipette
