// viz.grid and viz.curve: figures a researcher looks at, with captions and axes.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <cmath>
#include <fstream>

#include "engine/html_page.hpp"
#include "engine/value_io.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/viz/canvas.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Images or curves for drawing: on the CPU, as float.
std::vector<at::Tensor> drawable(const OpArgs& a, const std::string& name) {
  const Value& v = a[name];
  // A list of numbers (a table's column: localize.locogen's scores) is one curve.
  if (v.isList() && !v.toListRef().empty() && (v.toListRef()[0].isDouble() || v.toListRef()[0].isInt())) {
    std::vector<double> xs;
    for (const auto& item : v.toListRef()) xs.push_back(item.isDouble() ? item.toDouble() : static_cast<double>(item.toInt()));
    return {at::tensor(xs, at::kDouble).to(at::kFloat)};
  }
  std::vector<at::Tensor> out = tensor_list(a, name);
  for (auto& t : out) t = t.detach().to(at::kCPU, at::kFloat);
  return out;
}

// Images [N, C, H, W], [C, H, W] or [H, W] as a list of [C, H, W].
std::vector<at::Tensor> cells_of(at::Tensor t) {
  if (t.dim() == 2) t = t.unsqueeze(0);
  if (t.dim() == 3) t = t.unsqueeze(0);
  if (t.dim() != 4 || (t.size(1) != 1 && t.size(1) != 3))
    throw OpError("viz.grid draws images [N, C, H, W] with 1 or 3 channels; found " + describe(Value(t)));
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(t[i]);
  return out;
}

// Matplotlib's tab10, for curves.
const std::vector<Rgb>& palette() {
  static const std::vector<Rgb> p = {{0.122f, 0.467f, 0.706f}, {1.000f, 0.498f, 0.055f}, {0.173f, 0.627f, 0.173f},
                                     {0.839f, 0.153f, 0.157f}, {0.580f, 0.404f, 0.741f}, {0.549f, 0.337f, 0.294f},
                                     {0.890f, 0.467f, 0.761f}, {0.498f, 0.498f, 0.498f}, {0.737f, 0.741f, 0.133f},
                                     {0.090f, 0.745f, 0.812f}};
  return p;
}

std::string hex(const Rgb& c) {
  auto b = [](float v) { return static_cast<int>(std::lround(std::clamp(v, 0.f, 1.f) * 255)); };
  return fmt::format("#{:02x}{:02x}{:02x}", b(c[0]), b(c[1]), b(c[2]));
}


struct Plot {
  std::vector<at::Tensor> curves;  // each [K]: the values
  std::vector<at::Tensor> xs;      // each [K]: where they are (by default 0, 1/(K-1), ..., 1)
  std::vector<std::string> labels;
  std::string title, xlabel, ylabel;
  double xmin = 0, xmax = 1, ymin = 0, ymax = 1;
};

// Layout shared by the PNG and the SVG: plot area and value -> pixel maps.
struct Frame {
  double left = 64, top = 40, width = 480, height = 300;
  double total_width() const { return left + width + 170; }
  double total_height() const { return top + height + 56; }
  double px(double x, const Plot& p) const { return left + (x - p.xmin) / (p.xmax - p.xmin) * width; }
  double py(double y, const Plot& p) const { return top + height - (y - p.ymin) / (p.ymax - p.ymin) * height; }
};

std::string svg_of(const Plot& p) {
  Frame f;
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{:.0f}\" height=\"{:.0f}\" font-family=\"sans-serif\" "
      "font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      f.total_width(), f.total_height());
  s += fmt::format("<text x=\"{:.1f}\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
                   f.left + f.width / 2, html_escape(p.title));
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n", f.left,
                   f.top, f.width, f.height);
  for (int i = 0; i <= 4; ++i) {
    double v = i / 4.0, xv = p.xmin + v * (p.xmax - p.xmin), yv = p.ymin + v * (p.ymax - p.ymin);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{:.2f}</text>\n", f.px(xv, p),
                     f.top + f.height + 16, xv);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\">{:.2f}</text>\n", f.left - 6,
                     f.py(yv, p) + 4, yv);
  }
  s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", f.left + f.width / 2,
                   f.top + f.height + 40, html_escape(p.xlabel));
  s += fmt::format("<text transform=\"translate(16 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                   f.top + f.height / 2, html_escape(p.ylabel));
  for (size_t c = 0; c < p.curves.size(); ++c) {
    const at::Tensor &y = p.curves[c], &x = p.xs[c];
    std::string points;
    for (int64_t i = 0; i < y.size(0); ++i)
      points += fmt::format("{:.2f},{:.2f} ", f.px(x[i].item<double>(), p), f.py(y[i].item<double>(), p));
    std::string colour = hex(palette()[c % palette().size()]);
    s += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>\n", colour, points);
    double ly = f.top + 12 + 18.0 * static_cast<double>(c);
    s += fmt::format("<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" stroke-width=\"2\"/>\n",
                     f.left + f.width + 12, ly - 4, f.left + f.width + 32, ly - 4, colour);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", f.left + f.width + 38, ly, html_escape(p.labels[c]));
  }
  return s + "</svg>\n";
}

