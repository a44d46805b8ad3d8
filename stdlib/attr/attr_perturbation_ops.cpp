// Perturbation attribution: occlusion, feature ablation and permutation,
// Shapley value sampling, KernelSHAP, LIME and RISE. Each builds blocks of
// perturbed inputs by broadcasting and hands them to evaluate_perturbations,
// which scores every example under every perturbation of a block in one
// forward pass. All targets come out of the same forward passes.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>

#include "stdlib/core/arg_lists.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// [P, N, T] -> [N, T, P]
at::Tensor by_example(const at::Tensor& s) { return s.permute({1, 2, 0}); }

// A per-dimension setting for the example dimensions of x: as many ints as
// dimensions, or fewer, which then apply to the trailing ones (the others take
// `whole` = the full extent for windows, 1 for strides). A single int is a
// square over the last two dimensions of images ([C, H, W]: all channels), and
// the same size along every dimension otherwise.
std::vector<int64_t> per_dim(const OpArgs& a, const std::string& name, const at::Tensor& x, bool whole) {
  std::vector<int64_t> given = int_list(a, name);
  int64_t dims = x.dim() - 1;
  if (a[name].isInt()) given.assign(static_cast<size_t>(dims >= 3 ? 2 : dims), given[0]);
  if (static_cast<int64_t>(given.size()) > dims)
    throw OpError("'" + name + "' has " + std::to_string(given.size()) + " sizes for examples with " +
                  std::to_string(dims) + " dimensions");
  std::vector<int64_t> out(static_cast<size_t>(dims));
  size_t lead = static_cast<size_t>(dims) - given.size();
  for (size_t d = 0; d < out.size(); ++d) {
    out[d] = d < lead ? (whole ? x.size(static_cast<int64_t>(d) + 1) : 1) : given[d - lead];
    if (out[d] < 1) throw OpError("'" + name + "' sizes must be >= 1");
  }
  return out;
}

// Occlusion windows: positions enumerated row-major over the grid of shifts.
struct Windows {
  std::vector<int64_t> size, stride, counts, dims;
  int64_t count = 1;
  // Indicators [p1 - p0, 1, ...] of windows [p0, p1): per dimension, which
  // elements each shift covers, multiplied across the dimensions by
  // broadcasting; a few tensor ops per block, not per window.
  at::Tensor indicator(int64_t p0, int64_t p1, const at::TensorOptions& opts) const {
    int64_t k = p1 - p0, dn = static_cast<int64_t>(dims.size());
    at::Tensor p = at::arange(p0, p1, opts.dtype(at::kLong));
    at::Tensor ind;
    int64_t inner = 1;  // windows enumerated row-major: the last dimension varies fastest
    for (int64_t d = dn - 1; d >= 0; --d) {
      at::Tensor shift = p.div(inner, "floor").remainder(counts[d]) * stride[d];      // [k]
      at::Tensor pos = at::arange(dims[d], opts.dtype(at::kLong)).view({1, -1});       // [1, dims_d]
      at::Tensor start = shift.view({-1, 1});
      at::Tensor covered = pos.ge(start).logical_and(pos.lt(start + size[d])).to(opts.dtype());  // [k, dims_d]
      std::vector<int64_t> shape(static_cast<size_t>(dn) + 2, 1);
      shape[0] = k;
      shape[static_cast<size_t>(d) + 2] = dims[d];
      covered = covered.view(shape);
      ind = ind.defined() ? ind * covered : covered;
      inner *= counts[d];
    }
    return ind;
  }
};

Windows windows_of(const OpArgs& a, const at::Tensor& x) {
  Windows w;
  w.size = per_dim(a, "window", x, true);
  w.stride = per_dim(a, "strides", x, false);
  w.dims.assign(x.sizes().begin() + 1, x.sizes().end());
  for (size_t d = 0; d < w.dims.size(); ++d) {
    if (w.size[d] > w.dims[d])
      throw OpError("window size " + std::to_string(w.size[d]) + " exceeds dimension " + std::to_string(d + 1) +
                    " of the inputs (" + std::to_string(w.dims[d]) + ")");
    // As Captum: ceil, so that a stride that does not divide the rest still
    // reaches the edge, with a last window cut short by it.
    w.counts.push_back((w.dims[d] - w.size[d] + w.stride[d] - 1) / w.stride[d] + 1);
    w.count *= w.counts.back();
  }
  return w;
}

