#include "classic.hpp"

#include <ATen/Parallel.h>
#include <Eigen/SVD>

#include <cmath>
#include <stdexcept>

namespace watermark {

namespace {

constexpr int64_t kBlock = 4;

// BT.601 RGB <-> YUV on the 0..255 scale (U and V centred on 128), as OpenCV's
// COLOR_RGB2YUV that invisible-watermark uses.
at::Tensor rgb_to_yuv_matrix(const at::TensorOptions& o) {
  return at::tensor({0.299, 0.587, 0.114, -0.14713, -0.28886, 0.436, 0.615, -0.51499, -0.10001}, o).view({3, 3});
}

// The orthonormal 4x4 DCT-II matrix: D = C X C^T, X = C^T D C.
at::Tensor dct_matrix(const at::TensorOptions& o) {
  auto c = at::empty({kBlock, kBlock}, o.dtype(at::kDouble).device(at::kCPU));
  auto a = c.accessor<double, 2>();
  for (int64_t k = 0; k < kBlock; ++k)
    for (int64_t n = 0; n < kBlock; ++n)
      a[k][n] = (k == 0 ? std::sqrt(1.0 / kBlock) : std::sqrt(2.0 / kBlock)) *
                std::cos(M_PI * (2 * n + 1) * k / (2.0 * kBlock));
  return c.to(o.device());
}

// One channel's plane [N, H, W] (0..255) and how to put it back.
struct Planes {
  at::Tensor yuv;  // [N, 3, H, W] or the grey image [N, 1, H, W]
  int64_t channel = 0;
};

Planes to_planes(const at::Tensor& images, const ClassicConfig& config) {
  auto x = images.to(at::kDouble) * 255.0;
  Planes p;
  if (x.size(1) == 1) {
    p.yuv = x;
    return p;
  }
  auto m = rgb_to_yuv_matrix(x.options());
  p.yuv = at::einsum("ij,njhw->nihw", {m, x});
  p.yuv.select(1, 1).add_(128.0);
  p.yuv.select(1, 2).add_(128.0);
  p.channel = config.channel == "y" ? 0 : config.channel == "u" ? 1 : 2;
  return p;
}

at::Tensor from_planes(const Planes& p, const at::Tensor& like) {
  at::Tensor rgb;
  if (p.yuv.size(1) == 1) {
    rgb = p.yuv;
  } else {
    auto yuv = p.yuv.clone();
    yuv.select(1, 1).sub_(128.0);
    yuv.select(1, 2).sub_(128.0);
    auto inv = at::inverse(rgb_to_yuv_matrix(yuv.options()));
    rgb = at::einsum("ij,njhw->nihw", {inv, yuv});
  }
  return (rgb / 255.0).clamp(0, 1).to(like.scalar_type());
}

// The blocks of the Haar approximation band of the top-left region whose sides
// are multiples of 8, as [N, B, 4, 4] DCT coefficients.
struct Blocks {
  at::Tensor coeffs;          // [N, B, 4, 4] (DCT of the approximation band's blocks)
  at::Tensor h, v, d;         // detail bands, untouched
  int64_t rows = 0, cols = 0; // of blocks
  int64_t height = 0, width = 0;  // of the region used
};

Blocks forward(const at::Tensor& plane) {
  Blocks b;
  const int64_t n = plane.size(0);
  b.height = plane.size(1) / (2 * kBlock) * (2 * kBlock);
  b.width = plane.size(2) / (2 * kBlock) * (2 * kBlock);
  auto region = plane.slice(1, 0, b.height).slice(2, 0, b.width);
  // Orthonormal Haar: each 2x2 cell -> (a+b+c+d)/2 and three differences.
  auto cells = region.reshape({n, b.height / 2, 2, b.width / 2, 2});
  auto x00 = cells.select(4, 0).select(2, 0), x01 = cells.select(4, 1).select(2, 0);
  auto x10 = cells.select(4, 0).select(2, 1), x11 = cells.select(4, 1).select(2, 1);
  auto ca = (x00 + x01 + x10 + x11) / 2;
  b.h = (x00 + x01 - x10 - x11) / 2;
  b.v = (x00 - x01 + x10 - x11) / 2;
  b.d = (x00 - x01 - x10 + x11) / 2;
  b.rows = b.height / 2 / kBlock;
  b.cols = b.width / 2 / kBlock;
  auto blocks = ca.reshape({n, b.rows, kBlock, b.cols, kBlock}).permute({0, 1, 3, 2, 4}).reshape({n, b.rows * b.cols, kBlock, kBlock});
  auto c = dct_matrix(plane.options());
  b.coeffs = at::matmul(at::matmul(c, blocks), c.t());
  return b;
}

void inverse(const Blocks& b, at::Tensor& plane) {
  const int64_t n = plane.size(0);
  auto c = dct_matrix(plane.options());
  auto blocks = at::matmul(at::matmul(c.t(), b.coeffs), c);
  auto ca = blocks.reshape({n, b.rows, b.cols, kBlock, kBlock}).permute({0, 1, 3, 2, 4}).reshape({n, b.height / 2, b.width / 2});
  auto x00 = (ca + b.h + b.v + b.d) / 2, x01 = (ca + b.h - b.v - b.d) / 2;
  auto x10 = (ca - b.h + b.v - b.d) / 2, x11 = (ca - b.h - b.v + b.d) / 2;
  auto top = at::stack({x00, x01}, -1).reshape({n, b.height / 2, b.width});
  auto bottom = at::stack({x10, x11}, -1).reshape({n, b.height / 2, b.width});
  auto region = at::stack({top, bottom}, 2).reshape({n, b.height, b.width});
  plane.slice(1, 0, b.height).slice(2, 0, b.width).copy_(region);
}

// Thousands of 4x4 SVDs: Eigen's Jacobi SVD on fixed-size matrices takes about
// a microsecond each, where a batched LAPACK call pays its overhead per matrix
// (30x slower here). Blocks [N, B, 4, 4] double.
using Mat4 = Eigen::Matrix<double, 4, 4, Eigen::RowMajor>;

at::Tensor largest_singular_values(const at::Tensor& blocks) {
  auto in = blocks.to(at::kCPU).contiguous();
  auto out = at::empty({in.size(0), in.size(1)}, in.options());
  const double* src = in.data_ptr<double>();
  double* dst = out.data_ptr<double>();
  at::parallel_for(0, out.numel(), 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      dst[i] = Eigen::JacobiSVD<Mat4>(Eigen::Map<const Mat4>(src + 16 * i)).singularValues()(0);
  });
  return out.to(blocks.device());
}

// Moves each block's largest singular value to target [N, B].
at::Tensor set_largest_singular_values(const at::Tensor& blocks, const at::Tensor& target) {
  auto in = blocks.to(at::kCPU).contiguous();
  auto t = target.to(at::kCPU).to(at::kDouble).contiguous();
  auto out = at::empty_like(in);
  const double* src = in.data_ptr<double>();
  const double* want = t.data_ptr<double>();
  double* dst = out.data_ptr<double>();
  at::parallel_for(0, t.numel(), 256, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      Eigen::JacobiSVD<Mat4> svd(Eigen::Map<const Mat4>(src + 16 * i), Eigen::ComputeFullU | Eigen::ComputeFullV);
      Eigen::Vector4d s = svd.singularValues();
      s(0) = want[i];
      Eigen::Map<Mat4>(dst + 16 * i) = svd.matrixU() * s.asDiagonal() * svd.matrixV().transpose();
    }
  });
  return out.to(blocks.device());
}