at::Tensor png_of(const Plot& p) {
  Frame f;
  Canvas c(static_cast<int64_t>(f.total_height()), static_cast<int64_t>(f.total_width()));
  Rgb black{0, 0, 0}, grey{0.85f, 0.85f, 0.85f};
  c.text(f.left + f.width / 2 - Canvas::text_width(p.title, 2) / 2.0, 10, p.title, black, 2);
  for (int i = 0; i <= 4; ++i) {
    double v = i / 4.0, xv = p.xmin + v * (p.xmax - p.xmin), yv = p.ymin + v * (p.ymax - p.ymin);
    c.line(f.px(xv, p), f.top, f.px(xv, p), f.top + f.height, grey, 1);
    c.line(f.left, f.py(yv, p), f.left + f.width, f.py(yv, p), grey, 1);
    std::string xs = fmt::format("{:.2f}", xv), ys = fmt::format("{:.2f}", yv);
    c.text(f.px(xv, p) - Canvas::text_width(xs) / 2.0, f.top + f.height + 6, xs);
    c.text(f.left - 6 - Canvas::text_width(ys), f.py(yv, p) - 3, ys);
  }
  c.text(f.left + f.width / 2 - Canvas::text_width(p.xlabel) / 2.0, f.top + f.height + 26, p.xlabel);
  c.text(4, f.top - 16, p.ylabel);
  for (size_t k = 0; k < p.curves.size(); ++k) {
    const at::Tensor &y = p.curves[k], &x = p.xs[k];
    Rgb colour = palette()[k % palette().size()];
    for (int64_t i = 1; i < y.size(0); ++i)
      c.line(f.px(x[i - 1].item<double>(), p), f.py(y[i - 1].item<double>(), p), f.px(x[i].item<double>(), p),
             f.py(y[i].item<double>(), p), colour, 2);
    double ly = f.top + 8 + 18.0 * static_cast<double>(k);
    c.line(f.left + f.width + 12, ly, f.left + f.width + 32, ly, colour, 2);
    c.text(f.left + f.width + 38, ly - 3, p.labels[k]);
  }
  // The frame last, over the grid lines.
  for (auto [x0, y0, x1, y1] : {std::array<double, 4>{f.left, f.top, f.left + f.width, f.top},
                                std::array<double, 4>{f.left, f.top + f.height, f.left + f.width, f.top + f.height},
                                std::array<double, 4>{f.left, f.top, f.left, f.top + f.height},
                                std::array<double, 4>{f.left + f.width, f.top, f.left + f.width, f.top + f.height}})
    c.line(x0, y0, x1, y1, black, 1);
  return c.pixels();
}

}  // namespace

