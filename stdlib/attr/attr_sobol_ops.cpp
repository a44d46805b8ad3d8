// attr.sobol: Sobol attribution (Fel et al., NeurIPS 2021, "Look at the
// Variance! Efficient Black-box Explanations with Sobol-based Sensitivity
// Analysis"): quasi-Monte-Carlo masks over a grid of image cells, the model's
// target output under each masked image, and each cell's total-order Sobol
// index by Jansen's estimator.
#include <ATen/ATen.h>
#include <torch/script.h>

#include "stdlib/attr/attribution.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// The first n points of the unscrambled Sobol sequence in `dim` dimensions
// (Joe and Kuo's direction numbers, as torch.quasirandom.SobolEngine and
// scipy's qmc.Sobol(scramble=False) draw them: the first point is 0).
at::Tensor sobol_points(int64_t dim, int64_t n) {
  constexpr int64_t kMaxBit = 30;  // SobolEngine.MAXBIT
  if (dim > 21201) throw OpError("the Sobol sequence has direction numbers for 21201 dimensions; this grid needs " +
                                 std::to_string(dim) + " (2 x cells): use a smaller grid");
  at::Tensor state = at::zeros({dim, kMaxBit}, at::kLong);
  at::_sobol_engine_initialize_state_(state, dim);
  at::Tensor first = at::zeros({1, dim}, at::kDouble);
  if (n == 1) return first;
  at::Tensor quasi = at::zeros({dim}, at::kLong);
  auto drawn = at::_sobol_engine_draw(quasi, n - 1, state, dim, /*num_generated=*/0, at::kDouble);
  return at::cat({first, std::get<0>(drawn)}, 0);
}

// The design's masks [(d + 2) n, d]: A (n rows), B (n rows), then for each
// cell i the rows of A with column i taken from B (Saltelli's replicated design).
at::Tensor replicated_design(int64_t cells, int64_t n) {
  at::Tensor ab = sobol_points(2 * cells, n);
  at::Tensor a = ab.slice(1, 0, cells), b = ab.slice(1, cells, 2 * cells);
  at::Tensor c = a.unsqueeze(0).repeat({cells, 1, 1});  // [d, n, d]
  at::Tensor diag = at::arange(cells, at::kLong);
  c.index_put_({diag, at::indexing::Slice(), diag}, b.t());
  return at::cat({a, b, c.flatten(0, 1)}, 0);
}

}  // namespace

void register_attr_sobol(OpLibrary& lib) {
  OpSignature s("attr.sobol",
                "Sobol attribution (Fel et al., 2021): the image is cut into grid x grid cells, a quasi-Monte-Carlo "
                "(Sobol sequence) design of designs * (cells + 2) masks modulates them (inpainting: the cell "
                "blends towards the baseline as its mask value falls; amplitude: x * (m - 0.5) * sigma), and each "
                "cell's total-order Sobol index of the target output, by Jansen's estimator, is its attribution: "
                "the share of the output's variance the cell explains, its interactions with every other cell "
                "included.");
  baseline_params(attribution_inputs(s))
      .param("grid", "int", Operand::integer(8), "Cells per side")
      .range(1, 64)
      .param("designs", "int", Operand::integer(32),
             "Points of the Sobol design (a power of two); the forward passes are designs * (grid^2 + 2) per image")
      .range(2, 1 << 16)
      .param("perturbation", "string", Operand::string("inpainting"),
             "inpainting: x * m + (1 - m) * baseline (the paper's, baseline 0); amplitude: x * (m - 0.5) * sigma")
      .choices({"inpainting", "amplitude"})
      .param("sigma", "float", Operand::real(1.0), "The amplitude perturbation's intensity")
      .param("interpolate", "string", Operand::string("bilinear"),
             "The indices upsampled to the image (bilinear, as the paper's resize), nearest, or none: [N, 1, grid, grid]")
      .choices({"bilinear", "nearest", "none"});
  lib.define(s.returns("tensor", "Total-order indices [N, 1, H, W] (or [N, T, ...] for several targets)"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               if (x.dim() != 4) throw OpError("attr.sobol masks images [N, C, H, W]; inputs are " + describe(Value(x)));
               const int64_t g = a.int_("grid"), n = a.int_("designs"), d = g * g;
               if ((n & (n - 1)) != 0)
                 throw OpError("designs=" + std::to_string(n) + " must be a power of two (a Sobol sequence is balanced "
                               "at powers of two)");
               Targets t = targets_of(a, m, x);
               at::Tensor b = baselines_of(a, x, ctx).expand_as(x);
               const bool amplitude = a.string("perturbation") == "amplitude";
               const double sigma = a.float_("sigma");
               at::Tensor design = replicated_design(d, n).to(x.device(), x.scalar_type());  // [P, d]
               const int64_t p = design.size(0), h = x.size(2), w = x.size(3);
               at::Tensor scores = at::empty({p, x.size(0), t.count()}, x.options());
               evaluate_perturbations(
                   m, x, t, p,
                   [&](int64_t p0, int64_t p1) {
                     // Nearest upsampling, as the reference (torch's interpolate default).
                     at::Tensor masks = at::upsample_nearest2d(design.slice(0, p0, p1).view({p1 - p0, 1, g, g}), {h, w});
                     at::Tensor mk = masks.unsqueeze(1);  // [k, 1, 1, H, W]
                     if (amplitude) return (x.unsqueeze(0) * (mk - 0.5) * sigma).contiguous();
                     return (x.unsqueeze(0) * mk + (1 - mk) * b.unsqueeze(0)).contiguous();
                   },
                   [&](int64_t p0, int64_t p1, const at::Tensor& sc) { scores.slice(0, p0, p1).copy_(sc); }, ctx);
               // Jansen: ST_i = sum_k (f(A_k) - f(C_i,k))^2 / (2 n Var f(A)), Var with n - 1.
               at::Tensor fa = scores.slice(0, 0, n).to(at::kDouble);                    // [n, N, T]
               at::Tensor fc = scores.slice(0, 2 * n, p).to(at::kDouble).view({d, n, x.size(0), t.count()});
               at::Tensor var = fa.var(0, /*unbiased=*/true);                              // [N, T]
               at::Tensor st = (fa.unsqueeze(0) - fc).pow(2).sum(1) / (2.0 * static_cast<double>(n) * var);  // [d, N, T]
               at::Tensor flat = var.le(0);
               if (flat.any().item<bool>()) {
                 ctx.log(OpContext::Warn, std::to_string(flat.sum().item<int64_t>()) + " of " +
                                              std::to_string(flat.numel()) +
                                              " (input, target) pairs: the target's output does not change under any "
                                              "mask, so no cell explains any variance: their maps are 0");
                 st = at::where(flat.unsqueeze(0), at::zeros_like(st), st);
               }
               at::Tensor maps = st.permute({1, 2, 0}).reshape({x.size(0) * t.count(), 1, g, g}).to(x.scalar_type());
               const std::string mode = a.string("interpolate");
               if (mode == "bilinear") maps = at::upsample_bilinear2d(maps, {h, w}, /*align_corners=*/false);
               if (mode == "nearest") maps = at::upsample_nearest2d(maps, {h, w});
               return Value(shape_output(maps.view({x.size(0), t.count(), 1, maps.size(2), maps.size(3)}), t));
             });
}

}  // namespace pipette::stdlib
