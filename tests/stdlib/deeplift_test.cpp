// DeepLift's rescale rule where the answer is known: on networks of linear
// layers, element-wise nonlinear modules and max-pooling, the attributions
// sum to F(x) - F(b) exactly (summation to delta), at the input and at any
// layer; DeepLift SHAP sums to F(x) minus the baselines' mean output; a module
// applied twice gets its rule at each call. Agreement with Captum's DeepLift,
// DeepLiftShap and LayerDeepLift is in captum_agreement_test.cpp.
#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

torch::jit::Module elementwise(const std::string& type, const std::string& fn) {
  return elementwise_module(type, fn);
}

torch::jit::Module linear(int64_t in, int64_t out) {
  return linear_module(at::randn({out, in}, at::kDouble) * 0.6, at::randn({out}, at::kDouble) * 0.3);
}

class DeepLift : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(11);
    // fc1 -> relu -> fc2 -> sigmoid -> fc3, with the ReLU applied again to fc3's input (a module used twice).
    torch::jit::Module mlp("Mlp");
    mlp.register_module("fc1", linear(6, 8));
    mlp.register_module("act", elementwise("ReLU", "torch.relu"));
    mlp.register_module("fc2", linear(8, 8));
    mlp.register_module("squash", elementwise("Sigmoid", "torch.sigmoid"));
    mlp.register_module("fc3", linear(8, 3));
    mlp.define("def forward(self, x):\n    h = self.act.forward(self.fc1.forward(x))\n    h = self.squash.forward(self.fc2.forward(h))\n"
               "    return self.fc3.forward(self.act.forward(h - 0.5))\n");
    mlp.save((dir_ / "mlp.pt").string());
    // conv -> ReLU -> max pool -> flatten -> linear -> Tanh -> linear.
    torch::jit::Module cnn("Cnn");
    torch::jit::Module conv("Conv2d");
    conv.register_parameter("weight", at::randn({3, 1, 3, 3}, at::kDouble) * 0.5, false);
    conv.register_parameter("bias", at::randn({3}, at::kDouble) * 0.2, false);
    conv.define("def forward(self, x):\n    return torch.conv2d(x, self.weight, self.bias, [1, 1], [1, 1])\n");
    cnn.register_module("conv", conv);
    cnn.register_module("relu", elementwise("ReLU", "torch.relu"));
    torch::jit::Module pool("MaxPool2d");
    pool.define("def forward(self, x):\n    return torch.max_pool2d(x, [2, 2])\n");
    cnn.register_module("pool", pool);
    cnn.register_module("fc", linear(3 * 3 * 3, 5));
    cnn.register_module("tanh", elementwise("Tanh", "torch.tanh"));
    cnn.register_module("out", linear(5, 2));
    cnn.define("def forward(self, x):\n    h = self.pool.forward(self.relu.forward(self.conv.forward(x)))\n"
               "    return self.out.forward(self.tanh.forward(self.fc.forward(torch.flatten(h, 1))))\n");
    cnn.save((dir_ / "cnn.pt").string());
    x_ = at::randn({5, 6}, at::kDouble);
    b_ = at::randn({5, 6}, at::kDouble) * 0.5;
    images_ = at::rand({4, 1, 6, 6}, at::kDouble);
    save(x_, "x.pt");
    save(b_, "b.pt");
    save(images_, "images.pt");
    save(at::rand({3, 1, 6, 6}, at::kDouble), "pool.pt");
  }
  at::Tensor forward(const std::string& file, const at::Tensor& x) {
    auto m = torch::jit::load((dir_ / file).string());
    return m.forward({x}).toTensor();
  }
  at::Tensor x_, b_, images_;
};

