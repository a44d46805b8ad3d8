// attr.*: attribution methods, named and parameterised as in Captum.
#include <ATen/ATen.h>
#include <Eigen/Eigenvalues>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include <cmath>

#include "stdlib/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

OpSignature& common(OpSignature& s) {
  return s.input("model", "model", "The classifier to explain")
      .input("inputs", "tensor", "Inputs to explain, batched along the first dimension")
      .optional("target", "int|tensor", "Output index to explain: one for all, or one per example; none = predicted");
}

// Working memory for one example's forward and backward pass: activations and
// their gradients of a small network, as a multiple of the example's own bytes.
constexpr int64_t kGradientBytesFactor = 64;

int64_t example_bytes(const at::Tensor& x) { return x.numel() / std::max<int64_t>(1, x.size(0)) * x.element_size(); }

// d/dx of sum_i F(x)[i, target[i]]: one backward pass for the whole batch.
at::Tensor target_gradient(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target) {
  at::Tensor xi = x.detach().requires_grad_(true);
  at::Tensor out = logits_of(m, xi);
  if (out.dim() != 2) throw OpError("attribution needs outputs [N, classes]; the model returned " + describe(Value(out)));
  at::Tensor picked = out.gather(1, target.view({-1, 1})).sum();
  return torch::autograd::grad({picked}, {xi})[0];
}

// Gradients for every example, chunked under the budget.
at::Tensor gradients(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, OpContext& ctx) {
  int64_t n = x.size(0), chunk = items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0; i < n; i += chunk) {
    if (ctx.cancelled()) throw OpError("cancelled");
    parts.push_back(target_gradient(m, x.slice(0, i, i + chunk), target.slice(0, i, i + chunk)));
    ctx.progress(static_cast<uint64_t>(std::min(i + chunk, n)), static_cast<uint64_t>(n));
  }
  return at::cat(parts, 0);
}

struct Quadrature {
  std::vector<double> alphas, weights;
};

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

at::Tensor baselines_for(const OpArgs& a, const at::Tensor& x) {
  const Value& b = a["baselines"];
  if (b.isDouble() || b.isInt()) return at::full_like(x, b.isInt() ? static_cast<double>(b.toInt()) : b.toDouble());
  at::Tensor t = a.tensor("baselines").to(x.device(), x.scalar_type());
  try {
    return t.expand_as(x).contiguous();
  } catch (const c10::Error&) {
    throw OpError("baselines " + describe(Value(t)) + " do not broadcast to the inputs " + describe(Value(x)));
  }
}

}  // namespace

void register_attr(OpLibrary& lib) {
  OpSignature saliency("attr.saliency", "Gradient of the target output with respect to the inputs (Simonyan et al.).");
  common(saliency).param("abs", "bool", Operand::boolean(true), "Take absolute values, as Captum does by default");
  lib.define(saliency.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    at::Tensor g = gradients(m, x, targets_for(a, "target", m, x), ctx);
    return Value(a.bool_("abs") ? g.abs() : g);
  });

  OpSignature ixg("attr.input_x_gradient", "Inputs times the gradient of the target output (Shrikumar et al.).");
  lib.define(common(ixg).returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    return Value(x * gradients(m, x, targets_for(a, "target", m, x), ctx));
  });

  OpSignature ig("attr.integrated_gradients",
                 "Integrated Gradients (Sundararajan et al., 2017): the path integral of gradients from a "
                 "baseline to the input, (x - b) * sum_k w_k dF/dx(b + a_k (x - b)). Path points for all "
                 "examples are evaluated together, chunked under the memory budget.");
  common(ig)
      .param("baselines", "float|tensor", Operand::real(0.0), "Reference input: a scalar fill or a tensor")
      .param("steps", "int", Operand::integer(50), "Points on the path")
      .range(1)
      .param("method", "string", Operand::string("gausslegendre"), "Quadrature rule")
      .choices({"riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre"});
  lib.define(ig.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    at::Tensor b = baselines_for(a, x);
    at::Tensor target = targets_for(a, "target", m, x);
    Quadrature q = quadrature(a.string("method"), a.int_("steps"));
    int64_t n = x.size(0), steps = static_cast<int64_t>(q.alphas.size());
    auto opts = x.options();
    at::Tensor alphas = at::tensor(q.alphas, at::kDouble).to(opts);
    at::Tensor weights = at::tensor(q.weights, at::kDouble).to(opts);
    // One chunk holds E examples x K path points.
    int64_t chunk = items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n * steps);
    int64_t per_examples = std::min(n, chunk), per_steps = std::max<int64_t>(1, chunk / std::max<int64_t>(1, n));
    std::vector<int64_t> point_shape(x.dim() + 1, 1);
    point_shape[0] = -1;
    at::Tensor total = at::zeros_like(x);
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
        std::vector<int64_t> split_shape{nk, ne};
        split_shape.insert(split_shape.end(), x.sizes().begin() + 1, x.sizes().end());
        at::Tensor g = target_gradient(m, path, te.repeat({nk})).view(split_shape);  // [K, E, ...]
        total.slice(0, e, e + ne) += (g * weights.slice(0, k, k + per_steps).view(point_shape)).sum(0);
        done += static_cast<uint64_t>(nk * ne);
        ctx.progress(done, all);
      }
    }
    return Value(total * (x - b));
  });
}

}  // namespace pipette::stdlib
