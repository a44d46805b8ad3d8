// Results that looked plausible and were wrong, with exit 0 and no warning
// (issue 18): NaN and Inf, models that end in softmax, attributions that are
// all zero, random baselines drawn twice, seeds, models saved in training
// mode, dtypes, targets out of range, tabular data. Each test fails on the
// code before the fix.
#include <fstream>

#include "stdlib_fixture.hpp"

namespace pipette {
namespace {

using at::indexing::Slice;

double number(const Execution& e, const std::string& name) {
  for (auto& [k, v] : e.reports)
    if (k == name) return v.isTensor() ? v.toTensor().item<double>() : v.toDouble();
  ADD_FAILURE() << "no report " << name;
  return NAN;
}

// A linear classifier over 16 pixels with 3 classes, and 4 images with one NaN.
class NonFinite : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(3);
    save_linear(at::randn({3, 16}), at::zeros({3}));
    at::Tensor x = at::rand({4, 1, 4, 4});
    save(x, "clean.pt");
    x[2][0][1][3] = NAN;
    save(x, "nan.pt");
  }
};

TEST_F(NonFinite, ANaNInAnInputFailsEveryOpFamilyNamingWhereItIs) {
  const char* prelude = "let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"nan.pt\")\n"
                        "let clean = tensor.load(\"clean.pt\")\n";
  // One call per op family: tensors, models, gradient, path and perturbation
  // attribution, metrics, pictures. Before, these gave null, a number, arg-max 0
  // or "index out of range in self".
  for (std::string call : {"tensor.sum(x)", "model.predict(m, x)", "attr.saliency(m, x, target=0)",
                           "attr.integrated_gradients(m, x, target=0)", "attr.occlusion(m, x, target=0, window=2)",
                           "metric.deletion(m, x, attr.saliency(m, clean, target=0), target=0)",
                           "metric.deletion(m, clean, x, target=0)", "metric.sparseness(x)", "viz.heatmap(clean, x)"}) {
    std::string err = run_errors(prelude + std::string("report \"r\" = ") + call + "\n");
    EXPECT_NE(err.find("holds 1 NaN (first at [2, 0, 1, 3], of 64 values) (from n"), std::string::npos)
        << call << ": " << err;
    EXPECT_NE(err.find("tensor.load at "), std::string::npos) << call << ": " << err;
  }
}

TEST_F(NonFinite, LoadingInspectingAndCleaningNaNWork) {
  auto e = run("let x = tensor.load(\"nan.pt\")\n"
               "report \"finite\" = tensor.sum(tensor.isfinite(x))\n"
               "report \"clean_sum\" = tensor.sum(tensor.nan_to_num(x, nan=100.0))\n");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(number(e, "finite"), 63);
  at::Tensor x = read_pt_file(dir_ / "nan.pt").toTensor();
  EXPECT_NEAR(number(e, "clean_sum"), at::nan_to_num(x, 100.0).sum().item<double>(), 1e-4);
}

TEST_F(NonFinite, AModelThatReturnsNaNFailsSayingWhichRowAndThatItsInputWasFinite) {
  // Half the rows NaN, as the reporter's model did: every metric was null, status ok.
  save_module("half.pt", {},
              "def forward(self, x):\n"
              "    y = torch.flatten(x, 1)[:, 0:3]\n"
              "    return torch.where(torch.arange(x.size(0)).unsqueeze(1) % 2 == 1, y * float('nan'), y)\n");
  const char* prelude = "let m = model.load(\"half.pt\")\nlet x = tensor.load(\"clean.pt\")\n";
  for (std::string call : {"model.predict(m, x)", "attr.saliency(m, x, target=0)",
                           "metric.deletion(m, x, attr.input_x_gradient(m, x, target=0), target=0)",
                           "metric.max_sensitivity(m, x, target=0)"}) {
    std::string err = run_errors(prelude + std::string("report \"r\" = ") + call + "\n");
    EXPECT_NE(err.find("NaN"), std::string::npos) << call << ": " << err;
    EXPECT_TRUE(err.find("row 1") != std::string::npos || err.find("[1, 0]") != std::string::npos)
        << call << ": " << err;
  }
}

TEST_F(NonFinite, ReportJsonWritesNaNAsAStringNeverNull) {
  Value v(std::vector<double>{1.5, NAN, INFINITY, -INFINITY});
  std::string json = value_to_json(v).dump();
  EXPECT_EQ(json, R"([1.5,"NaN","Infinity","-Infinity"])");
}

