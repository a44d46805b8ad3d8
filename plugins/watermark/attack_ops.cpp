// The paper's other two attacks, as building blocks for scripts:
//  - watermark.substitute_data: the training set of the model-substitution
//    attack's substitute detector (crops of watermarked vs clean images with
//    Gaussian-noise augmentation), for train.classifier; watermark.pgd then
//    attacks the trained substitute.
//  - watermark.paste: black-box spoofing by "watermark noise pasting": the
//    attacker has the embedder mark a noise image and blends a faint copy of
//    it into clean images.
#include <fmt/format.h>

#include <stdexcept>

#include "engine/dataset.hpp"

#include "classic.hpp"
#include "learned.hpp"
#include "ops.hpp"

namespace watermark {

namespace {

at::Tensor checked(const OpArgs& a, const std::string& name) {
  at::Tensor x = a.tensor(name);
  check_images(x, name);
  return x.to(at::kFloat);
}

// Random crops (learned.hpp) with Gaussian noise of a standard deviation drawn
// from U(0, noise) per crop: the paper's augmentation.
at::Tensor noisy_crops(const at::Tensor& images, int64_t count, int64_t size, int64_t align, double noise,
                       at::Generator& gen) {
  at::Tensor x = random_crops(images, count, size, align, gen);
  at::Tensor sigma = at::rand({count, 1, 1, 1}, gen, at::kFloat) * noise;
  return (x + sigma * at::randn(x.sizes(), gen, at::kFloat)).clamp(0, 1);
}

}  // namespace

void register_attack_ops(pipette::OpLibrary& lib) {
  lib.define(OpSignature("watermark.substitute_data",
                         "Training data for the model-substitution attack's substitute detector: COUNT random "
                         "SIZE x SIZE crops of watermarked images (label 1) and as many of clean ones (label 0), each "
                         "with Gaussian noise of a std drawn from U(0, NOISE) (the paper's augmentation), shuffled. "
                         "Train it with train.classifier(arch=\"resnet\") (convolutional with global pooling, so it "
                         "also classifies whole images), then attack with watermark.pgd.")
                 .input("marked", "tensor", "Watermarked images [N, C, H, W] in [0, 1]")
                 .images({1, 3})
                 .input("clean", "tensor", "Clean images [M, C, H, W] in [0, 1]")
                 .images({1, 3})
                 .param("size", "int", Operand::integer(32), "Crop size")
                 .range(4)
                 .param("count", "int", Operand::integer(2000), "Crops of each kind")
                 .range(1)
                 .param("noise", "float", Operand::real(0.05), "Largest Gaussian noise std of the augmentation")
                 .range(0, 1)
                 .param("align", "int", Operand::integer(1),
                        "Crop offsets are multiples of this: 16 keeps the learned watermark's tiles in phase, so its "
                        "detector still reads the crops")
                 .range(1)
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .returns("dataset{images: tensor, labels: tensor}", "2 * COUNT labelled crops"),
             guarded([](const OpArgs& a, OpContext& ctx) -> Value {
               at::Tensor marked = checked(a, "marked"), clean = checked(a, "clean");
               int64_t size = a.int_("size"), count = a.int_("count"), align = a.int_("align");
               for (const auto* x : {&marked, &clean})
                 if (x->size(2) < size || x->size(3) < size)
                   throw OpError(fmt::format("images of {}x{} are smaller than the crops ({}x{})", x->size(2),
                                             x->size(3), size, size));
               if (marked.size(1) != clean.size(1))
                 throw OpError(fmt::format("marked images have {} channels, clean ones {}", marked.size(1),
                                           clean.size(1)));
               at::Generator gen = ctx.generator();
               at::Tensor x = at::cat({noisy_crops(marked, count, size, align, a.float_("noise"), gen),
                                       noisy_crops(clean, count, size, align, a.float_("noise"), gen)});
               at::Tensor y = at::cat({at::ones({count}, at::kLong), at::zeros({count}, at::kLong)});
               at::Tensor order = at::randperm(2 * count, gen, at::kLong);
               return pipette::make_dataset(pipette::tensor_dataset(
                   {{"images", x.index_select(0, order)}, {"labels", y.index_select(0, order)}},
                   fmt::format("{} watermarked and {} clean crops of {}x{}", count, count, size, size)));
             }));

  lib.define(OpSignature("watermark.paste",
                         "Black-box spoofing by watermark noise pasting (Saberi et al., ICLR 2024): blend a faint "
                         "copy of a watermarked noise image Z (the embedder's output for a noise image: all the "
                         "attacker needs is black-box access to embedding) into clean images X: "
                         "(1 - max(alpha Z)) X / max(X) + alpha Z, clipped and rounded to 8 bits.")
                 .input("images", "tensor", "Clean images [N, C, H, W] in [0, 1]")
                 .images({1, 3})
                 .input("pattern", "tensor", "Watermarked noise [1 or N, C, H, W] in [0, 1]")
                 .images({1, 3})
                 .param("alpha", "float", Operand::real(0.1), "Weight of the pasted pattern")
                 .range(0, 1)
                 .returns("tensor", "The spoofed images, same shape, in [0, 1]"),
             guarded([](const OpArgs& a, OpContext&) -> Value {
               at::Tensor x = checked(a, "images"), z = checked(a, "pattern");
               if (z.size(0) != 1 && z.size(0) != x.size(0))
                 throw OpError(fmt::format("pattern has {} images for {}: give one or one per image", z.size(0),
                                           x.size(0)));
               if (z.sizes().slice(1) != x.sizes().slice(1))
                 throw OpError(fmt::format("pattern images are [{}], the images [{}]", fmt::join(z.sizes().slice(1), ", "),
                                           fmt::join(x.sizes().slice(1), ", ")));
               at::Tensor az = a.float_("alpha") * z.expand_as(x);
               at::Tensor gamma = 1 - at::amax(az, {1, 2, 3}, true);
               at::Tensor peak = at::amax(x, {1, 2, 3}, true).clamp_min(1e-12);
               return ((gamma * x / peak + az).clamp(0, 1) * 255).round() / 255;
             }));
}

}  // namespace watermark
