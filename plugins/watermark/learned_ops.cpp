// watermark.train: the learned (HiDDeN-style) watermark, trained by the pipeline.
#include <fmt/format.h>

#include "learned.hpp"
#include "ops.hpp"

namespace watermark {

void register_learned_ops(pipette::OpLibrary& lib) {
  lib.define(
      OpSignature("watermark.train",
                  "Trains a learned watermark (in the family of HiDDeN and StegaStamp): an encoder adds a residual of "
                  "at most STRENGTH/255 per pixel carrying BITS key bits (learned carrier tiles weighted by the key's "
                  "signs, scaled by a learned gain of the image), a decoder reads them back (a learned pre-filter "
                  "correlated with learned read-out tiles), both trained together on random crops of IMAGES through "
                  "a noise layer (per step one of: none, Gaussian noise, blur, JPEG 50-95, 2x resize, brightness), "
                  "with the MSE to the original as a second loss. A low strength makes an invisible watermark, a high "
                  "one a robust, visible one. Use the model with watermark.embed/detect(method=\"learned\", model=).")
          .input("images", "tensor", "Training images [N, C, H, W] in [0, 1]")
                 .images({1, 3})
          .param("bits", "int", Operand::integer(32), "Key length the watermark carries")
          .range(1, 256)
          .param("strength", "float", Operand::real(8.0), "L-infinity budget of the residual, in 8-bit levels")
          .range(0.1, 255)
          .param("tile", "int", Operand::integer(16), "Side of the carrier tiles (images must be at least this)")
          .range(2, 256)
          .param("size", "int", Operand::integer(32), "Training crop size, a multiple of TILE")
          .range(2, 1024)
          .param("steps", "int", Operand::integer(400), "Optimisation steps")
          .range(1)
          .param("batch", "int", Operand::integer(32), "Crops per step")
          .range(1)
          .param("width", "int", Operand::integer(16), "Channels of the encoder's gain network")
          .range(1, 512)
          .param("lr", "float", Operand::real(1e-2), "Adam's learning rate")
          .range(0)
          .param("image_weight", "float", Operand::real(1.0), "Weight of the image MSE against the bit loss")
          .range(0)
          .param("max_noise", "float", Operand::real(0.1), "The noise layer's largest Gaussian noise std")
          .range(0, 1)
          .optional("seed", "int", "Overrides the derived seed (initialisation, crops, bits, noise)")
          .stochastic()
          .returns("record{model: model, bit_accuracy: float, losses: tensor}",
                   "the encoder/decoder (TorchScript: encode(x, bits), decode(x); forward = decode), the bit accuracy "
                   "it reaches on unattacked training images, and every step's loss"),
      guarded([](const OpArgs& a, OpContext& ctx) -> Value {
        LearnedConfig c;
        c.bits = a.int_("bits");
        c.strength = a.float_("strength");
        c.tile = a.int_("tile");
        c.size = a.int_("size");
        c.steps = a.int_("steps");
        c.batch = a.int_("batch");
        c.width = a.int_("width");
        c.lr = a.float_("lr");
        c.image_weight = a.float_("image_weight");
        c.max_noise = a.float_("max_noise");
        LearnedResult r =
            train_learned(a.tensor("images"), c, ctx.generator(), ctx.device, [&ctx](int64_t s, int64_t n) {
              if (ctx.cancelled()) throw OpError("cancelled");
              ctx.progress(static_cast<uint64_t>(s), static_cast<uint64_t>(n));
            });
        ctx.log(OpContext::Info, fmt::format("learned watermark: bit accuracy {:.3f} on unattacked images",
                                             r.bit_accuracy));
        if (r.bit_accuracy < 0.8)
          ctx.log(OpContext::Warn, fmt::format("the decoder reads only {:.2f} of the bits: embed and detect will "
                                               "refuse it; train longer or with a larger strength",
                                               r.bit_accuracy));
        return pipette::make_record({{"model", Value(r.model._ivalue())},
                                     {"bit_accuracy", Value(r.bit_accuracy)},
                                     {"losses", Value(at::tensor(r.losses, at::kDouble).to(at::kFloat))}});
      }));
}

}  // namespace watermark
