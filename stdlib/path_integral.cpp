#include "stdlib/path_integral.hpp"

#include <Eigen/Eigenvalues>

#include <cmath>

#include "stdlib/model_util.hpp"

namespace pipette::stdlib {

// The points on the path and their weights, as Captum defines them.
Quadrature quadrature(const std::string& method, int64_t n) {
  Quadrature q;
  auto dn = static_cast<double>(n);
  if (method == "gausslegendre") {
    // Golub-Welsch: the nodes are the eigenvalues of the Jacobi matrix of the
    // Legendre polynomials, the weights twice the squared first eigenvector
    // components; then mapped from [-1, 1] to [0, 1].
    Eigen::MatrixXd jacobi = Eigen::MatrixXd::Zero(n, n);
    for (int64_t k = 1; k < n; ++k) {
      double b = static_cast<double>(k) / std::sqrt(4.0 * static_cast<double>(k * k) - 1.0);
      jacobi(k, k - 1) = jacobi(k - 1, k) = b;
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(jacobi);
    for (int64_t i = 0; i < n; ++i) {
      double v0 = eig.eigenvectors()(0, i);
      q.alphas.push_back((eig.eigenvalues()(i) + 1.0) / 2.0);
      q.weights.push_back(v0 * v0);  // 2 v0^2 on [-1, 1], halved on [0, 1]
    }
    return q;
  }
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
  for (int64_t e = 0; e < n; e += per_examples) {
    at::Tensor xe = x.slice(0, e, e + per_examples), be = b.slice(0, e, e + per_examples);
    at::Tensor te = target.slice(0, e, e + per_examples), delta = xe - be;
    int64_t ne = xe.size(0);
    for (int64_t k = 0; k < steps; k += per_steps) {
      if (ctx.cancelled()) throw OpError("cancelled");
      at::Tensor ak = alphas.slice(0, k, k + per_steps).view(point_shape);
      int64_t nk = ak.size(0);
      at::Tensor path = (be.unsqueeze(0) + ak * delta.unsqueeze(0)).flatten(0, 1);  // [K*E, ...]
      at::Tensor g = grad(path, te.repeat({nk}));
      std::vector<int64_t> split{nk, ne};
      split.insert(split.end(), g.sizes().begin() + 1, g.sizes().end());
      std::vector<int64_t> wshape(split.size(), 1);
      wshape[0] = nk;
      at::Tensor part = (g.view(split) * weights.slice(0, k, k + per_steps).view(wshape)).sum(0);  // [E, ...]
      if (!total.defined()) {
        std::vector<int64_t> shape(part.sizes().begin(), part.sizes().end());
        shape[0] = n;
        total = at::zeros(shape, part.options());
      }
      total.slice(0, e, e + ne) += part;
      done += static_cast<uint64_t>(nk * ne);
      ctx.progress(done, all);
    }
  }
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
