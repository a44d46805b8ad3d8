// A small RGB raster for figures (grids with captions, curve plots): rectangles,
// lines, text in stb_easy_font's bitmap font, and pasted images.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <string>

namespace pipette::stdlib {

using Rgb = std::array<float, 3>;

// The smallest whole factor that enlarges pixels until the shorter side
// (`side` pixels) is at least `at_least` pixels; 1 when it already is.
inline int64_t enlargement(int64_t side, int64_t at_least) {
  return side >= at_least ? 1 : (at_least + side - 1) / side;
}

class Canvas {
 public:
  Canvas(int64_t height, int64_t width, Rgb background = {1.f, 1.f, 1.f});

  void rect(double x0, double y0, double x1, double y1, Rgb colour);
  void line(double x0, double y0, double x1, double y1, Rgb colour, double width = 1.5);
  // Text with its top-left corner at (x, y), each font pixel `scale` pixels.
  void text(double x, double y, const std::string& s, Rgb colour = {0.f, 0.f, 0.f}, int scale = 1);
  static int text_width(const std::string& s, int scale = 1);
  static int text_height(int scale = 1) { return 7 * scale; }
  // An image [C, h, w] (C = 1 or 3, values in [0, 1]) with its top-left at (x, y).
  void image(int64_t x, int64_t y, const at::Tensor& picture);

  int64_t height() const { return pixels_.size(1); }
  int64_t width() const { return pixels_.size(2); }
  const at::Tensor& pixels() const { return pixels_; }  // [3, H, W] float in [0, 1]

 private:
  at::Tensor pixels_;
};

}  // namespace pipette::stdlib
