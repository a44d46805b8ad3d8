// PNG files (and JPEG thumbnails) from image tensors, with stb_image_write (Debian's libstb-dev).
#include <ATen/ATen.h>

#include <cmath>

#include "engine/op_impl.hpp"
#include "engine/value_io.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

namespace pipette {

namespace {

// [C, H, W] with C in {1, 3, 4}, or [H, W], as 8-bit HWC.
at::Tensor to_hwc_bytes(at::Tensor t) {
  if (t.dim() == 2) t = t.unsqueeze(0);
  if (t.is_floating_point()) t = t.clamp(0, 1).mul(255).round();
  return t.to(at::kByte).permute({1, 2, 0}).contiguous();
}

// A batch [N, C, H, W] as one grid image, 2 white pixels between cells.
at::Tensor grid(const at::Tensor& batch) {
  int64_t n = batch.size(0), c = batch.size(1), h = batch.size(2), w = batch.size(3);
  auto cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
  int64_t rows = (n + cols - 1) / cols, pad = 2;
  double white = batch.is_floating_point() ? 1.0 : 255.0;
  at::Tensor out = at::full({c, rows * (h + pad) - pad, cols * (w + pad) - pad}, white, batch.options());
  for (int64_t i = 0; i < n; ++i) {
    int64_t r = i / cols, k = i % cols;
    out.slice(1, r * (h + pad), r * (h + pad) + h).slice(2, k * (w + pad), k * (w + pad) + w).copy_(batch[i]);
  }
  return out;
}

}  // namespace

std::string tensor_to_png(const at::Tensor& image) {
  at::Tensor t = image.detach().to(at::kCPU);
  if (t.dim() == 4) t = grid(t);
  if (t.dim() == 3 && t.size(0) != 1 && t.size(0) != 3 && t.size(0) != 4 && (t.size(2) == 1 || t.size(2) == 3))
    t = t.permute({2, 0, 1});  // HWC as PIL and matplotlib write it
  if (t.dim() < 2 || t.dim() > 3 || (t.dim() == 3 && t.size(0) != 1 && t.size(0) != 3 && t.size(0) != 4))
    throw OpError("a PNG needs an image [H, W], [C, H, W] with 1, 3 or 4 channels, or a batch [N, C, H, W]; found " +
                  describe(Value(image)));
  at::Tensor hwc = to_hwc_bytes(t);
  std::string out;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1)), c = static_cast<int>(hwc.size(2));
  if (!stbi_write_png_to_func(sink, &out, w, h, c, hwc.data_ptr(), w * c))
    throw OpError("could not encode the PNG");
  return out;
}

std::string tensor_to_jpeg(const at::Tensor& image, int quality) {
  at::Tensor t = image.detach().to(at::kCPU);
  if (t.dim() != 3 || (t.size(0) != 1 && t.size(0) != 3))
    throw OpError("a JPEG needs an image [C, H, W] with 1 or 3 channels; found " + describe(Value(image)));
  at::Tensor hwc = to_hwc_bytes(t);
  std::string out;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), static_cast<size_t>(size));
  };
  int h = static_cast<int>(hwc.size(0)), w = static_cast<int>(hwc.size(1)), c = static_cast<int>(hwc.size(2));
  if (!stbi_write_jpg_to_func(sink, &out, w, h, c, hwc.data_ptr(), quality)) throw OpError("could not encode the JPEG");
  return out;
}

}  // namespace pipette
