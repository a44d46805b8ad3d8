// The attack of the paper's model-substitution experiment: L-infinity PGD on
// a classifier (a substitute detector trained on watermarked vs. clean images),
// towards a target class — "clean" on watermarked images to evade, "watermarked"
// on clean images to spoof.
#include <torch/script.h>

#include "engine/adversarial.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"

#include "classic.hpp"
#include "ops.hpp"

namespace watermark {

void register_pgd_ops(pipette::OpLibrary& lib) {
  lib.define(OpSignature("watermark.pgd",
                         "Targeted L-infinity PGD on a classifier, as the paper's model-substitution attack: `steps` "
                         "signed-gradient steps of size `step` that lower the cross-entropy towards `target`, each "
                         "followed by a projection onto the eps ball around the input and onto [0, 1]. Train the "
                         "substitute with train.classifier on watermarked (1) vs clean (0) images, then attack "
                         "watermarked images with target=0 (evasion) or clean ones with target=1 (spoofing). The "
                         "attack is attack.pgd's (norm=\"linf\", targeted=true, lower=0, upper=1); images are attacked "
                         "in chunks under the memory budget.")
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
                 .returns("tensor", "The adversarial images: |x' - x| <= eps/255 everywhere, in [0, 1]"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               torch::jit::Module model = pipette::model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("images");
               if (x.size(0) == 0) return x.clone();
               at::Tensor target = pipette::targets_for(a, "target", model, x);
               if (target.min().item<int64_t>() < 0) throw OpError("target classes must not be negative");
               // Targeted L-infinity PGD, kept in [0, 1]: the SDK's attack, as attack.pgd runs it.
               pipette::AttackSpec spec;
               spec.targeted = true;
               spec.lower = 0;
               spec.upper = 1;
               pipette::PgdSpec p;
               p.radius = a.float_("eps") / 255.0;
               p.step = a.float_("step") * p.radius;
               p.steps = a.int_("steps");
               at::Tensor xd = x.to(ctx.device, at::kFloat);
               return pipette::pgd(model, xd, target.to(ctx.device), spec, p, ctx).to(x.device());
             }));
}

}  // namespace watermark
