#include "stdlib/attr/path_integral.hpp"

#include <cmath>

#include "stdlib/model/model_util.hpp"

namespace pipette::stdlib {

namespace {

// Gauss-Legendre nodes and weights on [0, 1] in O(n) memory: Newton's method on
// P_n from Tricomi's estimate of each root, P_n and P_n' by the three-term
// recurrence (O(n) per root, two or three iterations each), half of the roots
// by symmetry. Golub-Welsch's dense n x n eigenproblem took 40 s and memory
// growing with n^2 at 3000 steps; this takes milliseconds there, ~1 s at 20000.
Quadrature gauss_legendre(int64_t n, const OpContext* ctx) {
  Quadrature q;
  q.alphas.resize(static_cast<size_t>(n));
  q.weights.resize(static_cast<size_t>(n));
  auto dn = static_cast<double>(n);
  const double pi = 3.14159265358979323846;
  for (int64_t i = 0; i < (n + 1) / 2; ++i) {
    if (ctx && i % 64 == 0 && ctx->cancelled()) throw OpError("cancelled");
    double x = (1.0 - 1.0 / (8.0 * dn * dn) + 1.0 / (8.0 * dn * dn * dn)) *
               std::cos(pi * (4.0 * static_cast<double>(i) + 3.0) / (4.0 * dn + 2.0));
    double dp = 1;
    for (int iter = 0; iter < 100; ++iter) {
      double p0 = 1, p1 = x;  // P_0, P_1
      for (int64_t k = 2; k <= n; ++k) {
        double pk = ((2.0 * static_cast<double>(k) - 1.0) * x * p1 - (static_cast<double>(k) - 1.0) * p0) /
                    static_cast<double>(k);
        p0 = p1;
        p1 = pk;
      }
      if (n == 1) p0 = 1;  // P_0, for the derivative of P_1
      dp = dn * (x * p1 - p0) / (x * x - 1.0);
      double step = p1 / dp;
      x -= step;
      if (std::abs(step) < 1e-16) break;
    }
    double w = 2.0 / ((1.0 - x * x) * dp * dp);
    // x > 0 here: the i-th largest root and its mirror image, mapped to [0, 1] (weights halved).
    size_t hi = static_cast<size_t>(n - 1 - i), lo = static_cast<size_t>(i);
    q.alphas[hi] = (1.0 + x) / 2.0;
    q.alphas[lo] = (1.0 - x) / 2.0;
    q.weights[hi] = q.weights[lo] = w / 2.0;
  }
  return q;
}

}  // namespace

// The points on the path and their weights, as Captum defines them.
Quadrature quadrature(const std::string& method, int64_t n, const OpContext* ctx) {
  Quadrature q;
  auto dn = static_cast<double>(n);
  if (method == "gausslegendre") return gauss_legendre(n, ctx);
  if (method == "riemann_trapezoid") {
    if (n < 2) throw OpError("riemann_trapezoid needs at least 2 steps");
    for (int64_t i = 0; i < n; ++i) {
      q.alphas.push_back(static_cast<double>(i) / (dn - 1));
      q.weights.push_back((i == 0 || i == n - 1 ? 0.5 : 1.0) / (dn - 1));
    }
    return q;
  }
  double offset = method == "riemann_left" ? 0.0 : method == "riemann_right" ? 1.0 : 0.5;
  for (int64_t i = 0; i < n; ++i) {
    q.alphas.push_back((static_cast<double>(i) + offset) / dn);
    q.weights.push_back(1.0 / dn);
  }
  return q;
}

// sum_k w_k g(b + a_k (x - b)) for every example: path points of E examples x K
// alphas are built with one broadcast and evaluated together, E x K chosen so
// the chunk fits the budget; memory stays flat in the number of steps.
at::Tensor path_integral(const at::Tensor& x, const at::Tensor& b, const at::Tensor& target, const Quadrature& q,
                         OpContext& ctx, const PathGradient& grad) {
  int64_t n = x.size(0), steps = static_cast<int64_t>(q.alphas.size());
  auto opts = x.options();
  at::Tensor alphas = at::tensor(q.alphas, at::kDouble).to(opts);
  at::Tensor weights = at::tensor(q.weights, at::kDouble).to(opts);
  int64_t chunk = items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n * steps);
  int64_t per_examples = std::min(n, chunk), per_steps = std::max<int64_t>(1, chunk / std::max<int64_t>(1, n));
  std::vector<int64_t> point_shape(x.dim() + 1, 1);
  point_shape[0] = -1;
  at::Tensor total;
  uint64_t done = 0, all = static_cast<uint64_t>(n * steps);
  // Progress counts path points, over both loops.
  for_chunks(
      ctx, n, per_examples,
      [&](int64_t e, int64_t e_end) {
        at::Tensor xe = x.slice(0, e, e_end), be = b.slice(0, e, e_end);
        at::Tensor te = target.slice(0, e, e_end), delta = xe - be;
        int64_t ne = e_end - e;
        for_chunks(
            ctx, steps, per_steps,
            [&](int64_t k, int64_t k_end) {
              at::Tensor ak = alphas.slice(0, k, k_end).view(point_shape);
              int64_t nk = k_end - k;
              at::Tensor path = (be.unsqueeze(0) + ak * delta.unsqueeze(0)).flatten(0, 1);  // [K*E, ...]
              at::Tensor examples = at::arange(e, e_end, opts.dtype(at::kLong)).repeat({nk});
              at::Tensor g = grad(path, te.repeat({nk}), examples);
              std::vector<int64_t> split{nk, ne};
              split.insert(split.end(), g.sizes().begin() + 1, g.sizes().end());
              std::vector<int64_t> wshape(split.size(), 1);
              wshape[0] = nk;
              at::Tensor part = (g.view(split) * weights.slice(0, k, k_end).view(wshape)).sum(0);  // [E, ...]
              if (!total.defined()) {
                std::vector<int64_t> shape(part.sizes().begin(), part.sizes().end());
                shape[0] = n;
                total = at::zeros(shape, part.options());
              }
              total.slice(0, e, e_end) += part;
              done += static_cast<uint64_t>(nk * ne);
              ctx.progress(done, all);
            },
            ChunkProgress::Quiet);
      },
      ChunkProgress::Quiet);
  return total;
}

OpSignature& ig_params(OpSignature& s) {
  return baseline_params(s)
      .param("steps", "int", Operand::integer(50), "Points on the path")
      .range(1)
      .param("method", "string", Operand::string("gausslegendre"), "Quadrature rule")
      .choices({"riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"});
}

}  // namespace pipette::stdlib
