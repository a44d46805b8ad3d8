// viz.*: pictures of results.
#include <ATen/ATen.h>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "stdlib/core/arg_lists.hpp"
#include "stdlib/viz/canvas.hpp"
#include "stdlib/viz/image_maps.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Colour maps as control points over [0, 1], interpolated linearly in RGB.
// coolwarm: Moreland's diverging map; seismic: matplotlib's; viridis: five
// samples of matplotlib's.
const std::vector<Rgb>& colormap(const std::string& name) {
  static const std::vector<Rgb> coolwarm = {{0.230f, 0.299f, 0.754f}, {0.865f, 0.865f, 0.865f}, {0.706f, 0.016f, 0.150f}};
  static const std::vector<Rgb> seismic = {{0.0f, 0.0f, 0.3f}, {0.0f, 0.0f, 1.0f}, {1.0f, 1.0f, 1.0f},
                                           {1.0f, 0.0f, 0.0f}, {0.5f, 0.0f, 0.0f}};
  static const std::vector<Rgb> viridis = {{0.267f, 0.005f, 0.329f}, {0.229f, 0.322f, 0.546f}, {0.128f, 0.567f, 0.551f},
                                           {0.369f, 0.789f, 0.383f}, {0.993f, 0.906f, 0.144f}};
  static const std::vector<Rgb> gray = {{0.f, 0.f, 0.f}, {1.f, 1.f, 1.f}};
  if (name == "coolwarm") return coolwarm;
  if (name == "seismic") return seismic;
  if (name == "viridis") return viridis;
  return gray;
}

// u in [0, 1] [N, H, W] -> RGB [N, 3, H, W].
at::Tensor apply_colormap(const at::Tensor& u, const std::vector<Rgb>& points) {
  at::Tensor lut = at::empty({static_cast<int64_t>(points.size()), 3}, at::kFloat);
  for (size_t i = 0; i < points.size(); ++i)
    for (int c = 0; c < 3; ++c) lut[static_cast<int64_t>(i)][c] = points[i][static_cast<size_t>(c)];
  lut = lut.to(u.device());
  double segments = static_cast<double>(points.size() - 1);
  at::Tensor pos = u.clamp(0, 1) * segments;
  at::Tensor lo = pos.floor().clamp_max(segments - 1).to(at::kLong);
  at::Tensor frac = (pos - lo.to(pos.scalar_type())).unsqueeze(-1);
  auto pick = [&](const at::Tensor& i) {  // [N, H, W] indices -> [N, H, W, 3] colours
    std::vector<int64_t> shape(i.sizes().begin(), i.sizes().end());
    shape.push_back(3);
    return lut.index_select(0, i.flatten()).view(shape);
  };
  at::Tensor rgb = pick(lo) * (1 - frac) + pick(lo + 1) * frac;  // [N, H, W, 3]
  return rgb.permute({0, 3, 1, 2});
}

}  // namespace