// The value each block carries its bit in: [N, B] magnitudes, and where it is.
struct Carrier {
  at::Tensor magnitude;  // [N, B]
  at::Tensor position;   // dwt_dct: flat index of the coefficient [N, B]
};

Carrier carrier(const Blocks& b, Transform t) {
  Carrier c;
  if (t == Transform::DwtDct) {
    auto flat = b.coeffs.flatten(2);
    c.position = std::get<1>(flat.slice(2, 1).abs().max(2)) + 1;
    c.magnitude = flat.gather(2, c.position.unsqueeze(2)).squeeze(2).abs();
  } else {
    c.magnitude = largest_singular_values(b.coeffs);
  }
  return c;
}

at::Tensor key_per_block(const at::Tensor& key, int64_t blocks, const at::TensorOptions& o) {
  auto idx = at::arange(blocks, o.dtype(at::kLong)) % key.size(0);
  return key.to(o.device()).to(at::kDouble).index_select(0, idx);
}

}  // namespace

Transform transform_of(const std::string& name) {
  if (name == "dwt_dct") return Transform::DwtDct;
  if (name == "dwt_dct_svd") return Transform::DwtDctSvd;
  throw std::invalid_argument("unknown watermark method '" + name + "' (dwt_dct, dwt_dct_svd)");
}