void register_viz_figures(OpLibrary& lib) {
  lib.define(
      OpSignature("viz.grid",
                  "Many images in one picture with captions: a batch [N, C, H, W] laid out in `cols` columns with "
                  "a caption under each image, or a list of batches, one row each (e.g. the heatmaps of several "
                  "methods), each row titled by its caption. Save the result as .png.")
          .input("images", "tensor|list<tensor>", "A batch of images in [0, 1], or a list of batches (rows)")
          .optional("captions", "list<string>", "One per image (a batch) or one per row (a list)")
          .param("cols", "int", Operand::integer(0), "Columns for a batch; 0 = a near-square grid")
          .range(0)
          .param("max_images", "int", Operand::integer(16), "Images per row (a list) or in all (a batch)")
          .range(1)
          .returns("tensor", "RGB image [3, H, W] in [0, 1]"),
      [](const OpArgs& a, OpContext&) {
        std::vector<at::Tensor> batches = drawable(a, "images");
        std::vector<std::string> captions = string_list(a, "captions");
        bool rows_given = a["images"].isList();
        int64_t max_images = a.int_("max_images");
        std::vector<std::vector<at::Tensor>> rows;
        std::vector<std::string> cell_captions, row_titles;
        if (rows_given) {
          for (auto& b : batches) {
            auto cells = cells_of(b);
            cells.resize(std::min<size_t>(cells.size(), static_cast<size_t>(max_images)));
            rows.push_back(cells);
          }
          row_titles = captions;
        } else {
          auto cells = cells_of(batches[0]);
          cells.resize(std::min<size_t>(cells.size(), static_cast<size_t>(max_images)));
          int64_t n = static_cast<int64_t>(cells.size());
          int64_t cols = a.int_("cols") > 0 ? a.int_("cols")
                                            : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(n))));
          for (int64_t i = 0; i < n; i += cols)
            rows.emplace_back(cells.begin() + i, cells.begin() + std::min(n, i + cols));
          cell_captions = captions;
        }
        if (rows.empty() || rows[0].empty()) throw OpError("viz.grid has no images to draw");
        int64_t h = 0, w = 0;
        size_t cols = 0;
        for (auto& r : rows) {
          cols = std::max(cols, r.size());
          for (auto& img : r) h = std::max(h, img.size(1)), w = std::max(w, img.size(2));
        }
        // Small images are enlarged so captions fit under them.
        int64_t scale = enlargement(std::min(h, w), 96);
        h *= scale, w *= scale;
        int64_t gap = 6, caption = cell_captions.empty() ? 0 : 14, title = row_titles.empty() ? 0 : 16;
        int64_t cell_h = h + caption + gap, width = static_cast<int64_t>(cols) * (w + gap) + gap;
        Canvas canvas(static_cast<int64_t>(rows.size()) * (cell_h + title) + gap, width);
        size_t k = 0;
        for (size_t r = 0; r < rows.size(); ++r) {
          int64_t y = gap + static_cast<int64_t>(r) * (cell_h + title);
          if (r < row_titles.size()) canvas.text(gap, y + 2, row_titles[r], {0, 0, 0}, 1);
          for (size_t i = 0; i < rows[r].size(); ++i, ++k) {
            at::Tensor img = rows[r][i];
            if (scale > 1) img = img.repeat_interleave(scale, 1).repeat_interleave(scale, 2);
            int64_t x = gap + static_cast<int64_t>(i) * (w + gap);
            canvas.image(x, y + title, img);
            if (k < cell_captions.size()) {
              const std::string& text = cell_captions[k];
              canvas.text(x + (w - Canvas::text_width(text)) / 2.0, y + title + h + 3, text);
            }
          }
        }
        return Value(canvas.pixels());
      });

  lib.define(
      OpSignature("viz.curve",
                  "Curves on shared axes, written as .svg (vector; opens in a browser) or .png: e.g. deletion or "
                  "insertion curves of several methods (metric.flipping_curve). A curve [K] is drawn over x in "
                  "[0, 1], or over its own X (e.g. a trade-off curve: one error against another); a batch [N, K] is "
                  "drawn as its mean.")
          .input("curves", "tensor|list<tensor>|list<float>|list<int>", "One curve (a tensor, or a list of numbers), or a list of curves")
          .input("path", "string", "File to write, .svg or .png, relative to the output directory")
          .output_path()
          .optional("labels", "list<string>", "Legend entries, one per curve")
          .optional("x", "tensor|list<tensor>|list<float>|list<int>",
                    "x of each point: one [K] (a tensor or a list of numbers) for all curves, or one per curve")
          .param("title", "string", Operand::string(""), "Title above the plot")
          .param("xlabel", "string", Operand::string("fraction of features"), "Label of the x axis")
          .param("ylabel", "string", Operand::string("probability of the target"), "Label of the y axis")
          .side_effects()
          .returns("string", "The path written, relative to the output directory"),
      [](const OpArgs& a, OpContext& ctx) {
        Plot p;
        for (auto& t : drawable(a, "curves")) {
          at::Tensor c = t.dim() == 2 ? t.mean(0) : t.flatten();
          if (c.numel() < 1) throw OpError("viz.curve was given an empty curve");
          p.curves.push_back(c.to(at::kDouble));
        }
        std::vector<at::Tensor> xs = a.is_none("x") ? std::vector<at::Tensor>{} : drawable(a, "x");
        if (xs.size() > 1 && xs.size() != p.curves.size())
          throw OpError(fmt::format("x has {} tensors for {} curves: give one or one per curve", xs.size(),
                                    p.curves.size()));
        for (size_t i = 0; i < p.curves.size(); ++i) {
          int64_t k = p.curves[i].size(0);
          at::Tensor x = xs.empty() ? (k == 1 ? at::zeros({1}, at::kDouble) : at::linspace(0, 1, k, at::kDouble))
                                    : xs[xs.size() == 1 ? 0 : i].flatten().to(at::kDouble);
          if (x.size(0) != k)
            throw OpError(fmt::format("curve {} has {} points but its x has {}", i + 1, k, x.size(0)));
          p.xs.push_back(x);
          p.xmin = std::min(p.xmin, x.min().item<double>());
          p.xmax = std::max(p.xmax, x.max().item<double>());
        }
        p.labels = string_list(a, "labels");
        for (size_t i = p.labels.size(); i < p.curves.size(); ++i) p.labels.push_back(fmt::format("curve {}", i + 1));
        p.title = a.string("title");
        p.xlabel = a.string("xlabel");
        p.ylabel = a.string("ylabel");
        double lo = 0, hi = 1;
        for (auto& c : p.curves) lo = std::min(lo, c.min().item<double>()), hi = std::max(hi, c.max().item<double>());
        p.ymin = lo, p.ymax = hi > lo ? hi : lo + 1;
        std::string path = a.string("path");
        std::string ext = std::filesystem::path(path).extension().string();
        if (ext == ".png") {
          ctx.write_output(path, tensor_to_png(png_of(p)));
        } else if (ext == ".svg") {
          ctx.write_output(path, svg_of(p));
        } else {
          throw OpError("viz.curve writes .svg or .png, not '" + ext + "'");
        }
        return Value(path);
      });
}

}  // namespace pipette::stdlib
