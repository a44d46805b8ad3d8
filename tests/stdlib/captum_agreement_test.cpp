// pipette against Captum on the same TorchScript model and inputs. The
// expected tensors are made at test time by fixtures/make_captum_fixtures.py
// with PyPI's Captum (ctest's captum_cases, the Python of scripts/torch2.sh,
// float64); agreement is asserted to 1e-5 relative. Without them: skipped.
#include <gtest/gtest.h>

#include <iostream>

#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class Captum : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    fs::path fixtures(PIPETTE_CAPTUM_CASES);
    if (!fs::exists(fixtures / "captum_cases.pt"))
      GTEST_SKIP() << "no Captum cases in " << fixtures << " (bash scripts/torch2.sh installs Captum; ctest makes them)";
    fs::copy_file(fixtures / "captum_model.pt", dir_ / "net.pt");
    for (const auto& [file, as] : {std::pair<const char*, const char*>{"captum_prob_model.pt", "prob.pt"},
                                   {"captum_max_model.pt", "maxnet.pt"}})
      if (fs::exists(fixtures / file)) fs::copy_file(fixtures / file, dir_ / as);
    Value cases = read_pt_file(fixtures / "captum_cases.pt");
    ASSERT_TRUE(cases.isGenericDict());
    for (const auto& item : cases.toGenericDict()) {
      std::string name = item.key().toStringRef();
      expected_[name] = item.value().toTensor();
      save(expected_[name], name + ".pt");
    }
  }
  void expect_agreement(const std::string& call, const std::string& case_name) {
    auto e = run("let net = model.load(\"net.pt\")\nlet x = tensor.load(\"inputs.pt\")\n"
                 "let t = tensor.load(\"target.pt\")\nreport \"a\" = " + call + "\n");
    check(e, call, case_name);
  }
  void check(const Execution& e, const std::string& call, const std::string& case_name) {
    ASSERT_TRUE(e.ok()) << call;
    at::Tensor got = report(e, "a"), want = expected_.at(case_name);
    ASSERT_EQ(got.sizes(), want.sizes()) << case_name;
    double scale = want.abs().max().item<double>();
    double worst = ((got - want).abs() / (want.abs() + 1e-3 * scale)).max().item<double>();
    EXPECT_LT(worst, 1e-5) << case_name << ": worst relative difference " << worst;
  }
  std::map<std::string, at::Tensor> expected_;
};

TEST_F(Captum, GradientMethodsAgree) {
  expect_agreement("attr.saliency(net, x, target=t)", "saliency_abs");
  expect_agreement("attr.saliency(net, x, target=t, abs=false)", "saliency_signed");
  expect_agreement("attr.input_x_gradient(net, x, target=t)", "input_x_gradient");
  for (std::string method : {"riemann_left", "riemann_right", "riemann_middle", "gausslegendre"})
    expect_agreement("attr.integrated_gradients(net, x, target=t, baselines=0.25, steps=16, method=\"" + method + "\")",
                     "ig_" + method);
  // Captum's trapezoid weights are 1/n with the ends halved: they add up to
  // (n-1)/n, not 1, so its answers are ours scaled by 15/16 = 0.9375 at 16 steps.
  expect_agreement("attr.integrated_gradients(net, x, target=t, baselines=0.25, steps=16, "
                   "method=\"riemann_trapezoid\") |> tensor.mul(0.9375)",
                   "ig_riemann_trapezoid");
}

TEST_F(Captum, PerturbationMethodsAgree) {
  expect_agreement("attr.occlusion(net, x, target=t, window=[4, 4], strides=[2, 2])", "occlusion");
  expect_agreement("attr.feature_ablation(net, x, target=t, feature_mask=tensor.load(\"grid.pt\"))", "feature_ablation");
}

TEST_F(Captum, LayerMethodsAgree) {
  expect_agreement("attr.grad_cam(net, x, target=t, relu=false, interpolate=\"none\")", "grad_cam");
  expect_agreement("attr.layer_integrated_gradients(net, x, target=t, steps=16)", "layer_ig");
}

