// How ops run models: the inference copy for forward passes, the measured
// memory of a forward pass, and models that behave like scripted ones.
#include <gtest/gtest.h>

#include <ATen/ATen.h>
#include <torch/script.h>

#include "stdlib/model/architectures.hpp"
#include "stdlib/model/model_util.hpp"

namespace pipette::stdlib {
namespace {

torch::jit::Module built(const std::string& arch) {
  torch::jit::Module m = build_architecture(arch, {{1, 28, 28}, 10}, at::detail::createCPUGenerator(3));
  m.eval();
  return m;
}

at::Tensor run(torch::jit::Module& m, const at::Tensor& x) {
  torch::NoGradGuard no_grad;
  return m.forward({x}).toTensor();
}

TEST(ForwardOnly, AConvolutionalModelGetsAFrozenInferenceCopyWithTheSameOutputs) {
  torch::jit::Module m = built("cnn");
  torch::jit::Module fast = forward_only(m);
  EXPECT_NE(fast._ivalue(), m._ivalue());
  std::string graph = fast.get_method("forward").graph()->toString();
  EXPECT_NE(graph.find("mkldnn"), std::string::npos) << graph;  // pre-packed convolutions
  at::Tensor x = at::rand({6, 1, 28, 28}, at::detail::createCPUGenerator(4));
  EXPECT_TRUE(at::allclose(run(fast, x), run(m, x), 1e-5, 1e-5));
  // The original is untouched: still a model with parameters and hook points.
  EXPECT_TRUE(m.find_method("features").has_value());
  EXPECT_GT(m.parameters().size(), 0u);
}

TEST(ForwardOnly, ModelsInTrainingModeOrWithoutConvolutionsAreUsedAsTheyAre) {
  torch::jit::Module training = built("cnn");
  training.train(true);
  EXPECT_EQ(forward_only(training)._ivalue(), training._ivalue());
  torch::jit::Module mlp = built("mlp");
  EXPECT_EQ(forward_only(mlp)._ivalue(), mlp._ivalue());
  torch::jit::Module d = built("cnn");
  d.to(at::kDouble);  // MKL-DNN has no double convolutions: nothing to gain, same outputs
  at::Tensor x = at::rand({2, 1, 28, 28}, at::kDouble);
  torch::jit::Module fast = forward_only(d);
  EXPECT_TRUE(at::allclose(run(fast, x), run(d, x)));
}

TEST(ForwardBytes, MeasuresWhatAForwardPassAllocatesPerExample) {
  at::Tensor x = at::rand({32, 1, 28, 28});
  torch::jit::Module mlp = built("mlp"), cnn = built("cnn");
  int64_t mlp_bytes = forward_bytes_per_example(mlp, x, -1);
  int64_t cnn_bytes = forward_bytes_per_example(cnn, x, -1);
  // The MLP's activations: 256 + 128 hidden units and 10 outputs, float32,
  // a few alive at once; the CNN's first activation alone is 16x28x28 floats.
  EXPECT_GE(mlp_bytes, 256 * 4);
  EXPECT_LE(mlp_bytes, 4 * (256 + 256 + 128 + 128 + 10) + 4096);
  EXPECT_GE(cnn_bytes, 16 * 28 * 28 * 4);
  EXPECT_GT(cnn_bytes, 10 * mlp_bytes);
  // Stable: the same model and inputs measure the same.
  EXPECT_EQ(forward_bytes_per_example(mlp, x, -1), mlp_bytes);
}

TEST(Architectures, CarryTheTrainingFlagThatEvalAndFreezeRead) {
  torch::jit::Module m = build_architecture("resnet", {{3, 16, 16}, 4}, at::detail::createCPUGenerator(1));
  ASSERT_TRUE(m.hasattr("training"));
  EXPECT_TRUE(m.is_training());  // as nn.Module starts
  m.eval();
  EXPECT_FALSE(m.is_training());
}

}  // namespace
}  // namespace pipette::stdlib