OpSignature& perturbation_common(OpSignature& s) {
  attribution_inputs(s);
  return baseline_params(s);
}

// What every perturbation method reads from its call: the model on the node's
// device, inputs, baselines, targets and feature groups.
struct Call {
  torch::jit::Module m;
  at::Tensor x, b;
  Targets t;
  Features f;
};
Call call_of(const OpArgs& a, OpContext& ctx, bool baselines = true, bool features = true) {
  Call c{model_arg(a, "model", ctx.device), a.tensor("inputs").to(ctx.device), {}, {}, {}};
  if (baselines) c.b = baselines_of(a, c.x, ctx);
  c.t = targets_of(a, c.m, c.x);
  if (features) c.f = features_of(a, c.x);
  return c;
}

// Random coalitions [M, F] of `size[i]` present features each.
at::Tensor coalitions_of_size(const at::Tensor& size, int64_t features, at::Generator& gen) {
  at::Tensor order = at::rand({size.size(0), features}, gen).argsort(1, false).argsort(1, false);  // a random rank per feature
  return order.lt(size.view({-1, 1})).to(at::kFloat);
}

// Weighted least squares with an intercept, for every column of y at once:
// minimise sum_i w_i (y_i - c - z_i . phi)^2 + ridge |phi|^2. z [M, F], y [M, K].
// Returns phi [F, K]. Solved in double through the normal equations.
at::Tensor weighted_linear_fit(const at::Tensor& z, const at::Tensor& y, const at::Tensor& w, double ridge) {
  at::Tensor zd = z.to(at::kDouble), yd = y.to(at::kDouble), wd = w.to(at::kDouble).view({-1, 1});
  at::Tensor design = at::cat({at::ones({zd.size(0), 1}, zd.options()), zd}, 1);  // [M, F+1]
  at::Tensor gram = design.t().mm(design * wd);
  at::Tensor penalty = at::eye(gram.size(0), gram.options()) * ridge;
  penalty[0][0] = 0;  // the intercept is not shrunk
  at::Tensor coef = at::linalg_solve(gram + penalty, design.t().mm(yd * wd));  // [F+1, K]
  return coef.slice(0, 1);
}

// KernelSHAP and LIME: score the coalitions z [M, F] (1 = feature present,
// absent ones at the baseline) and fit one weighted linear model per input and
// target; its coefficients, spread over the features' elements, are the
// attributions.
at::Tensor linear_surrogate(Call& c, const at::Tensor& z, const at::Tensor& w, double ridge, OpContext& ctx) {
  at::Tensor zd = z.to(c.x.device(), c.x.scalar_type());
  at::Tensor s = perturbation_scores(
      c.m, c.x, c.t, z.size(0),
      [&](int64_t p0, int64_t p1) { return blend(c.x, c.b, keep_from_presence(zd.slice(0, p0, p1), c.f)); }, ctx);
  at::Tensor phi = weighted_linear_fit(z, s.flatten(1).cpu(), w, ridge);  // [F, N*T]
  phi = phi.to(c.x.device(), c.x.scalar_type()).view({c.f.count, c.x.size(0), c.t.count()}).permute({1, 2, 0});
  return shape_output(spread(phi, c.f, c.x), c.t);
}

}  // namespace