// A model that ends in softmax: its outputs were softmaxed a second time.
TEST_F(Stdlib, ProbabilityOutputsAreNotSoftmaxedAgain) {
  at::manual_seed(5);
  at::Tensor w = at::randn({3, 16}) * 3;
  save_linear(w, at::zeros({3}));
  save_module("probs.pt", {{"w", w}}, "def forward(self, x):\n    return (torch.flatten(x, 1) @ self.w.t()).softmax(1)\n");
  save(at::rand({6, 1, 4, 4}), "x.pt");
  save(at::rand({6, 1, 4, 4}), "a.pt");
  Logged log;
  auto e = run("let x = tensor.load(\"x.pt\")\nlet a = tensor.load(\"a.pt\")\n"
               "report \"logits\" = metric.insertion(model.load(\"linear.pt\"), x, a, target=1)\n"
               "report \"probs\" = metric.insertion(model.load(\"probs.pt\"), x, a, target=1)\n"
               "report \"forced\" = metric.insertion(model.load(\"probs.pt\"), x, a, target=1, output_kind=\"logits\")\n"
               "report \"del_logits\" = metric.deletion(model.load(\"linear.pt\"), x, a, target=1)\n"
               "report \"del_probs\" = metric.deletion(model.load(\"probs.pt\"), x, a, target=1, output_kind=\"probs\")\n",
               log.options());
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(number(e, "probs"), number(e, "logits"), 1e-6);
  EXPECT_NEAR(number(e, "del_probs"), number(e, "del_logits"), 1e-6);
  EXPECT_GT(std::abs(number(e, "forced") - number(e, "logits")), 1e-3);  // softmax twice, as asked
  EXPECT_NE(log.text.find("probabilities already"), std::string::npos) << log.text;
}

TEST_F(Stdlib, AllZeroAttributionsAreUndefinedNotTheBestScore) {
  save(at::zeros({3, 1, 4, 4}), "zero.pt");
  at::Tensor some = at::zeros({3, 1, 4, 4});
  some[0][0][0][0] = 1.0;
  some[1][0][2][1] = 2.0;
  save(some, "some.pt");
  at::Tensor masks = at::zeros({3, 4, 4});
  masks.index_put_({Slice(), 0, 0}, 1.0);
  save(masks, "masks.pt");
  // All zero: complexity 0 (its best) and pointing game 0.5 before.
  for (std::string metric : {"metric.sparseness(a)", "metric.complexity(a)", "metric.pointing_game(a, masks)",
                             "metric.relevance_mass(a, masks)"}) {
    std::string err = run_errors("let a = tensor.load(\"zero.pt\")\nlet masks = tensor.load(\"masks.pt\")\n"
                                 "report \"r\" = " + metric + "\n");
    EXPECT_NE(err.find("is undefined for every input"), std::string::npos) << metric << ": " << err;
  }
  // One of three all zero: left out of the mean, with a warning.
  Logged log;
  auto e = run("let a = tensor.load(\"some.pt\")\nlet masks = tensor.load(\"masks.pt\")\n"
               "report \"complexity\" = metric.complexity(a)\nreport \"pointing\" = metric.pointing_game(a, masks)\n",
               log.options());
  ASSERT_TRUE(e.ok());
  EXPECT_NEAR(number(e, "complexity"), 0.0, 1e-9);  // each defined input has one relevant pixel
  EXPECT_NEAR(number(e, "pointing"), 0.5, 1e-9);    // a hit and a miss; the all-zero one is not a coin toss
  EXPECT_NE(log.text.find("complexity is undefined for 1 of 3 inputs"), std::string::npos) << log.text;
  EXPECT_NE(log.text.find("the pointing game is undefined for 1 of 3 inputs"), std::string::npos) << log.text;
  // A faithfulness curve of a constant attribution says its order is arbitrary.
  save_linear(at::ones({2, 16}), at::zeros({2}));
  Logged curve_log;
  auto c = run("report \"d\" = metric.deletion(model.load(\"linear.pt\"), tensor.load(\"some.pt\"), "
               "tensor.load(\"zero.pt\"), target=0)\n",
               curve_log.options());
  ASSERT_TRUE(c.ok());
  EXPECT_NE(curve_log.text.find("warning: metric.deletion: 3 of 3 attributions give every feature the same relevance"),
            std::string::npos)
      << curve_log.text;
}

// tanh(x W^T) over 16 pixels, 3 outputs: smooth and not linear, so path
// integrals depend on their steps and noise on its draw.
class Smooth : public Stdlib {
 protected:
  void save_tanh_model() {
    save_module("tanh.pt", {{"w", at::randn({3, 16})}},
                "def forward(self, x):\n    return torch.tanh(torch.flatten(x, 1) @ self.w.t())\n");
  }
};

