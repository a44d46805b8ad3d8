#include "image_tags.hpp"

#include <stdexcept>

namespace prime {

namespace {

using at::indexing::Slice;

// Sobel gradient magnitude of luminance [N, 1, H, W] (zero padding).
at::Tensor gradient_magnitude(const at::Tensor& lum) {
  auto opts = lum.options();
  at::Tensor kx = at::tensor({-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0}, opts).view({1, 1, 3, 3}) / 8.0;
  at::Tensor ky = kx.transpose(2, 3).contiguous();
  at::Tensor gx = at::conv2d(lum, kx, {}, 1, 1), gy = at::conv2d(lum, ky, {}, 1, 1);
  return (gx * gx + gy * gy).sqrt();
}

// Mean of x over the pixels where mask is set; over every pixel where none is.
at::Tensor masked_mean(const at::Tensor& x, const at::Tensor& mask) {
  at::Tensor m = mask.to(x.scalar_type());
  at::Tensor count = m.sum({1, 2, 3});
  at::Tensor mean_in = (x * m).sum({1, 2, 3}) / count.clamp_min(1);
  return at::where(count > 0, mean_in, x.mean({1, 2, 3}));
}

}  // namespace

const std::vector<ImageProperty>& image_properties(bool colour) {
  static const std::vector<ImageProperty> grey{
      {"brightness", "dark", "bright", "mean luminance of the object (the pixels that differ from the border)"},
      {"contrast", "low_contrast", "high_contrast", "standard deviation of luminance over the image"},
      {"size", "small", "large", "fraction of the image the object covers"},
      {"aspect", "tall", "wide", "width / height of the object's bounding box"},
      {"edges", "smooth", "textured", "mean gradient magnitude (Sobel) over the object"},
      {"symmetry", "asymmetric", "symmetric", "how closely the image matches its left-right mirror image"},
  };
  static const std::vector<ImageProperty> rgb = [] {
    auto v = grey;
    v.push_back({"saturation", "muted", "colorful", "mean max(R, G, B) - min(R, G, B)"});
    return v;
  }();
  return colour ? rgb : grey;
}

namespace {

at::Tensor measure_block(const at::Tensor& images) {
  at::Tensor x = images.to(at::kFloat);
  int64_t n = x.size(0), h = x.size(2), w = x.size(3);
  at::Tensor lum = x.size(1) == 3
                       ? (0.299 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2)).unsqueeze(1)
                       : x;
  // The background is what the border shows; the object is what differs from it.
  at::Tensor border = at::cat({lum.index({Slice(), 0, 0}), lum.index({Slice(), 0, h - 1}),
                               lum.index({Slice(), 0, Slice(), 0}), lum.index({Slice(), 0, Slice(), w - 1})},
                              1);
  at::Tensor background = std::get<0>(border.median(1)).view({n, 1, 1, 1});
  at::Tensor object = (lum - background).abs() > 0.1;

  at::Tensor brightness = masked_mean(lum, object);
  at::Tensor contrast = lum.flatten(1).std(1);
  at::Tensor size = object.to(at::kFloat).mean({1, 2, 3});
  // Bounding box of the object: the rows and columns where it has any pixel.
  at::Tensor rows = object.any(3).view({n, h}), cols = object.any(2).view({n, w});
  auto extent = [](const at::Tensor& any) {
    int64_t len = any.size(1);
    at::Tensor idx = at::arange(len, any.options().dtype(at::kFloat));
    at::Tensor first = at::where(any, idx, at::full_like(idx, static_cast<double>(len))).amin(1);
    at::Tensor last = at::where(any, idx, at::full_like(idx, -1.0)).amax(1);
    return (last - first + 1).clamp_min(0);
  };
  at::Tensor height = extent(rows), width = extent(cols);
  at::Tensor aspect = at::where(height > 0, (width.clamp_min(1) / height.clamp_min(1)).log(), at::zeros_like(height));
  at::Tensor edges = masked_mean(gradient_magnitude(lum), object);
  at::Tensor mirror_gap = (lum - lum.flip(3)).abs().mean({1, 2, 3});
  at::Tensor spread = (lum - lum.mean({1, 2, 3}, true)).abs().mean({1, 2, 3});
  at::Tensor symmetry = -(mirror_gap / (spread + 1e-6));
  std::vector<at::Tensor> columns{brightness, contrast, size, aspect, edges, symmetry};
  if (x.size(1) == 3) columns.push_back((std::get<0>(x.max(1)) - std::get<0>(x.min(1))).mean({1, 2}));
  return at::stack(columns, 1).to(at::kDouble);
}

}  // namespace

at::Tensor image_measurements(const at::Tensor& images) {
  if (images.dim() != 4 || (images.size(1) != 1 && images.size(1) != 3))
    throw std::invalid_argument("images must be [N, C, H, W] with 1 or 3 channels");
  // Blocks of images keep the temporaries (a dozen per image) small and in cache.
  int64_t per_image = images[0].numel(), block = std::max<int64_t>(1, (1 << 18) / std::max<int64_t>(per_image, 1));
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < images.size(0); i += block)
    parts.push_back(measure_block(images.narrow(0, i, std::min(block, images.size(0) - i))));
  return at::cat(parts, 0);
}

at::Tensor quantile_cuts(const at::Tensor& measurements, double fraction) {
  at::Tensor q = at::tensor({fraction, 1.0 - fraction}, measurements.options());
  return at::quantile(measurements, q, 0).t().contiguous();  // [P, 2]
}

at::Tensor cut(const at::Tensor& measurements, const at::Tensor& cuts) {
  at::Tensor low = measurements < cuts.select(1, 0).unsqueeze(0);
  at::Tensor high = measurements > cuts.select(1, 1).unsqueeze(0);
  return at::stack({low, high}, 2).flatten(1);
}

}  // namespace prime