void register_attr_perturbation(OpLibrary& lib) {
  OpSignature occ("attr.occlusion",
                  "Occlusion (Zeiler & Fergus, 2014), as Captum: slide a window over each input with the given "
                  "strides, replace it by the baseline, and give every element the mean drop in the target output "
                  "over the windows that covered it. Elements no window covers get 0.");
  // Positional order as Captum's attribute(inputs, sliding_window_shapes, strides, baselines).
  attribution_inputs(occ)
      .input("window", "int|list<int>",
             "Window size per example dimension; fewer sizes apply to the trailing dimensions (e.g. [4, 4] on "
             "[N, C, H, W] images covers all channels)")
      .param("strides", "int|list<int>", Operand::integer(1), "Step per dimension, same convention");
  baseline_params(occ);
  lib.define(occ.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    auto [m, x, b, t, f] = call_of(a, ctx, /*baselines=*/true, /*features=*/false);
    Windows w = windows_of(a, x);
    at::Tensor fx = target_scores(m, x, t, ctx);                        // [N, T]
    int64_t n = x.size(0), d = x.numel() / n;
    at::Tensor total = at::zeros({n, t.count(), d}, score_options(x));      // sum over windows of the drop
    at::Tensor covered = at::zeros({d}, score_options(x));
    at::Tensor block;  // the indicators of the block being scored
    evaluate_perturbations(
        m, x, t, w.count,
        [&](int64_t p0, int64_t p1) {
          block = w.indicator(p0, p1, x.options());
          return blend(x, b, 1 - block);
        },
        [&](int64_t, int64_t, const at::Tensor& s) {
          at::Tensor flat = block.flatten(1).to(total.scalar_type());        // [k, D]
          total += by_example(fx.unsqueeze(0) - s).matmul(flat);             // [N, T, k] x [k, D]
          covered += flat.sum(0);
        },
        ctx);
    at::Tensor out = total / covered.clamp_min(1);
    std::vector<int64_t> shape{n, t.count()};
    shape.insert(shape.end(), x.sizes().begin() + 1, x.sizes().end());
    return Value(shape_output(out.view(shape), t));
  });

  OpSignature abl("attr.feature_ablation",
                  "Feature ablation, as Captum: replace each feature (a group of elements sharing a feature_mask "
                  "value) by the baseline and attribute the drop in the target output to its elements.");
  feature_mask_param(perturbation_common(abl));
  lib.define(abl.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    auto [m, x, b, t, f] = call_of(a, ctx);
    at::Tensor fx = target_scores(m, x, t, ctx);
    at::Tensor s = perturbation_scores(
        m, x, t, f.count,
        [&](int64_t p0, int64_t p1) {
          at::Tensor presence = at::ones({p1 - p0, f.count}, x.options());
          presence.scatter_(1, at::arange(p0, p1, x.options().dtype(at::kLong)).view({-1, 1}), 0.0);
          return blend(x, b, keep_from_presence(presence, f));
        },
        ctx);
    return Value(shape_output(spread(by_example(fx.unsqueeze(0) - s), f, x), t));
  });

  OpSignature perm("attr.feature_permutation",
                   "Permutation feature importance, as Captum: shuffle each feature across the batch (a new "
                   "permutation per feature) and attribute the drop in the target output to its elements. Needs "
                   "a batch of more than one input.");
  feature_mask_param(attribution_inputs(perm)).stochastic();
  lib.define(perm.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    auto [m, x, b, t, f] = call_of(a, ctx, /*baselines=*/false);
    if (x.size(0) < 2) throw OpError("feature permutation shuffles across the batch; it needs at least 2 inputs");
    at::Generator gen = ctx.generator();
    int64_t n = x.size(0);
    at::Tensor perms = at::rand({f.count, n}, gen).argsort(1, false).to(x.device());  // [F, N]
    at::Tensor fx = target_scores(m, x, t, ctx);
    at::Tensor s = perturbation_scores(
        m, x, t, f.count,
        [&](int64_t p0, int64_t p1) {
          std::vector<at::Tensor> block;
          for (int64_t p = p0; p < p1; ++p) block.push_back(at::where(f.mask.eq(p), x.index_select(0, perms[p]), x));
          return at::stack(block, 0);
        },
        ctx);
    return Value(shape_output(spread(by_example(fx.unsqueeze(0) - s), f, x), t));
  });

  OpSignature svs("attr.shapley_value_sampling",
                  "Shapley value sampling (Castro et al., 2009), as Captum: for n_samples random orders of the "
                  "features, add them one at a time to the baseline and credit each with the change in the "
                  "target output; the mean over orders estimates its Shapley value. Exact for additive models.");
  feature_mask_param(perturbation_common(svs))
      .param("n_samples", "int", Operand::integer(25), "Random feature orders")
      .range(1)
      .stochastic();
  lib.define(svs.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    auto [m, x, b, t, f] = call_of(a, ctx);
    int64_t samples = a.int_("n_samples"), nf = f.count, n = x.size(0);
    at::Generator gen = ctx.generator();
    at::Tensor rank = at::rand({samples, nf}, gen).argsort(1, false).argsort(1, false).to(x.device());  // feature -> position
    // Perturbation (s, j): the first j features of order s present.
    at::Tensor s = perturbation_scores(
        m, x, t, samples * (nf + 1),
        [&](int64_t p0, int64_t p1) {
          at::Tensor p = at::arange(p0, p1, x.options().dtype(at::kLong));
          at::Tensor presence = rank.index_select(0, p.div(nf + 1, "floor")).lt(p.remainder(nf + 1).view({-1, 1}));
          return blend(x, b, keep_from_presence(presence.to(x.scalar_type()), f));
        },
        ctx);
    at::Tensor gain = s.view({samples, nf + 1, n, t.count()}).diff(1, 1);  // [S, F, N, T]: position j's feature
    at::Tensor phi = gain.gather(1, rank.view({samples, nf, 1, 1}).expand({samples, nf, n, t.count()})).mean(0);
    return Value(shape_output(spread(phi.permute({1, 2, 0}), f, x), t));
  });

  OpSignature ks("attr.kernel_shap",
                 "KernelSHAP (Lundberg & Lee, 2017): score random coalitions of features (absent ones set to the "
                 "baseline), drawn by coalition size from the Shapley kernel, and fit a linear model whose "
                 "coefficients are the Shapley values; the empty and full coalitions are weighted so that the "
                 "values add up to F(x) - F(b). One solve serves every example and target.");
  feature_mask_param(perturbation_common(ks))
      .param("n_samples", "int", Operand::integer(256), "Random coalitions")
      .range(1)
      .stochastic();
  lib.define(ks.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    Call c = call_of(a, ctx);
    int64_t nf = c.f.count, samples = a.int_("n_samples");
    at::Generator gen = ctx.generator();
    at::Tensor z;
    if (nf < 2) {
      z = at::empty({0, nf});
    } else {
      // P(size k) proportional to (F - 1) / (k (F - k)), k = 1..F-1.
      at::Tensor k = at::arange(1, nf, at::kDouble);
      at::Tensor p = (nf - 1) / (k * (nf - k));
      at::Tensor size = at::multinomial(p / p.sum(), samples, /*replacement=*/true, gen) + 1;
      z = coalitions_of_size(size, nf, gen);
    }
    z = at::cat({at::zeros({1, nf}), at::ones({1, nf}), z}, 0);  // empty and full first
    at::Tensor w = at::ones({z.size(0)}, at::kDouble);
    w.slice(0, 0, 2).fill_(1e6);  // efficiency: the fit must pass through F(b) and F(x)
    return Value(linear_surrogate(c, z, w, 1e-9, ctx));
  });

  OpSignature lime("attr.lime",
                   "LIME (Ribeiro et al., 2016): score random coalitions of features (each present with "
                   "probability 1/2, absent ones set to the baseline), weight them by an exponential kernel of "
                   "their cosine distance to the full input, and fit a ridge-regularised linear model; its "
                   "coefficients are the attributions.");
  feature_mask_param(perturbation_common(lime))
      .param("n_samples", "int", Operand::integer(256), "Random coalitions")
      .range(1)
      .param("kernel_width", "float", Operand::real(0.25), "Width of the similarity kernel (LIME's image default)")
      .range(1e-6)
      .param("ridge", "float", Operand::real(1.0), "L2 penalty of the linear model (LIME's Ridge default)")
      .range(0.0)
      .stochastic();
  lib.define(lime.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    Call c = call_of(a, ctx);
    int64_t nf = c.f.count;
    at::Generator gen = ctx.generator();
    at::Tensor z = at::cat({at::ones({1, nf}), at::bernoulli(at::full({a.int_("n_samples"), nf}, 0.5), gen)}, 0);
    at::Tensor present = z.sum(1).to(at::kDouble);
    at::Tensor cosine = 1 - present / (present.sqrt() * std::sqrt(static_cast<double>(nf))).clamp_min(1e-12);
    double width = a.float_("kernel_width");
    at::Tensor w = (-(cosine * cosine) / (width * width)).exp();
    return Value(linear_surrogate(c, z, w, a.float_("ridge"), ctx));
  });

  OpSignature rise("attr.rise",
                   "RISE (Petsiuk et al., 2018): the mean of n_masks random smooth masks, each weighted by the "
                   "target output of the image it lets through. Masks are cells x cells grids of cells kept with "
                   "probability p, upsampled bilinearly and shifted at random.");
  attribution_inputs(rise)
      .param("n_masks", "int", Operand::integer(1000), "Random masks")
      .range(1)
      .param("cells", "int", Operand::integer(7), "Grid cells per side of a mask")
      .range(1)
      .param("p", "float", Operand::real(0.5), "Probability that a cell is kept")
      .range(0.01, 1.0)
      .stochastic();
  lib.define(rise.returns("tensor", "Saliency [N, 1, H, W] (or [N, T, 1, H, W] for several targets)"),
             [](const OpArgs& a, OpContext& ctx) {
               torch::jit::Module m = model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("inputs").to(ctx.device);
               if (x.dim() != 4) throw OpError("RISE masks images [N, C, H, W]; inputs are " + describe(Value(x)));
               Targets t = targets_of(a, m, x);
               int64_t masks = a.int_("n_masks"), cells = a.int_("cells"), h = x.size(2), wd = x.size(3);
               double p = a.float_("p");
               int64_t ch = (h + cells - 1) / cells, cw = (wd + cells - 1) / cells;
               at::Generator gen = ctx.generator();
               at::Tensor total = at::zeros({x.size(0), t.count(), h * wd}, x.options());
               at::Tensor block;
               evaluate_perturbations(
                   m, x, t, masks,
                   [&](int64_t p0, int64_t p1) {
                     int64_t k = p1 - p0;
                     at::Tensor grid = at::bernoulli(at::full({k, 1, cells, cells}, p), gen);
                     at::Tensor up = at::upsample_bilinear2d(grid, {(cells + 1) * ch, (cells + 1) * cw}, false);
                     at::Tensor dy = at::randint(ch, {k}, gen, at::kLong), dx = at::randint(cw, {k}, gen, at::kLong);
                     std::vector<at::Tensor> crops;
                     for (int64_t i = 0; i < k; ++i)
                       crops.push_back(up[i].narrow(1, dy[i].item<int64_t>(), h).narrow(2, dx[i].item<int64_t>(), wd));
                     block = at::stack(crops, 0).to(x.device(), x.scalar_type());  // [k, 1, H, W]
                     return block.unsqueeze(1) * x.unsqueeze(0);                   // [k, N, C, H, W]
                   },
                   [&](int64_t, int64_t, const at::Tensor& s) { total += by_example(s).matmul(block.flatten(1)); },
                   ctx);
               at::Tensor out = (total / (static_cast<double>(masks) * p)).view({x.size(0), t.count(), 1, h, wd});
               return Value(shape_output(out, t));
             });

  lib.define(OpSignature("attr.feature_grid",
                         "A feature_mask of rows x cols rectangular superpixels for images [N, C, H, W] "
                         "(numbered row-major), for feature ablation, Shapley sampling, KernelSHAP and LIME.")
                 .input("inputs", "tensor", "Images [N, C, H, W] or [N, H, W] (only the shape is read)")
                 .param("rows", "int", Operand::integer(7), "Superpixels down")
                 .range(1)
                 .param("cols", "int", Operand::integer(7), "Superpixels across")
                 .range(1)
                 .returns("tensor", "Feature indices [1, 1, H, W] (or [1, H, W]), long"),
             [](const OpArgs& a, OpContext&) {
               at::Tensor x = a.tensor("inputs");
               if (x.dim() < 3) throw OpError("attr.feature_grid needs images; inputs are " + describe(Value(x)));
               int64_t h = x.size(-2), w = x.size(-1), rows = std::min(a.int_("rows"), h), cols = std::min(a.int_("cols"), w);
               at::Tensor r = at::arange(h, at::kLong).mul(rows).div(h, "floor").view({h, 1});
               at::Tensor c = at::arange(w, at::kLong).mul(cols).div(w, "floor").view({1, w});
               at::Tensor grid = r * cols + c;
               return Value(x.dim() == 4 ? grid.view({1, 1, h, w}) : grid.view({1, h, w}));
             });
}

}  // namespace pipette::stdlib
