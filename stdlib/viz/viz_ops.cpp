// viz.*: pictures of results.
#include <ATen/ATen.h>

#include <array>
#include <cmath>

#include "stdlib/viz/canvas.hpp"
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
        at::Tensor img = a.tensor("images").detach().to(at::kCPU, at::kFloat);
        at::Tensor attr = a.tensor("attributions").detach().to(at::kCPU, at::kFloat);
        if (img.dim() == 3) img = img.unsqueeze(1);
        if (attr.dim() == 3) attr = attr.unsqueeze(1);
        if (img.dim() != 4 || attr.dim() != 4 || img.size(0) != attr.size(0) || img.size(2) != attr.size(2) ||
            img.size(3) != attr.size(3))
          throw OpError("images " + describe(Value(img)) + " and attributions " + describe(Value(attr)) +
                        " must be [N, C, H, W] with the same N, H and W");
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
}

}  // namespace pipette::stdlib