// The completeness error of IG against a random baseline must fall as the
// steps grow: the metric and the attribution use the same draw. (The
// right-Riemann rule, whose error shrinks as 1/steps; Gauss-Legendre is exact
// to rounding at 8 steps already on this model.)
TEST_F(Smooth, CompletenessWithAUniformBaselineChecksTheBaselineIGUsed) {
  at::manual_seed(9);
  save_tanh_model();
  save(at::rand({4, 1, 4, 4}), "x.pt");
  auto ig = [](int steps, int seed) {
    return "metric.completeness(m, x, attr.integrated_gradients(m, x, target=1, baselines=\"uniform\", steps=" +
           std::to_string(steps) + ", method=\"riemann_right\", baseline_seed=" + std::to_string(seed) +
           "), target=1, baselines=\"uniform\")\n";
  };
  auto e = run("let m = model.load(\"tanh.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "report \"c4\" = " + ig(4, 0) + "report \"c64\" = " + ig(64, 0) + "report \"c1024\" = " + ig(1024, 0) +
               "report \"other\" = " + ig(1024, 1));
  ASSERT_TRUE(e.ok());
  // Was 0.35 at 16 steps and 0.33 at 256: a different baseline each time.
  EXPECT_GT(number(e, "c4"), 4 * number(e, "c64"));
  EXPECT_GT(number(e, "c64"), 4 * number(e, "c1024"));
  EXPECT_LT(number(e, "c1024"), 1e-2);
  // IG from another draw is checked against baseline_seed 0's: not complete.
  EXPECT_GT(number(e, "other"), 10 * number(e, "c1024"));
}

TEST_F(Smooth, EveryStochasticOpTakesASeedAndTwoSeedsDrawTwice) {
  for (auto* op : lib_.ops.ops())
    if (op->is_stochastic()) {
      const ParamSpec* seed = op->find_param("seed");
      EXPECT_TRUE(seed && !seed->required) << op->name() << " is stochastic and has no seed=";
    }
  at::manual_seed(2);
  save_tanh_model();
  save(at::rand({2, 1, 4, 4}), "x.pt");
  auto e = run("let m = model.load(\"tanh.pt\")\nlet x = tensor.load(\"x.pt\")\n"
               "let a = attr.noise_tunnel(m, x, target=0, seed=1)\n"
               "let b = attr.noise_tunnel(m, x, target=0, seed=2)\n"
               "let a2 = attr.noise_tunnel(m, x, target=0, seed=1)\n"
               "report \"ab\" = tensor.sum(tensor.ne(a, b))\n"
               "report \"aa\" = tensor.sum(tensor.ne(a, a2))\n"
               "report \"inf1\" = metric.infidelity(m, x, a, target=0, seed=1)\n"
               "report \"inf2\" = metric.infidelity(m, x, a, target=0, seed=2)\n");
  ASSERT_TRUE(e.ok());
  EXPECT_GT(number(e, "ab"), 0);    // two seeds, two draws
  EXPECT_EQ(number(e, "aa"), 0.0);  // one seed, one draw
  EXPECT_NE(number(e, "inf1"), number(e, "inf2"));
}

TEST_F(Stdlib, AScriptedModelSavedInTrainingModeRunsInEvalMode) {
  at::manual_seed(4);
  at::Tensor w = at::randn({3, 16});
  torch::jit::Module m("Dropout");
  m.register_parameter("w", w, false);
  m.register_attribute("training", c10::BoolType::get(), true);
  m.define("def forward(self, x):\n    return torch.dropout(torch.flatten(x, 1), 0.5, self.training) @ self.w.t()\n");
  m.train(true);
  m.save((dir_ / "train.pt").string());
  at::Tensor x = at::rand({5, 1, 4, 4});
  save(x, "x.pt");
  Logged log;
  auto e = run("report \"p\" = model.predict(model.load(\"train.pt\"), tensor.load(\"x.pt\"))\n", log.options());
  ASSERT_TRUE(e.ok());
  // Eval mode: no dropout, so exactly x @ w^T (with dropout, half the inputs are zero).
  EXPECT_TRUE(report(e, "p").allclose(x.flatten(1).matmul(w.t()), 1e-5, 1e-6)) << report(e, "p");
  EXPECT_NE(log.text.find("saved in training mode; it runs in eval mode"), std::string::npos) << log.text;
}