int64_t classic_capacity(int64_t height, int64_t width) {
  return (height / (2 * kBlock)) * (width / (2 * kBlock));
}

void check_key(const at::Tensor& key) {
  if (key.dim() != 1 || key.size(0) == 0)
    throw std::invalid_argument("a key must be a 1-D tensor of bits (watermark.key), got shape " +
                                std::string(c10::str(key.sizes())));
  auto k = key.to(at::kDouble);
  if (!at::logical_or(k == 0, k == 1).all().item<bool>()) throw std::invalid_argument("a key holds only 0s and 1s");
}

at::Tensor classic_embed(const at::Tensor& images, const at::Tensor& key, const ClassicConfig& config) {
  check_images(images, "images");
  check_key(key);
  int64_t capacity = classic_capacity(images.size(2), images.size(3));
  if (key.size(0) > capacity)
    throw std::invalid_argument("a " + std::to_string(key.size(0)) + "-bit key does not fit in " +
                                std::to_string(images.size(2)) + "x" + std::to_string(images.size(3)) +
                                " images: they carry " + std::to_string(capacity) + " bits (one per 8x8 pixels)");
  if (!(config.scale > 0)) throw std::invalid_argument("scale must be positive");
  auto p = to_planes(images, config);
  auto plane = p.yuv.select(1, p.channel).contiguous();
  auto b = forward(plane);
  auto c = carrier(b, config.transform);
  auto bits = key_per_block(key, b.rows * b.cols, plane.options()).unsqueeze(0);
  auto target = (at::floor(c.magnitude / config.scale) + 0.25 + 0.5 * bits) * config.scale;
  if (config.transform == Transform::DwtDct) {
    auto flat = b.coeffs.flatten(2).clone();
    auto value = flat.gather(2, c.position.unsqueeze(2)).squeeze(2);
    auto sign = at::where(value < 0, at::full_like(value, -1.0), at::ones_like(value));
    flat.scatter_(2, c.position.unsqueeze(2), (sign * target).unsqueeze(2));
    b.coeffs = flat.view_as(b.coeffs);
  } else {
    b.coeffs = set_largest_singular_values(b.coeffs, target);
  }
  inverse(b, plane);
  p.yuv.select(1, p.channel).copy_(plane);
  return from_planes(p, images);
}

at::Tensor classic_votes(const at::Tensor& images, int64_t bits, const ClassicConfig& config) {
  check_images(images, "images");
  int64_t capacity = classic_capacity(images.size(2), images.size(3));
  if (bits > capacity)
    throw std::invalid_argument("a " + std::to_string(bits) + "-bit key cannot be read from " +
                                std::to_string(images.size(2)) + "x" + std::to_string(images.size(3)) +
                                " images: they carry " + std::to_string(capacity) + " bits");
  auto p = to_planes(images, config);
  auto b = forward(p.yuv.select(1, p.channel).contiguous());
  auto c = carrier(b, config.transform);
  auto read = (at::fmod(c.magnitude, config.scale) > 0.5 * config.scale).to(at::kDouble);  // [N, B]
  const int64_t n = images.size(0), blocks = read.size(1);
  auto slot = at::arange(blocks, read.options().dtype(at::kLong)) % bits;
  auto sums = at::zeros({n, bits}, read.options()).index_add_(1, slot, read);
  auto counts = at::zeros({bits}, read.options()).index_add_(0, slot, at::ones({blocks}, read.options()));
  return (sums / counts).to(at::kFloat);
}

at::Tensor bit_accuracy(const at::Tensor& votes, const at::Tensor& key) {
  check_key(key);
  if (votes.size(1) != key.size(0))
    throw std::invalid_argument("votes for " + std::to_string(votes.size(1)) + " bits against a " +
                                std::to_string(key.size(0)) + "-bit key");
  // A tie (as many blocks say 0 as 1) counts as half right.
  auto k = key.to(votes.device()).to(at::kFloat).unsqueeze(0);
  auto decided = at::where(votes == 0.5, at::full_like(votes, 0.5), ((votes > 0.5).to(at::kFloat) == k).to(at::kFloat));
  return decided.mean(1);
}

}  // namespace watermark
