// A learned watermark (in the family of HiDDeN, Zhu et al. 2018, and
// StegaStamp, Tancik et al. 2020): an encoder adds a residual, bounded by
// `strength` in L-infinity, that carries L key bits; a decoder reads them back;
// both are trained together through a noise layer of random distortions, so
// the bits survive them. Strength is the knob the paper turns: a low budget
// gives an invisible watermark that diffusion purification removes, a high one
// a visible watermark that survives it.
//
// The architecture is spread spectrum with learned parts, because HiDDeN's
// (the message as constant feature maps, a pooled CNN decoder) stayed near
// chance after 600 steps on this 2-core machine: the encoder weights L learned
// carrier tiles by the key's signs, tiles their sum over the image and scales
// it by a learned, image-dependent gain; the decoder correlates a learned
// pre-filtering of the image with L learned read-out tiles. It reaches full
// bit accuracy in a few hundred steps.
//
// The pair is one TorchScript module: encode(x, bits) -> watermarked images,
// decode(x) -> bit logits [N, L], and forward(x) = decode(x), so the decoder is
// a model like any other (model.predict, white-box attacks).
#pragma once

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>

namespace watermark {

struct LearnedConfig {
  int64_t bits = 32;
  double strength = 8;     // L-infinity budget of the residual, in 8-bit levels
  int64_t tile = 16;       // carrier tile side
  int64_t size = 32;       // training crop size, a multiple of the tile
  int64_t steps = 400;
  int64_t batch = 32;
  int64_t width = 16;      // channels of the gain network
  double lr = 1e-2;
  double image_weight = 1;  // weight of the MSE between watermarked and original images
  double max_noise = 0.1;   // the noise layer's largest Gaussian noise std
};

struct LearnedResult {
  torch::jit::Module model;
  double bit_accuracy = 0;  // on full-size images from the training set, no distortion
  std::vector<double> losses;
};

// `count` random size x size crops of `images` ([N, C, H, W], at least size x
// size), each of a random image at a random offset that is a multiple of `align`.
at::Tensor random_crops(const at::Tensor& images, int64_t count, int64_t size, int64_t align, at::Generator& gen);

// Trains on random crops of `images` ([N, C, H, W] in [0, 1]). `tick(step,
// steps)` is called after every step and may throw to stop.
LearnedResult train_learned(const at::Tensor& images, const LearnedConfig& config, at::Generator gen,
                            c10::Device device, const std::function<void(int64_t, int64_t)>& tick);

// The bit count of a learned watermark, after checking that `m` is one and that
// its decoder learned (bit accuracy >= 0.8 when it was trained); throws
// std::invalid_argument otherwise.
int64_t learned_bits(const torch::jit::Module& m);

// Watermarked images: encode(images, key) for every image.
at::Tensor learned_embed(torch::jit::Module& m, const at::Tensor& images, const at::Tensor& key);

// Per-bit votes [N, L] in {0, 1}: decode(images) > 0, after the same checks
// as embedding (the key must be the length the watermark carries).
at::Tensor learned_votes(torch::jit::Module& m, const at::Tensor& images, const at::Tensor& key);

}  // namespace watermark
