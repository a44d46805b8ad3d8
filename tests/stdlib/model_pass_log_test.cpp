// The passes ops make to a model, as ModelPassLog sees them (the attribution
// benchmark's limit replays them), and how many perturbations a pass takes.
#include "stdlib_fixture.hpp"

#include <stdexcept>

#include "engine/model_call.hpp"
#include "engine/model_pass_log.hpp"
#include "stdlib/attr/evaluators.hpp"

namespace pipette {
namespace {

int64_t examples(const std::vector<ModelPass>& passes, bool backward) {
  int64_t n = 0;
  for (const ModelPass& p : passes)
    if (p.backward == backward) n += p.input_sizes.at(0);
  return n;
}

TEST_F(Stdlib, IntegratedGradientsPassesAreItsPathPointsEachWithABackwardPass) {
  save_linear(at::randn({2, 16}), at::zeros({2}));
  save(at::rand({4, 1, 4, 4}), "x.pt");
  std::vector<ModelPass> passes;
  {
    ModelPassLog log;
    run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
        "report \"a\" = attr.integrated_gradients(m, x, target=1, steps=10)\n");
    passes = log.passes();
  }
  // 10 path points of 4 inputs, each through a pass that is differentiated;
  // nothing else (the target is given: no pass to predict it).
  EXPECT_EQ(examples(passes, true), 40);
  EXPECT_EQ(examples(passes, false), 0);
  for (const ModelPass& p : passes) EXPECT_EQ(p.input_sizes, (std::vector<int64_t>{p.input_sizes[0], 1, 4, 4}));
}

TEST_F(Stdlib, OcclusionPassesAreTheInputsAndEveryWindowButNotItsMemoryProbe) {
  save_linear(at::randn({2, 16}), at::zeros({2}));
  save(at::rand({2, 1, 4, 4}), "x.pt");
  std::vector<ModelPass> passes;
  {
    ModelPassLog log;
    run("let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\n"
        "report \"a\" = attr.occlusion(m, x, target=1, window=1)\n");
    passes = log.passes();
  }
  // F(x) for the 2 inputs, then 16 one-pixel windows of each, without
  // gradients; the pass that measures the model's memory is not logged.
  EXPECT_EQ(examples(passes, false), 2 + 16 * 2);
  EXPECT_EQ(examples(passes, true), 0);
}

TEST_F(Stdlib, PassesAreLoggedOnlyWhileALogLivesAndByOneLogAtATime) {
  save_linear(at::randn({2, 16}), at::zeros({2}));
  save(at::rand({2, 1, 4, 4}), "x.pt");
  const std::string script =
      "let m = model.load(\"linear.pt\")\nlet x = tensor.load(\"x.pt\")\nreport \"a\" = attr.saliency(m, x, target=0)\n";
  run(script);  // before any log: nothing kept
  torch::jit::Module m = torch::jit::load((dir_ / "linear.pt").string());
  at::Tensor x = at::rand({3, 1, 4, 4});
  ModelPassLog log;
  EXPECT_THROW(ModelPassLog second, std::logic_error);
  {
    UnloggedPasses probing;  // on this thread only, as an op's body uses it
    torch::NoGradGuard no_grad;
    logits_of(m, x);
  }
  EXPECT_TRUE(log.passes().empty());
  {
    torch::NoGradGuard no_grad;
    logits_of(m, x);
  }
  run(script);  // on the executor's threads
  std::vector<ModelPass> passes = log.passes();
  ASSERT_EQ(passes.size(), 2u);
  EXPECT_EQ(passes[0].input_sizes, x.sizes().vec());
  EXPECT_FALSE(passes[0].backward);
  EXPECT_TRUE(passes[1].backward);  // saliency's gradient pass over the 2 inputs
  EXPECT_EQ(passes[1].input_sizes[0], 2);
}

TEST(PerturbationsPerPass, AtLeastAFullPassThenMoreWhileSmallAndNeverOverTheBudget) {
  Node node;
  OpContext ctx{node};  // a CPU op without a budget of its own: the 16 MiB cap
  // 1 KB per example, 64 examples a perturbation: 8 MiB holds 131 of them.
  EXPECT_EQ(stdlib::perturbations_per_pass(ctx, 1000, 64, 1000), (8 << 20) / 64000);
  EXPECT_EQ(stdlib::perturbations_per_pass(ctx, 1000, 64, 50), 50);  // all there are
  // 50 KB per example (a CNN): 8 MiB holds 2 perturbations, a full pass of
  // 256 examples needs 4, and the 16 MiB cap allows 5.
  EXPECT_EQ(stdlib::perturbations_per_pass(ctx, 50000, 64, 1000), 4);
  // 100 KB per example: the cap (2) wins over a full pass.
  EXPECT_EQ(stdlib::perturbations_per_pass(ctx, 100000, 64, 1000), 2);
  // A batch bigger than a full pass: one perturbation at a time if that is all 8 MiB holds.
  EXPECT_EQ(stdlib::perturbations_per_pass(ctx, 10000, 1000, 1000), 1);
  // A budget of its own below the cap.
  ctx.memory_budget = 1 << 20;
  EXPECT_EQ(stdlib::perturbations_per_pass(ctx, 1000, 64, 1000), (1 << 20) / 64000);
}

}  // namespace
}  // namespace pipette
