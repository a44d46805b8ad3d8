// Neuron methods where the answer is known: the gradient of a unit of a
// linear layer is its weight row; its integrated gradients are (x - b) times
// that row; and the conductances of every unit of a layer add up to the
// network's integrated gradients (Dhamdhere et al.: the paths through a layer
// partition the gradient). Agreement with Captum: captum_agreement_test.cpp.
#include "tests/stdlib/stdlib_fixture.hpp"

namespace pipette {
namespace {

class Neuron : public Stdlib {
 protected:
  void SetUp() override {
    Stdlib::SetUp();
    at::manual_seed(31);
    w1_ = at::randn({4, 5}, at::kDouble);
    torch::jit::Module net("Net");
    net.register_module("fc1", linear_module(w1_, at::randn({4}, at::kDouble) * 0.2));
    net.register_module("act", elementwise_module("Tanh", "torch.tanh"));
    net.register_module("fc2", linear_module(at::randn({3, 4}, at::kDouble), at::randn({3}, at::kDouble)));
    net.define("def forward(self, x):\n    return self.fc2.forward(self.act.forward(self.fc1.forward(x)))\n");
    net.save((dir_ / "net.pt").string());
    x_ = at::randn({6, 5}, at::kDouble);
    save(x_, "x.pt");
  }
  at::Tensor w1_, x_;
};

TEST_F(Neuron, LinearUnitsAndConductanceAddUpToIntegratedGradients) {
  std::string script = "let m = model.load(\"net.pt\")\nlet x = tensor.load(\"x.pt\")\n"
                       "report \"g\" = attr.neuron_gradient(m, x, layer=\"fc1\", neuron=[2])\n"
                       "report \"ig\" = attr.neuron_integrated_gradients(m, x, layer=\"fc1\", neuron=[2], baselines=0.5)\n"
                       "report \"net_ig\" = attr.integrated_gradients(m, x, target=1, steps=20)\n";
  for (int j = 0; j < 4; ++j)
    script += "report \"c" + std::to_string(j) + "\" = attr.neuron_conductance(m, x, target=1, steps=20, layer=\"fc1\", neuron=[" +
              std::to_string(j) + "])\n";
  auto e = run(script);
  ASSERT_TRUE(e.ok());
  EXPECT_LT((report(e, "g") - w1_[2].expand_as(x_)).abs().max().item<double>(), 1e-12);
  EXPECT_LT((report(e, "ig") - (x_ - 0.5) * w1_[2]).abs().max().item<double>(), 1e-12);
  at::Tensor sum = report(e, "c0") + report(e, "c1") + report(e, "c2") + report(e, "c3");
  EXPECT_LT((sum - report(e, "net_ig")).abs().max().item<double>(), 1e-10);
  EXPECT_GT(report(e, "c1").abs().max().item<double>(), 1e-3);
}

TEST_F(Neuron, IndicesOutsideTheValueAreNamed) {
  EXPECT_NE(run_errors("report \"g\" = attr.neuron_gradient(model.load(\"net.pt\"), tensor.load(\"x.pt\"), layer=\"fc1\", "
                       "neuron=[4])\n")
                .find("neuron index 4 at position 0 is outside 0..3"),
            std::string::npos);
  EXPECT_NE(run_errors("report \"g\" = attr.neuron_gradient(model.load(\"net.pt\"), tensor.load(\"x.pt\"), layer=\"fc1\", "
                       "neuron=[1, 0])\n")
                .find("neuron 2 indices"),
            std::string::npos);
}

}  // namespace
}  // namespace pipette
