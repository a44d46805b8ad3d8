// The watermark plugin's ops: keys, the classical DWT-DCT watermarks, WAVES'
// distortions, and the detection and quality metrics.
#include "ops.hpp"

#include <stdexcept>

#include "engine/model_arg.hpp"

#include "classic.hpp"
#include "distort.hpp"
#include "learned.hpp"
#include "metrics.hpp"

namespace watermark {

namespace {

bool is_learned(const OpArgs& a) {
  bool learned = a.string("method") == "learned";
  if (learned && a.is_none("model"))
    throw OpError("method=\"learned\" needs model=: the .model of a watermark.train result");
  if (!learned && !a.is_none("model"))
    throw OpError("model= is for method=\"learned\"; the " + a.string("method") + " watermark has no model");
  return learned;
}

ClassicConfig classic_config(const OpArgs& a) {
  ClassicConfig c;
  c.transform = transform_of(a.string("method"));  // after is_learned: a classical method
  c.scale = a.float_("scale");
  c.channel = a.string("channel");
  return c;
}

OpSignature& classic_params(OpSignature& s) {
  return s.param("method", "string", Operand::string("dwt_dct"), "dwt_dct, dwt_dct_svd or learned")
      .choices({"dwt_dct", "dwt_dct_svd", "learned"})
      .optional("model", "model", "The learned watermark (method=\"learned\"): a watermark.train result's .model")
      .param("scale", "float", Operand::real(36.0), "The quantisation step: larger survives more and shows more")
      .range(1e-3)
      .param("channel", "string", Operand::string("u"), "The YUV channel of colour images that carries the mark")
      .choices({"y", "u", "v"});
}

}  // namespace

void register_ops(pipette::OpLibrary& lib) {
  lib.define(OpSignature("watermark.key", "A random watermark key: `bits` independent fair bits (0/1), drawn from the "
                                          "node's seed, so a run reproduces it and --seed changes it.")
                 .param("bits", "int", Operand::integer(32), "Key length (Stable Diffusion's release used 32 or 48)")
                 .range(1, 4096)
                 .optional("seed", "int", "Overrides the derived seed: keys of the same length and seed are the same key")
                 .stochastic()
                 .returns("tensor", "[bits] int64 of 0/1"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               return at::randint(0, 2, {a.int_("bits")}, ctx.generator(), at::TensorOptions().dtype(at::kLong));
             }));

