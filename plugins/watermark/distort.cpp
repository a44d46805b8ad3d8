#include "distort.hpp"

#include <cmath>
#include <stdexcept>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#include <stb/stb_image.h>

namespace watermark {

namespace {

void need(bool ok, const std::string& message) {
  if (!ok) throw std::invalid_argument(message);
}

at::Tensor jpeg(const at::Tensor& images, double quality) {
  need(quality >= 1 && quality <= 100, "jpeg quality must be in [1, 100], got " + std::to_string(quality));
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  auto bytes = (images.detach().cpu().to(at::kFloat) * 255).round().clamp(0, 255).to(at::kByte).permute({0, 2, 3, 1}).contiguous();
  auto out = at::empty({n, h, w, c}, at::kByte);
  for (int64_t i = 0; i < n; ++i) {
    std::vector<unsigned char> file;
    auto sink = [](void* ctx, void* data, int size) {
      auto* f = static_cast<std::vector<unsigned char>*>(ctx);
      f->insert(f->end(), static_cast<unsigned char*>(data), static_cast<unsigned char*>(data) + size);
    };
    if (!stbi_write_jpg_to_func(sink, &file, static_cast<int>(w), static_cast<int>(h), static_cast<int>(c),
                                bytes[i].data_ptr<uint8_t>(), static_cast<int>(quality)))
      throw std::runtime_error("JPEG encoding failed");
    int rw = 0, rh = 0, rc = 0;
    unsigned char* px = stbi_load_from_memory(file.data(), static_cast<int>(file.size()), &rw, &rh, &rc, static_cast<int>(c));
    if (!px || rw != w || rh != h) throw std::runtime_error("JPEG decoding failed");
    std::memcpy(out[i].data_ptr<uint8_t>(), px, static_cast<size_t>(h * w * c));
    stbi_image_free(px);
  }
  return (out.permute({0, 3, 1, 2}).to(images.scalar_type()) / 255).to(images.device());
}

at::Tensor blur(const at::Tensor& x, double sigma) {
  need(sigma > 0, "blur sigma must be positive");
  int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
  need(radius < x.size(2) && radius < x.size(3), "blur sigma too large for these images");
  auto t = at::arange(-radius, radius + 1, x.options()).to(x.scalar_type());
  auto g = at::exp(-(t * t) / (2 * sigma * sigma));
  g = g / g.sum();
  const int64_t c = x.size(1), k = 2 * radius + 1;
  auto padded = at::reflection_pad2d(x, {radius, radius, radius, radius});
  auto rows = at::conv2d(padded, g.view({1, 1, 1, k}).expand({c, 1, 1, k}).contiguous(), at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, c);
  return at::conv2d(rows, g.view({1, 1, k, 1}).expand({c, 1, k, 1}).contiguous(), at::Tensor(), at::IntArrayRef{1, 1}, at::IntArrayRef{0, 0}, at::IntArrayRef{1, 1}, c);
}

at::Tensor grey(const at::Tensor& x) {
  if (x.size(1) == 1) return x;
  return (0.299 * x.select(1, 0) + 0.587 * x.select(1, 1) + 0.114 * x.select(1, 2)).unsqueeze(1);
}

at::Tensor resample(const at::Tensor& x, const at::Tensor& theta) {
  auto grid = at::affine_grid_generator(theta, x.sizes(), /*align_corners=*/false);
  return at::grid_sampler(x, grid, /*bilinear*/ 0, /*zeros*/ 0, /*align_corners=*/false);
}

at::Tensor rotate(const at::Tensor& x, double degrees) {
  double r = degrees * M_PI / 180.0;
  const double h = static_cast<double>(x.size(2)), w = static_cast<double>(x.size(3));
  // affine_grid works in [-1, 1] coordinates: undo the aspect ratio around the rotation.
  auto theta = at::tensor({std::cos(r), -std::sin(r) * h / w, 0.0, std::sin(r) * w / h, std::cos(r), 0.0},
                          x.options().dtype(x.scalar_type()))
                   .view({1, 2, 3})
                   .expand({x.size(0), 2, 3})
                   .contiguous();
  return resample(x, theta);
}

at::Tensor resize_to(const at::Tensor& x, int64_t h, int64_t w) {
  return at::upsample_bilinear2d(x, {h, w}, /*align_corners=*/false);
}

}  // namespace

const std::vector<std::string>& distortion_kinds() {
  static const std::vector<std::string> k = {"jpeg", "blur", "noise", "brightness", "contrast", "rotation", "crop", "resize"};
  return k;
}

at::Tensor distort(const at::Tensor& images, const std::string& kind, double strength, at::Generator gen) {
  const auto& x = images;
  if (kind == "jpeg") return jpeg(x, strength);
  if (kind == "blur") return blur(x, strength);
  if (kind == "noise") {
    need(strength >= 0, "noise standard deviation must be >= 0");
    return (x + strength * at::randn(x.sizes(), gen, x.options())).clamp(0, 1);
  }
  if (kind == "brightness") {
    need(strength >= 0, "brightness factor must be >= 0");
    return (x * strength).clamp(0, 1);
  }
  if (kind == "contrast") {
    need(strength >= 0, "contrast factor must be >= 0");
    auto mean = grey(x).mean({1, 2, 3}, /*keepdim=*/true);
    return (mean + strength * (x - mean)).clamp(0, 1);
  }
  if (kind == "rotation") return rotate(x, strength);
  if (kind == "crop") {
    need(strength > 0 && strength <= 1, "crop keeps a fraction of each side in (0, 1]");
    const int64_t h = x.size(2), w = x.size(3);
    int64_t ch = std::max<int64_t>(1, std::llround(h * strength)), cw = std::max<int64_t>(1, std::llround(w * strength));
    auto cut = x.slice(2, (h - ch) / 2, (h - ch) / 2 + ch).slice(3, (w - cw) / 2, (w - cw) / 2 + cw);
    return resize_to(cut, h, w).clamp(0, 1);
  }
  if (kind == "resize") {
    need(strength > 0 && strength <= 4, "resize scale must be in (0, 4]");
    const int64_t h = x.size(2), w = x.size(3);
    auto small = resize_to(x, std::max<int64_t>(1, std::llround(h * strength)), std::max<int64_t>(1, std::llround(w * strength)));
    return resize_to(small, h, w).clamp(0, 1);
  }
  std::string known;
  for (auto& k : distortion_kinds()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown distortion '" + kind + "' (" + known + ")");
}

}  // namespace watermark
