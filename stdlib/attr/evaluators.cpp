#include "stdlib/attr/evaluators.hpp"

#include <torch/csrc/autograd/autograd.h>

#include <algorithm>

#include "stdlib/attr/baselines.hpp"
#include "stdlib/model/model_util.hpp"

namespace pipette::stdlib {

at::Tensor input_batch(const OpArgs& a, const OpContext& ctx) {
  at::Tensor x = a.tensor("inputs").to(ctx.device);
  if (x.dim() == 0 || x.size(0) == 0) throw OpError("inputs must be a non-empty batch [N, ...]; they are " + describe(Value(x)));
  return x;
}

at::TensorOptions score_options(const at::Tensor& x) {
  return x.is_floating_point() ? x.options() : x.options().dtype(at::kDouble);
}

int64_t example_bytes(const at::Tensor& x) { return x.numel() / std::max<int64_t>(1, x.size(0)) * x.element_size(); }

at::Tensor target_gradient(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target) {
  at::Tensor xi = x.detach().requires_grad_(true);
  at::Tensor picked = pick_targets(logits_of(m, xi), target.view({-1, 1})).sum();
  return torch::autograd::grad({picked}, {xi})[0];
}

at::Tensor gradients(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, OpContext& ctx) {
  int64_t n = x.size(0);
  std::vector<at::Tensor> parts;
  for_chunks(ctx, n, items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n), [&](int64_t i, int64_t end) {
    parts.push_back(target_gradient(m, x.slice(0, i, end), target.slice(0, i, end)));
  });
  return at::cat(parts, 0);
}

at::Tensor target_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, OpContext& ctx) {
  torch::NoGradGuard no_grad;
  int64_t n = x.size(0);
  std::vector<at::Tensor> parts;
  for_chunks(
      ctx, n, items_per_chunk(ctx, kForwardBytesFactor * example_bytes(x), n),
      [&](int64_t i, int64_t end) {
        parts.push_back(pick_targets(logits_of(m, x.slice(0, i, end)), t.index.slice(0, i, end)));
      },
      ChunkProgress::Quiet);
  return at::cat(parts, 0);
}

int64_t perturbations_per_pass(const OpContext& ctx, int64_t bytes_per_example, int64_t examples, int64_t perturbations) {
  int64_t cap = items_per_chunk(ctx, bytes_per_example * examples, perturbations);
  // Enough perturbations for a pass of kPerturbationPassExamples examples, and
  // more only while their working set stays under kPerturbationChunkBytes.
  int64_t enough = (kPerturbationPassExamples + examples - 1) / examples;
  int64_t small = kPerturbationChunkBytes / std::max<int64_t>(1, bytes_per_example * examples);
  return std::clamp<int64_t>(std::max(enough, small), 1, cap);
}

void evaluate_perturbations(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                            const PerturbationBuilder& build, const ScoreConsumer& consume, OpContext& ctx,
                            Score score) {
  torch::NoGradGuard no_grad;
  torch::jit::Module fast = forward_only(m);
  int64_t n = x.size(0), in = example_bytes(x);
  // A perturbation's inputs (and the few tensors that build them) plus what
  // the model allocates for them, measured.
  int64_t per_example = kBuildBytesFactor * in + forward_bytes_per_example(m, x, kForwardBytesFactor * in);
  int64_t per_chunk = perturbations_per_pass(ctx, per_example, n, perturbations);
  for_chunks(ctx, perturbations, per_chunk, [&](int64_t p0, int64_t p1) {
    at::Tensor inputs = build(p0, p1);  // [k, N, ...]
    int64_t k = p1 - p0;
    at::Tensor logits = logits_of(fast, inputs.flatten(0, 1));
    if (score == Score::Probability) logits = logits.softmax(1);
    at::Tensor index = t.index.repeat({k, 1});  // [k*N, T]
    consume(p0, p1, pick_targets(logits, index).view({k, n, t.count()}));
  });
}

at::Tensor perturbation_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                               const PerturbationBuilder& build, OpContext& ctx) {
  at::Tensor all = at::empty({perturbations, x.size(0), t.count()}, score_options(x));
  evaluate_perturbations(
      m, x, t, perturbations, build, [&](int64_t p0, int64_t p1, const at::Tensor& s) { all.slice(0, p0, p1).copy_(s); },
      ctx);
  return all;
}

at::Tensor completeness_gap(const OpArgs& a, OpContext& ctx) {
  torch::jit::Module m = model_arg(a, "model", ctx.device);
  at::Tensor x = a.tensor("inputs").to(ctx.device);
  at::Tensor attr = a.tensor("attributions").to(ctx.device);
  if (attr.sizes() != x.sizes())
    throw OpError("attributions " + describe(Value(attr)) + " are not shaped like the inputs " + describe(Value(x)) +
                  " (one target per call)");
  at::Tensor b = baselines_of(a, x, ctx);
  Targets t = targets_of(a, m, x);
  if (t.multi) throw OpError("completeness takes one target per input");
  int64_t n = x.size(0);
  at::Tensor both = target_scores(m, at::cat({x, b}, 0), Targets{t.index.repeat({2, 1})}, ctx).view({2, n});
  return attr.flatten(1).sum(1).to(at::kDouble) - (both[0] - both[1]).to(at::kDouble);
}

}  // namespace pipette::stdlib