TEST_F(DeepLift, SumsToTheOutputDifference) {
  auto e = run("let x = tensor.load(\"x.pt\")\nlet b = tensor.load(\"b.pt\")\n"
               "report \"mlp\" = attr.deep_lift(model.load(\"mlp.pt\"), x, baselines=b, target=[0, 2])\n"
               "report \"cnn\" = attr.deep_lift(model.load(\"cnn.pt\"), tensor.load(\"images.pt\"), target=1)\n"
               "report \"cnn_half\" = attr.deep_lift(model.load(\"cnn.pt\"), tensor.load(\"images.pt\"), target=1, "
               "baselines=0.5)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor a = report(e, "mlp");  // [N, 2, 6]
  ASSERT_EQ(a.sizes(), (at::IntArrayRef{5, 2, 6}));
  at::Tensor delta = forward("mlp.pt", x_) - forward("mlp.pt", b_);
  EXPECT_LT((a.sum(2).select(1, 0) - delta.select(1, 0)).abs().max().item<double>(), 1e-10);
  EXPECT_LT((a.sum(2).select(1, 1) - delta.select(1, 2)).abs().max().item<double>(), 1e-10);
  // Not the gradient's answer: (x - b) * dF/dx misses the sum on this network.
  for (const auto& [name, base] : {std::pair<std::string, double>{"cnn", 0.0}, {"cnn_half", 0.5}}) {
    at::Tensor want = (forward("cnn.pt", images_) - forward("cnn.pt", at::full_like(images_, base))).select(1, 1);
    EXPECT_LT((report(e, name).sum({1, 2, 3}) - want).abs().max().item<double>(), 1e-10) << name;
  }
}

// Where a nonlinearity's input equals its baseline's, the rescale rule's
// multiplier is 0/0: the module's own gradient stands in (Captum's eps rule).
// y = w2 . tanh(W1 x) with W1 = identity: unit 0 sees x0 = b0 = 0.3, unit 1
// sees x1 = 1.0 against b1 = 0.3, so the multipliers are w2_0 tanh'(0.3) and
// w2_1 (tanh(1) - tanh(0.3)) / 0.7; for max pooling, a window whose two halves
// are equal routes the plain gradient to its maximum.
TEST_F(DeepLift, WhereAnInputEqualsItsBaselineTheMultiplierIsTheModulesGradient) {
  torch::jit::Module net("Net");
  net.register_module("fc1", linear_module(at::eye(2, at::kDouble), at::zeros({2}, at::kDouble)));
  net.register_module("tanh", elementwise("Tanh", "torch.tanh"));
  net.register_module("fc2", linear_module(at::tensor(std::vector<double>{2.0, -3.0}, at::kDouble).view({1, 2}), at::zeros({1}, at::kDouble)));
  net.define("def forward(self, x):\n    return self.fc2.forward(self.tanh.forward(self.fc1.forward(x)))\n");
  net.save((dir_ / "net.pt").string());
  save(at::tensor(std::vector<double>{0.3, 1.0}, at::kDouble).view({1, 2}), "x2.pt");
  torch::jit::Module pooled("Pooled");
  torch::jit::Module pool("MaxPool2d");
  pool.define("def forward(self, x):\n    return torch.max_pool2d(x, [2, 2])\n");
  pooled.register_module("pool", pool);
  pooled.define("def forward(self, x):\n    return torch.flatten(self.pool.forward(x), 1)\n");
  pooled.save((dir_ / "pooled.pt").string());
  // Window 0 equals the baseline (0.3 everywhere but its maximum 0.8 in both);
  // window 1 differs.
  at::Tensor img = at::full({1, 1, 2, 4}, 0.3, at::kDouble), base = img.clone();
  img[0][0][1][1] = 0.8;
  base[0][0][1][1] = 0.8;
  img[0][0][0][2] = 0.9;
  save(img, "img.pt");
  save(base, "base.pt");
  auto e = run("report \"m\" = attr.deep_lift(model.load(\"net.pt\"), tensor.load(\"x2.pt\"), target=0, baselines=0.3, "
               "multiply_by_inputs=false)\n"
               "report \"p\" = attr.deep_lift(model.load(\"pooled.pt\"), tensor.load(\"img.pt\"), target=0, "
               "baselines=tensor.load(\"base.pt\"), multiply_by_inputs=false)\n"
               "report \"q\" = attr.deep_lift(model.load(\"pooled.pt\"), tensor.load(\"img.pt\"), target=1, "
               "baselines=tensor.load(\"base.pt\"), multiply_by_inputs=false)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor m = report(e, "m")[0];
  double t03 = std::tanh(0.3);
  EXPECT_NEAR(m[0].item<double>(), 2.0 * (1 - t03 * t03), 1e-12);
  EXPECT_NEAR(m[1].item<double>(), -3.0 * (std::tanh(1.0) - t03) / 0.7, 1e-12);
  // Output 0 (window 0, equal halves): the plain gradient, 1 at the maximum.
  at::Tensor p = report(e, "p")[0][0], q = report(e, "q")[0][0];
  EXPECT_DOUBLE_EQ(p[1][1].item<double>(), 1.0);
  EXPECT_DOUBLE_EQ(p.sum().item<double>(), 1.0);
  // Output 1 (window 1): the output difference 0.6 over the input difference 0.6 at the moved element.
  EXPECT_NEAR(q[0][2].item<double>(), 1.0, 1e-12);
  EXPECT_NEAR(q.slice(1, 0, 2).abs().sum().item<double>(), 0.0, 1e-12);
}

TEST_F(DeepLift, ShapAndLayerVersionsSumToTheirDifferences) {
  auto e = run("let x = tensor.load(\"images.pt\")\nlet m = model.load(\"cnn.pt\")\n"
               "report \"shap\" = attr.deep_lift_shap(m, x, tensor.load(\"pool.pt\"), target=0)\n"
               "report \"at_relu\" = attr.layer_deep_lift(m, x, target=0, layer=\"relu\")\n"
               "report \"at_fc\" = attr.layer_deep_lift(m, x, target=0, layer=\"fc:input\")\n"
               "report \"multipliers\" = attr.deep_lift(m, x, target=0, multiply_by_inputs=false)\n"
               "report \"dl\" = attr.deep_lift(m, x, target=0)\n");
  ASSERT_TRUE(e.ok());
  at::Tensor fx = forward("cnn.pt", images_).select(1, 0);
  at::Tensor pool_x = read_pt_file(dir_ / "pool.pt").toTensor();
  double mean_b = forward("cnn.pt", pool_x).select(1, 0).mean().item<double>();
  EXPECT_LT((report(e, "shap").sum({1, 2, 3}) - (fx - mean_b)).abs().max().item<double>(), 1e-10);
  at::Tensor f0 = forward("cnn.pt", at::zeros_like(images_)).select(1, 0);
  EXPECT_EQ(report(e, "at_relu").sizes(), (at::IntArrayRef{4, 3, 6, 6}));
  EXPECT_LT((report(e, "at_relu").sum({1, 2, 3}) - (fx - f0)).abs().max().item<double>(), 1e-10);
  EXPECT_LT((report(e, "at_fc").sum(1) - (fx - f0)).abs().max().item<double>(), 1e-10);
  EXPECT_LT((report(e, "multipliers") * images_ - report(e, "dl")).abs().max().item<double>(), 1e-12);
}

TEST_F(DeepLift, RefusesWhatItCannotExplain) {
  torch::jit::Module lin("Plain");
  lin.register_module("fc", linear(6, 3));
  lin.define("def forward(self, x):\n    return torch.relu(self.fc.forward(x))\n");
  lin.save((dir_ / "plain.pt").string());
  torch::jit::Module soft("Soft");
  soft.register_module("fc", linear(6, 3));
  soft.register_module("act", elementwise("ReLU", "torch.relu"));
  torch::jit::Module sm("Softmax");
  sm.define("def forward(self, x):\n    return torch.softmax(x, 1)\n");
  soft.register_module("softmax", sm);
  soft.define("def forward(self, x):\n    return self.softmax.forward(self.act.forward(self.fc.forward(x)))\n");
  soft.save((dir_ / "soft.pt").string());
  EXPECT_NE(run_errors("report \"a\" = attr.deep_lift(model.load(\"plain.pt\"), tensor.load(\"x.pt\"), target=0)\n")
                .find("applies its rule at nonlinear modules"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"a\" = attr.deep_lift(model.load(\"soft.pt\"), tensor.load(\"x.pt\"), target=0)\n")
                .find("has no rule for softmax (Softmax)"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
