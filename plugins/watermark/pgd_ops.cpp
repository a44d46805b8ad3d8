// The attack of the paper's model-substitution experiment: L-infinity PGD on
// a classifier (a substitute detector trained on watermarked vs. clean images),
// towards a target class — "clean" on watermarked images to evade, "watermarked"
// on clean images to spoof.
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"

#include "classic.hpp"
#include "ops.hpp"

namespace watermark {

namespace {

// Targeted PGD (Madry et al.): x <- clip_{x0, eps}(x - step * sign(grad CE(f(x), target))), kept in [0, 1].
at::Tensor pgd(torch::jit::Module& model, const at::Tensor& x0, const at::Tensor& target, double eps, double step,
               int64_t steps, const OpContext& ctx) {
  at::Tensor lo = (x0 - eps).clamp(0, 1), hi = (x0 + eps).clamp(0, 1);
  at::Tensor x = x0.clone();
  for (int64_t t = 0; t < steps; ++t) {
    if (ctx.cancelled()) throw OpError("cancelled");
    x.requires_grad_(true);
    at::Tensor logits = pipette::score_rows(pipette::logits_of(model, x));
    if (target.max().item<int64_t>() >= logits.size(1))
      throw OpError("target class " + std::to_string(target.max().item<int64_t>()) + " but the model has " +
                    std::to_string(logits.size(1)) + " classes");
    at::Tensor loss = at::cross_entropy_loss(logits, target, {}, at::Reduction::Sum);
    at::Tensor grad = torch::autograd::grad({loss}, {x})[0];
    at::NoGradGuard no_grad;
    x = at::min(at::max(x.detach() - step * grad.sign(), lo), hi);
    ctx.progress(static_cast<uint64_t>(t + 1), static_cast<uint64_t>(steps));
  }
  return x.detach();
}

}  // namespace

void register_pgd_ops(pipette::OpLibrary& lib) {
  lib.define(OpSignature("watermark.pgd",
                         "Targeted L-infinity PGD on a classifier, as the paper's model-substitution attack: `steps` "
                         "signed-gradient steps of size `step` that lower the cross-entropy towards `target`, each "
                         "followed by a projection onto the eps ball around the input and onto [0, 1]. Train the "
                         "substitute with train.classifier on watermarked (1) vs clean (0) images, then attack "
                         "watermarked images with target=0 (evasion) or clean ones with target=1 (spoofing).")
                 .input("model", "model", "A classifier returning logits [N, classes] (TorchScript)")
                 .input("images", "tensor", "Images [N, C, H, W] in [0, 1]")
                 .images({1, 3})
                 .input("target", "int|tensor", "The class to push towards: one for all, or [N]")
                 .param("eps", "float", Operand::real(8.0), "The L-infinity radius in 8-bit levels (the paper: 4, 8, 12)")
                 .range(0, 255)
                 .param("steps", "int", Operand::integer(100), "PGD iterations")
                 .range(1, 100000)
                 .param("step", "float", Operand::real(0.05), "Step size as a fraction of eps (the paper: 0.05)")
                 .range(0, 10)
                 .param("batch", "int", Operand::integer(64), "Images attacked at once")
                 .range(1)
                 .returns("tensor", "The adversarial images: |x' - x| <= eps/255 everywhere, in [0, 1]"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               torch::jit::Module model = pipette::model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("images");
               const int64_t n = x.size(0);
               at::Tensor target = a.tensor("target").to(at::kLong).flatten();
               if (target.numel() == 1) target = target.expand({n});
               if (target.numel() != n)
                 throw OpError("target has " + std::to_string(target.numel()) + " classes for " + std::to_string(n) +
                               " images");
               if (n > 0 && target.min().item<int64_t>() < 0) throw OpError("target classes must not be negative");
               const double eps = a.float_("eps") / 255.0, step = a.float_("step") * eps;
               const int64_t batch = a.int_("batch"), steps = a.int_("steps");
               if (n == 0) return x.clone();
               return pipette::map_chunks(
                   ctx, x, batch,
                   [&](const at::Tensor& xb, int64_t i) {
                     return pgd(model, xb.to(ctx.device, at::kFloat), target.slice(0, i, i + xb.size(0)).to(ctx.device),
                                eps, step, steps, ctx)
                         .to(x.device());
                   },
                   pipette::ChunkProgress::Quiet);  // pgd reports its steps
             }));
}

}  // namespace watermark
