// Scaling with LibTorch's area pooling, which averages without aliasing (a
// nearest-pixel scale of a heatmap drops the very details a thumbnail should
// hint at); colours averaged weighted by their alpha, so that the colour of
// transparent pixels does not bleed into the edges.
#include "engine/png_thumbnail.hpp"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "engine/image_decode.hpp"
#include "engine/value_io.hpp"

namespace pipette {

std::optional<Thumbnail> png_thumbnail(const std::string& png, int max_side) {
  auto info = image_info(png);
  if (!info || std::max(info->width, info->height) <= max_side) return std::nullopt;
  at::Tensor hwc;
  try {
    // 64 MiB decoded (16 megapixels of RGBA) is plenty for a picture a run saved; a
    // file that claims more is linked, not thumbnailed.
    hwc = decode_image(png, 0, uint64_t{64} << 20, "picture");
  } catch (const std::exception&) {
    return std::nullopt;
  }
  int64_t h = hwc.size(0), w = hwc.size(1);
  double scale = static_cast<double>(max_side) / static_cast<double>(std::max(w, h));
  int64_t th = std::max<int64_t>(1, std::lround(h * scale)), tw = std::max<int64_t>(1, std::lround(w * scale));
  at::Tensor chw = hwc.permute({2, 0, 1}).to(at::kFloat).div_(255);
  hwc = at::Tensor();
  // Grey with alpha as RGBA: the PNG writer has no two-channel layout.
  if (chw.size(0) == 2) chw = at::cat({chw.narrow(0, 0, 1).expand({3, h, w}), chw.narrow(0, 1, 1)});
  bool alpha = chw.size(0) == 4;
  at::Tensor small;
  if (alpha) {
    at::Tensor a = chw.narrow(0, 3, 1);
    at::Tensor premultiplied = at::cat({chw.narrow(0, 0, 3) * a, a}).unsqueeze(0);
    at::Tensor pooled = at::adaptive_avg_pool2d(premultiplied, {th, tw}).squeeze(0);
    at::Tensor pa = pooled.narrow(0, 3, 1);
    small = at::cat({pooled.narrow(0, 0, 3) / pa.clamp_min(1e-6), pa});
  } else {
    small = at::adaptive_avg_pool2d(chw.unsqueeze(0), {th, tw}).squeeze(0);
  }
  std::string png_bytes = tensor_to_png(small);
  bool opaque = !alpha || small[3].min().item<float>() >= 1.0f;
  if (opaque) {
    std::string jpeg = tensor_to_jpeg(small.narrow(0, 0, std::min<int64_t>(small.size(0), 3)), 85);
    if (2 * jpeg.size() < png_bytes.size()) return Thumbnail{std::move(jpeg), "image/jpeg"};
  }
  return Thumbnail{std::move(png_bytes), "image/png"};
}

}  // namespace pipette
