// metric.*: explanation quality metrics, named as in Quantus.
#include <ATen/ATen.h>
#include <torch/script.h>

#include "stdlib/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Per-feature relevance [N, F]: images [N, C, H, W] are scored per pixel (the
// channels summed), anything else per element.
at::Tensor feature_relevance(const at::Tensor& attributions) {
  if (attributions.dim() == 4) return attributions.sum(1).flatten(1);
  return attributions.flatten(1);
}

}  // namespace

void register_metric(OpLibrary& lib) {
  lib.define(
      OpSignature("metric.deletion",
                  "Deletion curve AUC (pixel flipping, Samek et al.): remove the most relevant features first, "
                  "replacing them with BASELINE, and track the softmax probability of the target class. Lower is "
                  "better: a faithful explanation destroys the prediction quickly.")
          .input("model", "model", "The classifier")
          .input("inputs", "tensor", "Inputs")
          .input("attributions", "tensor", "Attributions for the inputs")
          .optional("target", "int|tensor", "Output index per example; none = predicted")
          .param("steps", "int", Operand::integer(20), "Points on the curve after the start")
          .range(1)
          .param("baseline", "float", Operand::real(0.0), "Value that replaces removed features")
          .returns("float", "Mean area under the deletion curves, over [0, 1] removed"),
      [](const OpArgs& a, OpContext& ctx) {
        torch::jit::Module m = model_arg(a, "model", ctx.device);
        at::Tensor x = a.tensor("inputs").to(ctx.device);
        at::Tensor attr = a.tensor("attributions").to(ctx.device);
        if (attr.sizes() != x.sizes())
          throw OpError("attributions " + describe(Value(attr)) + " are not shaped like the inputs " +
                        describe(Value(x)));
        at::Tensor target = targets_for(a, "target", m, x);
        int64_t n = x.size(0), steps = a.int_("steps");
        at::Tensor relevance = feature_relevance(attr);  // [N, F]
        int64_t features = relevance.size(1);
        // rank[i, f] = position of feature f when example i's features are sorted by relevance, descending.
        at::Tensor rank = relevance.argsort(/*dim=*/1, /*descending=*/true).argsort(/*dim=*/1, /*descending=*/false);
        bool per_pixel = x.dim() == 4;
        torch::NoGradGuard no_grad;
        at::Tensor curve = at::empty({steps + 1, n}, x.options());
        int64_t chunk = items_per_chunk(ctx, 8 * x.numel() / std::max<int64_t>(1, n) * x.element_size(), n);
        for (int64_t k = 0; k <= steps; ++k) {
          if (ctx.cancelled()) throw OpError("cancelled");
          int64_t removed = static_cast<int64_t>(std::llround(static_cast<double>(k) / steps * features));
          at::Tensor keep = rank.ge(removed);  // [N, F]
          at::Tensor mask = per_pixel ? keep.view({n, 1, x.size(2), x.size(3)}) : keep.view(x.sizes());
          at::Tensor xk = at::where(mask, x, at::full({}, a.float_("baseline"), x.options()));
          for (int64_t i = 0; i < n; i += chunk) {
            at::Tensor p = logits_of(m, xk.slice(0, i, i + chunk)).softmax(1);
            curve[k].slice(0, i, i + chunk).copy_(p.gather(1, target.slice(0, i, i + chunk).view({-1, 1})).view(-1));
          }
          ctx.progress(static_cast<uint64_t>(k + 1), static_cast<uint64_t>(steps + 1));
        }
        // Trapezoid rule over the removed fraction in [0, 1].
        at::Tensor auc = (curve.sum(0) - (curve[0] + curve[steps]) / 2) / static_cast<double>(steps);
        return Value(auc.mean().item<double>());
      });
}

}  // namespace pipette::stdlib
