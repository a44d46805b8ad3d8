// The classical invisible watermarks Stable Diffusion's release used
// (invisible-watermark's dwtDct and dwtDctSvd), implemented here from their
// description: the image goes to YUV, one channel (U by default) gets a Haar
// DWT, its approximation band is cut into 4x4 blocks, and each block carries one
// key bit (the key repeats over the blocks) in a DCT coefficient:
//  - dwt_dct: the block's largest non-DC coefficient a is moved to
//    (floor(|a|/s) + 1/4 + b/2) * s, keeping its sign;
//  - dwt_dct_svd: the block's largest singular value, the same way.
// Reading a bit back asks whether that value sits in the upper half of its
// step s; each key bit is the majority over its blocks.
//
// The transforms are batched tensor maths ([N, C, H, W] at once, on any
// device); the 4x4 SVDs are Eigen's (fixed-size Jacobi), block by block in parallel.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "engine/value_checks.hpp"

namespace watermark {

enum class Transform { DwtDct, DwtDctSvd };

struct ClassicConfig {
  Transform transform = Transform::DwtDct;
  double scale = 36;          // the quantisation step s (invisible-watermark: 36 on U)
  std::string channel = "u";  // y, u or v for colour images; grey images use their one channel
};

Transform transform_of(const std::string& name);  // "dwt_dct" | "dwt_dct_svd"; throws std::invalid_argument

// How many key bits an image of this size can carry at least once.
int64_t classic_capacity(int64_t height, int64_t width);

// images [N, C, H, W] in [0, 1] (C = 1 or 3); key [L] of 0/1. Returns the
// watermarked images, clamped to [0, 1]. Throws std::invalid_argument on bad
// shapes, ranges or keys.
at::Tensor classic_embed(const at::Tensor& images, const at::Tensor& key, const ClassicConfig& config);

// The per-bit votes [N, L] in [0, 1]: the fraction of an image's blocks for key
// position j that read as 1.
at::Tensor classic_votes(const at::Tensor& images, int64_t bits, const ClassicConfig& config);

// Bit accuracy [N] of votes against the key: the detector's score.
at::Tensor bit_accuracy(const at::Tensor& votes, const at::Tensor& key);

// Images as every watermark takes them: the SDK's contract (engine/value_checks.hpp)
// with 1 or 3 channels. Ops declare it on their parameters; the library's
// functions, which tests call directly, check it again here.
inline void check_images(const at::Tensor& images, const std::string& what) {
  pipette::check_images(images, what, {1, 3});
}
// A key: 1-D, 0/1 values, at least one bit.
void check_key(const at::Tensor& key);

}  // namespace watermark
