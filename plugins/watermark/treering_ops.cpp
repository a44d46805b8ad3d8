// Tree-Ring on pipette's own diffusion model: watermark.ring_key,
// watermark.ring_noise (the key planted in sampling noise, for
// diffusion.sample) and watermark.ring_detect (on diffusion.invert's output).
#include <fmt/format.h>

#include "ops.hpp"
#include "treering.hpp"

namespace watermark {

namespace {

constexpr const char* kKeyType = "record{mask: tensor, real: tensor, imag: tensor, channel: int}";

RingKey key_arg(const OpArgs& a) {
  RingKey k;
  k.mask = pipette::select_path(a["key"], {"mask"}).toTensor().to(at::kBool);
  k.real = pipette::select_path(a["key"], {"real"}).toTensor();
  k.imag = pipette::select_path(a["key"], {"imag"}).toTensor();
  k.channel = pipette::select_path(a["key"], {"channel"}).toInt();
  if (k.mask.dim() != 2 || k.mask.sizes() != k.real.sizes() || k.mask.sizes() != k.imag.sizes() ||
      k.mask.size(0) != k.mask.size(1))
    throw OpError("the key is not a Tree-Ring key (make one with watermark.ring_key)");
  return k;
}

}  // namespace

void register_treering_ops(pipette::OpLibrary& lib) {
  lib.define(OpSignature("watermark.ring_key",
                         "A Tree-Ring key (Wen et al., 2023): concentric rings of radius 0 .. RADIUS-1 around the "
                         "centre of the SIZE x SIZE Fourier plane of noise channel CHANNEL, one random magnitude per ring and "
                         "a random phase per frequency (mirrored, so the noise stays real).")
                 .param("size", "int", Operand::integer(32), "The noise's height and width (the diffusion's image size)")
                 .range(4)
                 .param("radius", "int", Operand::integer(6), "Rings inside this radius carry the key")
                 .range(1)
                 .param("channel", "int", Operand::integer(0), "The noise channel that carries it")
                 .range(0)
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .returns(kKeyType, "the mask of keyed frequencies, their coefficients (real and imaginary parts), and the channel"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               RingKey k = make_ring_key(a.int_("size"), a.int_("radius"), a.int_("channel"), ctx.generator());
               return pipette::make_record({{"mask", Value(k.mask)},
                                            {"real", Value(k.real)},
                                            {"imag", Value(k.imag)},
                                            {"channel", Value(k.channel)}});
             }));

  lib.define(OpSignature("watermark.ring_noise",
                         "Standard normal sampling noise with a Tree-Ring key written into its Fourier transform: "
                         "give it to diffusion.sample(noise=) to generate watermarked images.")
                 .input("key", kKeyType, "A key from watermark.ring_key")
                 .param("n", "int", Operand::integer(16), "How many noise images")
                 .range(1)
                 .param("channels", "int", Operand::integer(3), "The diffusion model's image channels")
                 .range(1)
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .returns("tensor", "Noise [N, C, S, S]"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               RingKey k = key_arg(a);
               int64_t s = k.mask.size(0);
               return plant_rings(at::randn({a.int_("n"), a.int_("channels"), s, s}, ctx.generator(), at::kFloat), k);
             }));

  lib.define(OpSignature("watermark.ring_detect",
                         "Tree-Ring detection on noise recovered from images by diffusion.invert: Tree-Ring's "
                         "statistical test (the masked Fourier coefficients against the key under a complex "
                         "Gaussian null, a non-central chi-square). Score = 1 - p-value: near 1 for watermarked "
                         "images, uniform on [0, 1] for others.")
                 .input("latents", "tensor", "Inverted noise [N, C, S, S] (diffusion.invert)")
                 .input("key", kKeyType, "The key")
                 .returns("record{score: tensor, distance: tensor}",
                          "[N] scores in [0, 1], and Tree-Ring's L1 distance to the key"),
             guarded([](const OpArgs& a, OpContext&) -> Value {
               RingScores r = ring_scores(a.tensor("latents"), key_arg(a));
               return pipette::make_record({{"score", Value(r.score)}, {"distance", Value(r.distance)}});
             }));
}

}  // namespace watermark
