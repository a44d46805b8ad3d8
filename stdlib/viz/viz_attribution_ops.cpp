// viz.attribution: attributions drawn as Captum's visualize_image_attr draws
// them — heat_map, blended_heat_map, masked_image, alpha_scaling and
// original_image; signs positive, negative, absolute_value and all — with the
// same normalisation (the outlier percentile of the cumulative |attribution|),
// the same colour maps as matplotlib's 256-entry tables, and a colour bar.
#include <ATen/ATen.h>

#include <fmt/format.h>

#include <array>
#include <cmath>

#include "engine/html_page.hpp"
#include "stdlib/stdlib.hpp"
#include "stdlib/viz/canvas.hpp"
#include "stdlib/viz/image_maps.hpp"

namespace pipette::stdlib {

namespace {

// matplotlib's colour tables: control points evenly spaced over [0, 1]
// (ColorBrewer's Greens, Reds, Blues; Captum's red-white-green for sign "all").
const std::vector<std::array<int, 3>>& control_points(const std::string& name) {
  static const std::vector<std::array<int, 3>> greens{{247, 252, 245}, {229, 245, 224}, {199, 233, 192},
                                                      {161, 217, 155}, {116, 196, 118}, {65, 171, 93},
                                                      {35, 139, 69},   {0, 109, 44},    {0, 68, 27}};
  static const std::vector<std::array<int, 3>> reds{{255, 245, 240}, {254, 224, 210}, {252, 187, 161},
                                                    {252, 146, 114}, {251, 106, 74},  {239, 59, 44},
                                                    {203, 24, 29},   {165, 15, 21},   {103, 0, 13}};
  static const std::vector<std::array<int, 3>> blues{{247, 251, 255}, {222, 235, 247}, {198, 219, 239},
                                                     {158, 202, 225}, {107, 174, 214}, {66, 146, 198},
                                                     {33, 113, 181},  {8, 81, 156},    {8, 48, 107}};
  static const std::vector<std::array<int, 3>> red_white_green{{255, 0, 0}, {255, 255, 255}, {0, 128, 0}};
  static const std::vector<std::array<int, 3>> gray{{0, 0, 0}, {255, 255, 255}};
  if (name == "Greens") return greens;
  if (name == "Reds") return reds;
  if (name == "Blues") return blues;
  if (name == "RdWhGn") return red_white_green;
  return gray;
}

// The 256-entry table [256, 3] as matplotlib builds it: entry i interpolates
// the control points linearly at i / 255.
at::Tensor colour_table(const std::string& name) {
  const auto& pts = control_points(name);
  at::Tensor lut = at::empty({256, 3}, at::kDouble);
  const double segments = static_cast<double>(pts.size() - 1);
  for (int i = 0; i < 256; ++i) {
    double pos = i / 255.0 * segments;
    size_t lo = std::min(static_cast<size_t>(pos), pts.size() - 2);
    double f = pos - static_cast<double>(lo);
    for (size_t c = 0; c < 3; ++c)
      lut[i][static_cast<int64_t>(c)] = ((1 - f) * pts[lo][c] + f * pts[lo + 1][c]) / 255.0;
  }
  return lut;
}

// Colours of u in [0, 1] [...] -> [..., 3]: matplotlib's lookup, entry min(int(u * 256), 255).
at::Tensor lookup(const at::Tensor& u, const at::Tensor& lut) {
  at::Tensor idx = (u.clamp(0, 1) * 256).floor().clamp_max(255).to(at::kLong);
  std::vector<int64_t> shape(u.sizes().begin(), u.sizes().end());
  shape.push_back(3);
  return lut.index_select(0, idx.flatten()).view(shape);
}

// Captum's _cumulative_sum_threshold: the smallest of the largest values that
// together hold the top (100 - percentile) % of the total.
double cumulative_threshold(const at::Tensor& v, double percentile) {
  at::Tensor s = std::get<0>(v.flatten().sort());
  at::Tensor cs = s.cumsum(0);
  double bound = cs[-1].item<double>() * 0.01 * percentile;
  int64_t idx = cs.ge(bound).nonzero()[0][0].item<int64_t>();
  return s[idx].item<double>();
}

// Captum's _normalize_attr for one map [H, W]: by sign, scaled by the
// threshold, clipped to [-1, 1] ("negative" comes out positive, in [0, 1]).
at::Tensor normalized(const at::Tensor& attr, const std::string& sign, double outlier_perc, int64_t image) {
  at::Tensor a = sign == "positive"   ? attr.clamp_min(0)
                 : sign == "negative" ? attr.clamp_max(0)
                 : sign == "absolute_value" ? attr.abs()
                                             : attr;
  double t = cumulative_threshold(a.abs(), 100.0 - outlier_perc);
  if (t == 0)
    throw OpError("image " + std::to_string(image) + "'s attributions have no " +
                  (sign == "all" || sign == "absolute_value" ? std::string("nonzero") : sign) +
                  " values to scale by (sign=\"" + sign + "\"): there is nothing to draw");
  if (sign == "negative") t = -t;
  return (a / t).clamp(-1, 1);
}

// A horizontal colour bar [3, h, w] over [vmin, vmax] with its end and middle values.
at::Tensor colour_bar(const at::Tensor& lut, double vmin, double vmax, int64_t width, double alpha) {
  const int64_t bar = 10, pad = 4, label = Canvas::text_height() + 4;
  Canvas c(pad + bar + label, width);
  at::Tensor u = at::linspace(0, 1, width, at::kDouble);
  at::Tensor rgb = lookup(u, lut);  // [w, 3]
  at::Tensor strip = (alpha * rgb + (1 - alpha)).t().unsqueeze(1).expand({3, bar, width}).to(at::kFloat);
  c.image(0, pad, strip.contiguous());
  for (double v : {vmin, (vmin + vmax) / 2, vmax}) {
    std::string s = fmt::format("{:g}", v);
    double x = (v - vmin) / (vmax - vmin) * static_cast<double>(width - 1);
    double left = std::clamp(x - Canvas::text_width(s) / 2.0, 0.0, static_cast<double>(width - Canvas::text_width(s)));
    c.text(left, static_cast<double>(pad + bar + 3), s);
  }
  return c.pixels();
}

// Captum's visualize_text colour of a value clipped to [-1, 1]: green
// (hue 120) for positive, red (hue 0) for the rest, lighter towards 0.
std::string text_colour(double v) {
  v = std::clamp(v, -1.0, 1.0);
  if (v > 0) return fmt::format("hsl(120, 75%, {}%)", 100 - static_cast<int>(50 * v));
  return fmt::format("hsl(0, 75%, {}%)", 100 - static_cast<int>(-40 * v));
}


}  // namespace

void register_viz_attribution(OpLibrary& lib) {
  OpSignature s("viz.attribution",
                "Attributions drawn as Captum's visualize_image_attr draws them: channels summed (signed), the map "
                "normalised per image by sign — scaled by the smallest of the largest values holding the top "
                "outlier_perc % of its total magnitude, clipped to [-1, 1] — and coloured with matplotlib's "
                "tables (all: red-white-green over [-1, 1]; positive: Greens; negative: Reds; absolute_value: "
                "Blues). heat_map: the colours alone; blended_heat_map: over the image in gray (its channel mean "
                "scaled to its own range) with opacity alpha; masked_image: the image times the map; "
                "alpha_scaling: the image with the map as opacity, on white; original_image: the image.");
  s.input("images", "tensor", "Images [N, C, H, W] (or [N, H, W]) in [0, 1]")
      .input("attributions", "tensor", "Attributions [N, C, H, W] or [N, 1, H, W] (channels are summed)")
      .param("method", "string", Operand::string("blended_heat_map"), "What to draw (Captum's methods)")
      .choices({"heat_map", "blended_heat_map", "masked_image", "alpha_scaling", "original_image"})
      .param("sign", "string", Operand::string("absolute_value"), "Which attributions to show (Captum's signs)")
      .choices({"absolute_value", "positive", "negative", "all"})
      .param("outlier_perc", "float", Operand::real(2.0), "The top percentage of |attribution| mass drawn at full colour")
      .range(0.0, 100.0)
      .param("alpha", "float", Operand::real(0.5), "blended_heat_map: the colours' opacity over the image")
      .range(0.0, 1.0)
      .param("colorbar", "bool", Operand::boolean(true), "heat_map, blended_heat_map: a colour bar under each image")
      .param("max_images", "int", Operand::integer(16), "Draw at most this many (the first ones)")
      .range(1)
      .param("scale", "int", Operand::integer(0), "Enlarge pixels by this factor; 0 = so the side is >= 112 px")
      .range(0, 32)
      .returns("tensor", "RGB images [N, 3, H', W'] in [0, 1]; save as .png (a batch becomes a grid)");
  lib.define(s, [](const OpArgs& a, OpContext&) {
    auto [img, attr] = images_and_maps(a, at::kDouble);
    const std::string method = a.string("method"), sign = a.string("sign");
    if ((method == "masked_image" || method == "alpha_scaling") && sign == "all")
      throw OpError("method=\"" + method + "\" scales the image by the map, which needs values in [0, 1]: sign=\"all\" "
                    "is signed (Captum refuses it too); use positive, negative or absolute_value");
    const int64_t n = std::min(img.size(0), a.int_("max_images"));
    const std::string cmap = sign == "all" ? "RdWhGn" : sign == "positive" ? "Greens" : sign == "negative" ? "Reds" : "Blues";
    const double vmin = sign == "all" ? -1.0 : 0.0, vmax = 1.0;
    const at::Tensor lut = colour_table(cmap), gray_lut = colour_table("gray");
    const double alpha = a.float_("alpha");
    const bool bar = a.bool_("colorbar") && (method == "heat_map" || method == "blended_heat_map");
    int64_t scale = a.int_("scale");
    if (scale == 0) scale = enlargement(std::min(img.size(2), img.size(3)), 112);
    std::vector<at::Tensor> out;
    for (int64_t i = 0; i < n; ++i) {
      // Captum works on 8-bit images: values in [0, 1] become trunc(x * 255).
      at::Tensor rgb8 = (img[i] * 255).trunc().clamp(0, 255);           // [C, H, W]
      if (rgb8.size(0) == 1) rgb8 = rgb8.expand({3, rgb8.size(1), rgb8.size(2)});
      at::Tensor norm = normalized(attr[i].sum(0), sign, a.float_("outlier_perc"), i);  // [H, W]
      at::Tensor u = (norm - vmin) / (vmax - vmin);
      at::Tensor pic;
      if (method == "heat_map") {
        pic = lookup(u, lut).permute({2, 0, 1});
      } else if (method == "blended_heat_map") {
        at::Tensor m = rgb8.mean(0);
        double lo = m.min().item<double>(), hi = m.max().item<double>();
        at::Tensor g = hi > lo ? (m - lo) / (hi - lo) : at::zeros_like(m);
        pic = alpha * lookup(u, lut).permute({2, 0, 1}) + (1 - alpha) * lookup(g, gray_lut).permute({2, 0, 1});
      } else if (method == "masked_image") {
        pic = (rgb8 * norm.unsqueeze(0)).trunc().clamp(0, 255) / 255.0;
      } else if (method == "alpha_scaling") {
        at::Tensor op = (norm * 255).trunc().clamp(0, 255) / 255.0;
        pic = op.unsqueeze(0) * (rgb8 / 255.0) + (1 - op.unsqueeze(0));
      } else {
        pic = rgb8 / 255.0;
      }
      if (scale > 1) pic = pic.repeat_interleave(scale, 1).repeat_interleave(scale, 2);
      pic = pic.to(at::kFloat);
      if (bar) pic = at::cat({pic, colour_bar(lut, vmin, vmax, pic.size(2), method == "blended_heat_map" ? alpha : 1.0)}, 1);
      out.push_back(pic);
    }
    return Value(at::stack(out).contiguous());
  });

  OpSignature text("viz.text",
                   "Tokens coloured by their attributions, as Captum's visualize_text colours them (green for "
                   "positive, red for negative, lighter towards 0), written as a self-contained HTML file: one row "
                   "per attribution row (e.g. the seq_attr and token_attr of attr.llm_*), with a legend. Values "
                   "are divided by the largest |value| first (normalize=true; Captum clips without scaling).");
  text.input("tokens", "list<string>", "The tokens (or segments), one per column")
      .input("attributions", "tensor", "[n] or [rows, n]")
      .input("path", "string", "The .html file to write, relative to the output directory")
      .output_path()
      .optional("labels", "list<string>", "A label per row (e.g. the continuation's tokens)")
      .param("normalize", "bool", Operand::boolean(true), "Divide by the largest |attribution| first")
      .param("title", "string", Operand::string(""), "A heading above the rows")
      .side_effects()
      .returns("string", "The path written, relative to the output directory");
  lib.define(text, [](const OpArgs& a, OpContext& ctx) {
    std::vector<std::string> tokens;
    for (const auto& t : a["tokens"].toListRef()) tokens.push_back(t.toStringRef());
    at::Tensor v = a.tensor("attributions").detach().to(at::kCPU, at::kDouble);
    if (v.dim() == 1) v = v.unsqueeze(0);
    if (v.dim() != 2 || v.size(1) != static_cast<int64_t>(tokens.size()))
      throw OpError("attributions " + describe(Value(v)) + " must be [n] or [rows, n] for the " +
                    std::to_string(tokens.size()) + " tokens");
    std::vector<std::string> labels;
    if (!a.is_none("labels"))
      for (const auto& t : a["labels"].toListRef()) labels.push_back(t.toStringRef());
    if (!labels.empty() && static_cast<int64_t>(labels.size()) != v.size(0))
      throw OpError(std::to_string(labels.size()) + " labels for " + std::to_string(v.size(0)) + " rows of attributions");
    if (a.bool_("normalize")) {
      double top = v.abs().max().item<double>();
      if (top > 0) v = v / top;
    }
    std::string html =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html_escape(a.string("title")) +
        "</title><style>body{font-family:sans-serif} td{padding:2px 6px} mark{line-height:1.75;padding:1px 3px;"
        "color:black}</style></head><body>\n";
    if (!a.string("title").empty()) html += "<h3>" + html_escape(a.string("title")) + "</h3>\n";
    html += "<div><b>Legend:</b>";
    for (const auto& [value, name] : {std::pair<double, const char*>{-1, "Negative"}, {0, "Neutral"}, {1, "Positive"}})
      html += " <span style=\"display:inline-block;width:10px;height:10px;border:1px solid;background-color:" +
              text_colour(value) + "\"></span> " + name;
    html += "</div>\n<table>\n";
    for (int64_t r = 0; r < v.size(0); ++r) {
      html += "<tr>";
      if (!labels.empty()) html += "<td><b>" + html_escape(labels[static_cast<size_t>(r)]) + "</b></td>";
      html += "<td>";
      for (size_t j = 0; j < tokens.size(); ++j) {
        double x = v[r][static_cast<int64_t>(j)].item<double>();
        html += fmt::format("<mark style=\"background-color: {}\" title=\"{:.4g}\">{}</mark> ", text_colour(x), x,
                            html_escape(tokens[j]));
      }
      html += "</td></tr>\n";
    }
    html += "</table></body></html>\n";
    const std::string path = a.string("path");
    ctx.write_output(path, html);
    return Value(path);
  });
}

}  // namespace pipette::stdlib
