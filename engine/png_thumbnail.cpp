// Decoding with stb_image (Debian's libstb-dev), PNG only; scaling with
// LibTorch's area pooling, which averages without aliasing (a nearest-pixel
// scale of a heatmap drops the very details a thumbnail should hint at).
#include "engine/png_thumbnail.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "engine/value_io.hpp"

#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#include <stb/stb_image.h>

namespace pipette {

std::optional<Thumbnail> png_thumbnail(const std::string& png, int max_side) {
  int w = 0, h = 0, channels = 0;
  auto* bytes = reinterpret_cast<const stbi_uc*>(png.data());
  if (!stbi_info_from_memory(bytes, static_cast<int>(png.size()), &w, &h, &channels)) return std::nullopt;
  if (std::max(w, h) <= max_side) return std::nullopt;
  stbi_uc* pixels = stbi_load_from_memory(bytes, static_cast<int>(png.size()), &w, &h, &channels, 0);
  if (!pixels) return std::nullopt;
  at::Tensor hwc = at::from_blob(pixels, {h, w, channels}, at::kByte).clone();
  stbi_image_free(pixels);
  double scale = static_cast<double>(max_side) / std::max(w, h);
  int64_t th = std::max<int64_t>(1, std::lround(h * scale)), tw = std::max<int64_t>(1, std::lround(w * scale));
  at::Tensor chw = hwc.permute({2, 0, 1}).to(at::kFloat).div(255).unsqueeze(0);
  at::Tensor small = at::adaptive_avg_pool2d(chw, {th, tw}).squeeze(0);
  // Grey with alpha has no PNG writer layout of its own here: drop to grey.
  if (small.size(0) == 2) small = small.narrow(0, 0, 1);
  std::string png_bytes = tensor_to_png(small);
  bool opaque = small.size(0) != 4 || small[3].min().item<float>() >= 1.0f;
  if (opaque) {
    std::string jpeg = tensor_to_jpeg(small.narrow(0, 0, std::min<int64_t>(small.size(0), 3)), 85);
    if (2 * jpeg.size() < png_bytes.size()) return Thumbnail{std::move(jpeg), "image/jpeg"};
  }
  return Thumbnail{std::move(png_bytes), "image/png"};
}

}  // namespace pipette