TEST_F(Stdlib, Float64InputsAreCastAndIntegerImagesRefusedInOneLine) {
  at::manual_seed(6);
  at::Tensor w = at::randn({3, 16});
  save_linear(w, at::zeros({3}));
  at::Tensor x = at::rand({4, 1, 4, 4}, at::kDouble);
  save(x, "x64.pt");
  save((x * 255).to(at::kByte), "x8.pt");
  Logged log;
  auto e = run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x64.pt\")\n"
               "report \"p\" = model.predict(m, x)\nreport \"ig\" = attr.integrated_gradients(m, x, target=0)\n",
               log.options());
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "p").allclose(x.to(at::kFloat).flatten(1).matmul(w.t()), 1e-5, 1e-5));
  EXPECT_NE(log.text.find("input 'inputs' is float64: cast to float32, the model's dtype"), std::string::npos)
      << log.text;
  std::string err = run_errors("report \"p\" = model.predict(model.load(\"linear.pt\"), tensor.load(\"x8.pt\"))\n");
  EXPECT_NE(err.find("input 'inputs' is tensor uint8[4, 1, 4, 4] on cpu, but the model takes floating-point inputs"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("tensor.div(x, 255.0)"), std::string::npos) << err;
  EXPECT_EQ(err.find('\n'), std::string::npos) << err;  // one line, not a TorchScript trace
}

TEST_F(Stdlib, ErrorsSpeakOfTheUsersTensorsNotOfChunks) {
  save_linear(at::ones({4, 16}), at::zeros({4}));
  save(at::rand({64, 1, 4, 4}), "x.pt");
  std::string err = run_errors("report \"a\" = attr.saliency(model.load(\"linear.pt\"), tensor.load(\"x.pt\"), target=11)\n");
  EXPECT_NE(err.find("target 11, but the model has 4 outputs"), std::string::npos) << err;
  // A model for [*, 3] inputs fed images: the message starts from the user's
  // per-example shape, not from the chunk of path points the op passed it
  // (which the model's own message goes on to name), without a TorchScript trace.
  save_module("tab.pt", {{"w", at::ones({2, 3})}}, "def forward(self, x):\n    return torch.flatten(x, 1) @ self.w.t()\n");
  err = run_errors("report \"a\" = attr.integrated_gradients(model.load(\"tab.pt\"), tensor.load(\"x.pt\"), target=0)\n");
  EXPECT_NE(err.find("the model failed on inputs of shape [*, 1, 4, 4] (float32; * = any batch size)"), std::string::npos)
      << err;
  EXPECT_EQ(err.find("Traceback"), std::string::npos) << err;
  // One that reshapes its batch away returns the wrong number of rows: said
  // with the batch it was given and the shape of one input.
  save_module("view.pt", {{"w", at::ones({2, 3})}}, "def forward(self, x):\n    return x.view(-1, 3) @ self.w.t()\n");
  err = run_errors("report \"p\" = model.predict(model.load(\"view.pt\"), tensor.load(\"x.pt\"), batch=21)\n");
  EXPECT_NE(err.find("for a batch of 21 inputs of shape [*, 1, 4, 4]; it must return one row of outputs per input"),
            std::string::npos)
      << err;
}

TEST_F(Stdlib, AModelWithOneOutputPerExampleNeedsNoTarget) {
  at::Tensor w = at::arange(16, at::kFloat);
  save_module("score.pt", {{"w", w}}, "def forward(self, x):\n    return torch.flatten(x, 1) @ self.w\n");
  save(at::rand({3, 1, 4, 4}), "x.pt");
  auto e = run("report \"g\" = attr.saliency(model.load(\"score.pt\"), tensor.load(\"x.pt\"))\n");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(report(e, "g").allclose(w.view({1, 1, 4, 4}).expand({3, 1, 4, 4})));
  std::string err = run_errors("report \"g\" = attr.saliency(model.load(\"score.pt\"), tensor.load(\"x.pt\"), target=1)\n");
  EXPECT_NE(err.find("target 1, but the model has 1 output"), std::string::npos) << err;
}

TEST_F(Stdlib, CsvTablesTrainAndPredict) {
  // Two separable classes: label = feature a > feature b.
  std::ofstream csv(dir_ / "t.csv");
  csv << "a,b,label\n";
  at::manual_seed(8);
  at::Tensor f = at::rand({200, 2});
  for (int64_t i = 0; i < 200; ++i)
    csv << f[i][0].item<float>() << "," << f[i][1].item<float>() << "," << (f[i][0].item<float>() > f[i][1].item<float>())
        << "\n";
  csv.close();
  auto e = run("let t = data.csv(\"t.csv\")\n"
               "let net = train.classifier(data=t, arch=\"mlp\", epochs=30, lr=0.01, batch=32, seed=1)\n"
               "report \"acc\" = net.accuracy\n"
               "report \"p\" = model.predict(net.model, t)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor p = report(e, "p");
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{200, 2}));
  at::Tensor labels = (f.select(1, 0) > f.select(1, 1)).to(at::kLong);
  EXPECT_GT(p.argmax(1).eq(labels).to(at::kFloat).mean().item<double>(), 0.9);
}

}  // namespace
}  // namespace pipette