TEST_F(Captum, DeepLiftAgrees) {
  expect_agreement("attr.deep_lift(net, x, target=t, baselines=0.25)", "deep_lift");
  expect_agreement("attr.deep_lift_shap(net, x, tensor.load(\"pool.pt\"), target=t)", "deep_lift_shap");
  expect_agreement("attr.layer_deep_lift(net, x, target=t, layer=\"features\")", "layer_deep_lift");
  // On a ReLU CNN with two max-pooling layers Captum's maxpool rule misses
  // summation to delta (its issues 1104 and 1276); pipette's rule keeps it.
  auto e = run("let x = tensor.load(\"inputs.pt\")\nreport \"a\" = attr.deep_lift(model.load(\"maxnet.pt\"), x, "
               "target=tensor.load(\"target.pt\"))\n");
  ASSERT_TRUE(e.ok());
  at::Tensor want = expected_.at("maxnet_delta");
  EXPECT_LT((report(e, "a").sum({1, 2, 3}) - want).abs().max().item<double>(), 1e-10);
  double captum_miss = (expected_.at("deep_lift_maxpool").sum({1, 2, 3}) - want).abs().max().item<double>();
  std::cout << "Captum's DeepLift on the max-pooling net misses F(x) - F(b) by up to " << captum_miss << "\n";
}

TEST_F(Captum, NeuronMethodsAndGuidedGradCamAgree) {
  const std::string at = ", layer=\"features\", neuron=[1, 2, 2]";
  expect_agreement("attr.neuron_gradient(net, x" + at + ")", "neuron_gradient");
  expect_agreement("attr.neuron_integrated_gradients(net, x, steps=16" + at + ")", "neuron_ig");
  expect_agreement("attr.neuron_conductance(net, x, target=t, steps=16" + at + ")", "neuron_conductance");
  expect_agreement("attr.guided_grad_cam(model.load(\"maxnet.pt\"), x, target=t, layer=\"features.3\")",
                   "guided_grad_cam");
}

// Sobol attribution against its reference explainer's steps (the fixture says how).
TEST_F(Captum, SobolAgreesWithTheReferenceSteps) {
  expect_agreement("attr.sobol(net, x, target=t, grid=4, designs=32)", "sobol");
}

// viz.attribution draws what visualize_image_attr draws: Captum's
// normalisation, matplotlib's colour tables (to 8-bit rounding).
TEST_F(Captum, AttributionPicturesAgree) {
  for (const auto& [method, sign] : std::vector<std::pair<std::string, std::string>>{
           {"heat_map", "all"}, {"blended_heat_map", "absolute_value"}, {"masked_image", "positive"},
           {"alpha_scaling", "negative"}, {"heat_map", "positive"}}) {
    auto e = run("let x = tensor.load(\"inputs.pt\")\nreport \"a\" = viz.attribution(x, tensor.load(\"saliency_signed.pt\"), "
                 "method=\"" + method + "\", sign=\"" + sign + "\", colorbar=false, scale=1)\n");
    ASSERT_TRUE(e.ok()) << method;
    at::Tensor got = report(e, "a").to(at::kDouble), want = expected_.at("viz_" + method + "_" + sign);
    ASSERT_EQ(got.sizes(), want.sizes()) << method;
    EXPECT_LT((got - want).abs().max().item<double>(), 1.0 / 255 + 1e-6) << method << " " << sign;
  }
}

// captum.robust's FGSM and PGD on the same net (Captum leaves elements whose
// gradient is under 1e-6 in place: zero_threshold says the same here).
TEST_F(Captum, AttacksAgree) {
  const std::string common = ", lower=0, upper=1, zero_threshold=1e-6)";
  expect_agreement("attack.fgsm(net, x, target=t, eps=0.05" + common, "fgsm");
  expect_agreement("attack.fgsm(net, x, target=tensor.load(\"other.pt\"), targeted=true, eps=0.05" + common,
                   "fgsm_targeted");
  expect_agreement("attack.pgd(net, x, target=t, radius=0.1, step=0.02, steps=7" + common, "pgd_linf");
  expect_agreement("attack.pgd(net, x, target=tensor.load(\"other.pt\"), targeted=true, radius=0.1, step=0.02, "
                   "steps=7" + common,
                   "pgd_linf_targeted");
  expect_agreement("attack.pgd(net, x, target=t, radius=0.5, step=0.05, steps=7, norm=\"l2\", l2_step=\"sign\"" + common,
                   "pgd_l2_sign");
  // Captum's default loss, -log of the output, on the same net with a softmax.
  auto e = run("let net = model.load(\"prob.pt\")\nlet x = tensor.load(\"inputs.pt\")\n"
               "let t = tensor.load(\"target.pt\")\nreport \"a\" = attack.fgsm(net, x, target=t, eps=0.05, "
               "loss=\"log_prob\"" + common + "\n");
  check(e, "fgsm log_prob", "fgsm_log_prob");
}

}  // namespace
}  // namespace pipette