  lib.define(classic_params(OpSignature("watermark.embed",
                                        "Embed a key with a classical invisible watermark (DWT-DCT or DWT-DCT-SVD, as "
                                        "the invisible-watermark library Stable Diffusion used: Haar DWT of one YUV "
                                        "channel, 4x4 block DCT of the approximation band, one key bit per block by "
                                        "quantising its largest AC coefficient or singular value), or with a learned "
                                        "watermark's encoder (method=\"learned\", model=).")
                                .input("images", "tensor", "Images [N, C, H, W] in [0, 1], C = 1 or 3")
                 .images({1, 3})
                                .input("key", "tensor", "Key bits [L] (watermark.key); L <= (H/8)*(W/8)"))
                 .returns("tensor", "The watermarked images, same shape, in [0, 1]"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               if (is_learned(a)) {
                 torch::jit::Module m = pipette::model_arg(a, "model", ctx.device);
                 return learned_embed(m, a.tensor("images").to(ctx.device), a.tensor("key").to(ctx.device)).cpu();
               }
               return classic_embed(a.tensor("images"), a.tensor("key"), classic_config(a));
             }));

  lib.define(classic_params(OpSignature("watermark.detect",
                                        "The watermark's detector: the classical ones read every block's bit and take "
                                        "the majority per key position, the learned one runs its decoder; each image "
                                        "is scored by its bit accuracy against the key (1 = the key read back "
                                        "exactly; about 0.5 for unmarked images or a wrong key).")
                                .input("images", "tensor", "Images [N, C, H, W] in [0, 1]")
                 .images({1, 3})
                                .input("key", "tensor", "The key that was embedded"))
                 .returns("tensor", "[N] bit accuracy in [0, 1]"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               auto key = a.tensor("key");
               check_key(key);
               if (is_learned(a)) {
                 torch::jit::Module m = pipette::model_arg(a, "model", ctx.device);
                 return bit_accuracy(learned_votes(m, a.tensor("images").to(ctx.device), key.to(ctx.device)).cpu(), key);
               }
               auto votes = classic_votes(a.tensor("images"), key.size(0), classic_config(a));
               return bit_accuracy(votes, key);
             }));

  lib.define(OpSignature("watermark.distort",
                         "One of the WAVES benchmark's common distortions: jpeg (quality), blur (Gaussian sigma, "
                         "pixels), noise (Gaussian std), brightness and contrast (factor), rotation (degrees), crop "
                         "(fraction of each side kept, resized back), resize (scale down and back). Chain them with "
                         "|> for combinations.")
                 .input("images", "tensor", "Images [N, C, H, W] in [0, 1]")
                 .images({1, 3})
                 .input("kind", "string", "jpeg, blur, noise, brightness, contrast, rotation, crop or resize")
                 .input("strength", "float", "The distortion's parameter (see above)")
                 .stochastic()
                 .returns("tensor", "The distorted images, same shape, in [0, 1]"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               auto images = a.tensor("images");
               return distort(images, a.string("kind"), a.float_("strength"), ctx.generator());
             }));

  lib.define(OpSignature("watermark.roc",
                         "Detection quality from scores: the threshold sweep (flag an image when its score >= the "
                         "threshold) with evasion error (watermarked judged clean, 1 - TPR) and spoofing error (clean "
                         "judged watermarked, FPR) at every threshold, the AUROC, and the TPR at 1 % and 0.1 % FPR.")
                 .input("watermarked", "tensor", "Scores of watermarked (or attacked watermarked) images [N]")
                 .input("clean", "tensor", "Scores of clean images [M]")
                 // Its threshold sweep starts at +Inf (flag nothing), as scikit-learn's
                 // roc_curve; the scores themselves it checks for NaN and Inf.
                 .passes_nonfinite()
                 .returns("record{auroc: float, tpr_at_1pct_fpr: float, tpr_at_01pct_fpr: float, threshold: tensor, "
                          "evasion: tensor, spoofing: tensor}"),
             guarded([](const OpArgs& a, OpContext&) -> Value {
               auto r = roc(a.tensor("watermarked").flatten(), a.tensor("clean").flatten());
               return pipette::make_record({{"auroc", r.auroc},
                                            {"tpr_at_1pct_fpr", r.tpr_at_1pct},
                                            {"tpr_at_01pct_fpr", r.tpr_at_01pct},
                                            {"threshold", r.threshold.to(at::kFloat)},
                                            {"evasion", (1 - r.tpr).to(at::kFloat)},
                                            {"spoofing", r.fpr.to(at::kFloat)}});
             }));

  lib.define(OpSignature("watermark.psnr", "Peak signal-to-noise ratio per image, in dB, for images in [0, 1] "
                                           "(+inf where the two are identical).")
                 .input("a", "tensor", "Images [N, C, H, W]")
                 .input("b", "tensor", "Images of the same shape")
                 .returns("tensor", "[N] dB"),
             guarded([](const OpArgs& a, OpContext&) -> Value { return psnr(a.tensor("a"), a.tensor("b")); }));

  lib.define(OpSignature("watermark.ssim",
                         "Structural similarity per image (Wang et al., 2004: 11x11 Gaussian window, sigma 1.5, "
                         "K1 = 0.01, K2 = 0.03, data range 1), averaged over channels and window positions.")
                 .input("a", "tensor", "Images [N, C, H, W] in [0, 1], at least 11x11")
                 .input("b", "tensor", "Images of the same shape")
                 .returns("tensor", "[N] in [-1, 1]"),
             guarded([](const OpArgs& a, OpContext&) -> Value { return ssim(a.tensor("a"), a.tensor("b")); }));
}

}  // namespace watermark
