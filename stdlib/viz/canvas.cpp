#include "stdlib/viz/canvas.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include <stb/stb_easy_font.h>

namespace pipette::stdlib {

Canvas::Canvas(int64_t height, int64_t width, Rgb background) {
  pixels_ = at::empty({3, height, width}, at::kFloat);
  for (int64_t c = 0; c < 3; ++c) pixels_[c].fill_(background[static_cast<size_t>(c)]);
}

void Canvas::rect(double x0, double y0, double x1, double y1, Rgb colour) {
  auto clampx = [&](double v) { return std::clamp<int64_t>(static_cast<int64_t>(std::floor(v)), 0, width()); };
  auto clampy = [&](double v) { return std::clamp<int64_t>(static_cast<int64_t>(std::floor(v)), 0, height()); };
  int64_t a = clampx(std::min(x0, x1)), b = clampx(std::max(x0, x1)), c = clampy(std::min(y0, y1)),
          d = clampy(std::max(y0, y1));
  if (a >= b || c >= d) return;
  for (int64_t ch = 0; ch < 3; ++ch) pixels_[ch].slice(0, c, d).slice(1, a, b).fill_(colour[static_cast<size_t>(ch)]);
}

void Canvas::line(double x0, double y0, double x1, double y1, Rgb colour, double width) {
  // Stamps a square every half pixel along the segment: plain, but exact
  // enough for plots and needs no anti-aliasing library.
  double length = std::hypot(x1 - x0, y1 - y0);
  auto steps = static_cast<int64_t>(std::ceil(length * 2)) + 1;
  auto px = pixels_.accessor<float, 3>();
  double r = width / 2;
  int64_t w = this->width(), h = height();
  for (int64_t i = 0; i < steps; ++i) {
    double t = steps == 1 ? 0 : static_cast<double>(i) / static_cast<double>(steps - 1);
    double cx = x0 + t * (x1 - x0), cy = y0 + t * (y1 - y0);
    for (auto y = static_cast<int64_t>(std::floor(cy - r)); y <= static_cast<int64_t>(std::floor(cy + r)); ++y)
      for (auto x = static_cast<int64_t>(std::floor(cx - r)); x <= static_cast<int64_t>(std::floor(cx + r)); ++x)
        if (x >= 0 && y >= 0 && x < w && y < h)
          for (int64_t c = 0; c < 3; ++c) px[c][y][x] = colour[static_cast<size_t>(c)];
  }
}

void Canvas::text(double x, double y, const std::string& s, Rgb colour, int scale) {
  // stb_easy_font emits each glyph stroke as an axis-aligned quad (4 vertices
  // of 16 bytes: x, y, z as floats and an RGBA colour).
  std::vector<char> buffer(s.size() * 270 + 64);
  std::string copy = s;
  unsigned char rgba[4] = {0, 0, 0, 255};
  int quads = stb_easy_font_print(0, 0, copy.data(), rgba, buffer.data(), static_cast<int>(buffer.size()));
  for (int q = 0; q < quads; ++q) {
    const auto* v = reinterpret_cast<const float*>(buffer.data() + q * 64);
    double qx0 = v[0], qy0 = v[1], qx1 = v[8], qy1 = v[9];  // vertices 0 and 2 are opposite corners
    rect(x + qx0 * scale, y + qy0 * scale, x + qx1 * scale, y + qy1 * scale, colour);
  }
}

int Canvas::text_width(const std::string& s, int scale) {
  std::string copy = s;
  return stb_easy_font_width(copy.data()) * scale;
}

void Canvas::image(int64_t x, int64_t y, const at::Tensor& picture) {
  at::Tensor p = picture.detach().to(at::kCPU, at::kFloat).clamp(0, 1);
  if (p.dim() == 2) p = p.unsqueeze(0);
  if (p.size(0) == 1) p = p.expand({3, p.size(1), p.size(2)});
  int64_t h = std::min(p.size(1), height() - y), w = std::min(p.size(2), width() - x);
  if (h <= 0 || w <= 0) return;
  pixels_.slice(1, y, y + h).slice(2, x, x + w).copy_(p.slice(0, 0, 3).slice(1, 0, h).slice(2, 0, w));
}

}  // namespace pipette::stdlib