void register_viz(OpLibrary& lib) {
  lib.define(
      OpSignature("viz.heatmap",
                  "Attributions over their images: the image in gray, the attribution in colour on top. Diverging "
                  "maps (coolwarm, seismic) show sign (red positive, blue negative), scaled per image by its largest "
                  "|attribution|; viridis and gray show magnitude. Save the result as .png: a batch becomes a grid.")
          .input("images", "tensor", "Images [N, C, H, W] (or [N, H, W]) in [0, 1]")
          .input("attributions", "tensor", "Attributions shaped like images (channels are summed)")
          .param("cmap", "string", Operand::string("coolwarm"), "Colour map")
          .choices({"coolwarm", "seismic", "viridis", "gray"})
          .param("alpha", "float", Operand::real(0.6), "Opacity of the colours over the image")
          .range(0.0, 1.0)
          .param("max_images", "int", Operand::integer(16), "Draw at most this many (the first ones)")
          .range(1)
          .param("scale", "int", Operand::integer(0), "Enlarge pixels by this factor; 0 = so the side is >= 112 px")
          .range(0, 32)
          .returns("tensor", "RGB images [N, 3, H*scale, W*scale] in [0, 1]"),
      [](const OpArgs& a, OpContext&) {
        auto [img, attr] = images_and_maps(a, at::kFloat);
        int64_t n = std::min(img.size(0), a.int_("max_images"));
        img = img.slice(0, 0, n);
        at::Tensor heat = attr.slice(0, 0, n).sum(1);  // [N, H, W]
        std::string cmap = a.string("cmap");
        bool diverging = cmap == "coolwarm" || cmap == "seismic";
        at::Tensor scaled = diverging ? heat : heat.abs();
        at::Tensor top = scaled.abs().flatten(1).amax(1).clamp_min(1e-12).view({n, 1, 1});
        at::Tensor u = diverging ? (scaled / top + 1) / 2 : scaled / top;
        at::Tensor colour = apply_colormap(u, colormap(cmap));
        at::Tensor gray = img.mean(1, true).clamp(0, 1).expand({n, 3, img.size(2), img.size(3)});
        // Opacity grows with |attribution| (square root: faint evidence stays
        // visible), so where there is none the plain image shows through.
        at::Tensor alpha = (scaled.abs() / top).sqrt().unsqueeze(1) * a.float_("alpha");
        at::Tensor out = gray * (1 - alpha) + colour * alpha;
        int64_t scale = a.int_("scale");
        if (scale == 0) scale = enlargement(std::min(img.size(2), img.size(3)), 112);
        if (scale > 1) out = out.repeat_interleave(scale, 2).repeat_interleave(scale, 3);
        return Value(out.contiguous());
      });

  // A matrix as coloured cells: localize.contributions' block x timestep
  // scores, or any [rows, cols] table of numbers.
  lib.define(
      OpSignature("viz.matrix",
                  "A matrix [R, K] as a heatmap of cells with a colour bar, row labels and axis labels (e.g. "
                  "localize.contributions' block x step matrix). Save the result as .png.")
          .input("matrix", "tensor", "Values [R, K] (a [K] vector is one row)")
          .optional("row_labels", "list<string>", "One per row; none = 0 .. R-1")
          .param("title", "string", Operand::string(""), "Title above the cells")
          .param("xlabel", "string", Operand::string(""), "Label under the cells")
          .param("ylabel", "string", Operand::string(""), "Label left of the row labels")
          .param("cmap", "string", Operand::string("viridis"), "Colour map")
          .choices({"coolwarm", "seismic", "viridis", "gray"})
          .param("cell", "int", Operand::integer(0), "Cell side in pixels; 0 = so the cells span >= 320 px")
          .range(0, 256)
          .returns("tensor", "RGB image [3, H, W] in [0, 1]"),
      [](const OpArgs& a, OpContext&) {
        at::Tensor m = a.tensor("matrix").detach().to(at::kCPU, at::kDouble);
        if (m.dim() == 1) m = m.unsqueeze(0);
        if (m.dim() != 2 || m.numel() == 0)
          throw OpError("viz.matrix draws a matrix [R, K], found " + describe(Value(m)));
        if (!at::isfinite(m).all().item<bool>())
          throw OpError("the matrix holds NaN or infinite values: " + describe(Value(m)));
        int64_t r = m.size(0), k = m.size(1);
        std::vector<std::string> rows = string_list(a, "row_labels");
        if (!rows.empty() && static_cast<int64_t>(rows.size()) != r)
          throw OpError(fmt::format("{} row labels for {} rows", rows.size(), r));
        for (int64_t i = static_cast<int64_t>(rows.size()); i < r; ++i) rows.push_back(std::to_string(i));
        std::string cmap = a.string("cmap");
        bool diverging = cmap == "coolwarm" || cmap == "seismic";
        double lo = m.min().item<double>(), hi = m.max().item<double>();
        if (diverging) hi = std::max(std::abs(lo), std::abs(hi)), lo = -hi;
        if (hi <= lo) hi = lo + 1;
        at::Tensor u = ((m - lo) / (hi - lo)).to(at::kFloat).unsqueeze(0);  // [1, R, K]
        at::Tensor cells = apply_colormap(u, colormap(cmap))[0];           // [3, R, K]
        int64_t cell = a.int_("cell");
        if (cell == 0) cell = std::max<int64_t>(4, std::min<int64_t>(64, (320 + std::max(r, k) - 1) / std::max(r, k)));
        cells = cells.repeat_interleave(cell, 1).repeat_interleave(cell, 2);
        int margin = 8, th = Canvas::text_height(1);
        int label_w = 0;
        for (const auto& s : rows) label_w = std::max(label_w, Canvas::text_width(s));
        std::string ylabel = a.string("ylabel"), xlabel = a.string("xlabel"), title = a.string("title");
        int64_t left = margin + (ylabel.empty() ? 0 : Canvas::text_width(ylabel) + margin) + label_w + 4;
        int64_t top = margin + (title.empty() ? 0 : th + margin);
        int64_t bar = 12, bar_gap = 12;
        std::string lo_s = fmt::format("{:.3g}", lo), hi_s = fmt::format("{:.3g}", hi);
        int64_t bar_text = std::max(Canvas::text_width(lo_s), Canvas::text_width(hi_s));
        int64_t width = left + k * cell + bar_gap + bar + 4 + bar_text + margin;
        int64_t height = top + r * cell + 4 + th + (xlabel.empty() ? 0 : th + 4) + margin;
        height = std::max<int64_t>(height, top + 2 * th + margin);
        Canvas canvas(height, width);
        if (!title.empty()) canvas.text(static_cast<double>(left), margin, title);
        canvas.image(left, top, cells);
        for (int64_t i = 0; i < r; ++i)
          canvas.text(static_cast<double>(left - 4 - Canvas::text_width(rows[static_cast<size_t>(i)])),
                      static_cast<double>(top + i * cell + (cell - th) / 2), rows[static_cast<size_t>(i)]);
        if (!ylabel.empty())
          canvas.text(margin, static_cast<double>(top + (r * cell - th) / 2), ylabel);
        // Column ticks: the first and the last column's index.
        canvas.text(static_cast<double>(left), static_cast<double>(top + r * cell + 4), "0");
        std::string last = std::to_string(k - 1);
        canvas.text(static_cast<double>(left + k * cell - Canvas::text_width(last)), static_cast<double>(top + r * cell + 4), last);
        if (!xlabel.empty())
          canvas.text(static_cast<double>(left + (k * cell - Canvas::text_width(xlabel)) / 2),
                      static_cast<double>(top + r * cell + 4 + th + 4), xlabel);
        // The colour bar: high at the top.
        int64_t bx = left + k * cell + bar_gap, span = std::max<int64_t>(r * cell, 2 * th);
        at::Tensor ramp = at::linspace(1, 0, span, at::kFloat).view({1, span, 1}).expand({1, span, bar}).contiguous();
        canvas.image(bx, top, apply_colormap(ramp, colormap(cmap))[0]);
        canvas.text(static_cast<double>(bx + bar + 4), static_cast<double>(top), hi_s);
        canvas.text(static_cast<double>(bx + bar + 4), static_cast<double>(top + span - th), lo_s);
        return Value(canvas.pixels());
      });
}

}  // namespace pipette::stdlib
