// Path integrals of gradients from a baseline to the input: the core of
// integrated gradients, in input space or at a hook point.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <string>
#include <vector>

#include "stdlib/attr/attribution.hpp"

namespace pipette::stdlib {

struct Quadrature {
  std::vector<double> alphas, weights;
};

// Points on [0, 1] and their weights for `steps` points, as Captum defines
// riemann_left/right/middle/trapezoid and gausslegendre (numpy's leggauss,
// computed by Newton's method in O(steps) memory). Checks `ctx` for cancellation.
Quadrature quadrature(const std::string& method, int64_t steps, const OpContext* ctx = nullptr);

// baselines, steps and method, as attr.integrated_gradients declares them.
OpSignature& ig_params(OpSignature& s);

// Gradients at points of the path, [K*E, ...] with targets [K*E] -> [K*E, ...].
// `examples` [K*E] says which example (a row of x) each point belongs to: a
// path in a hook point's space needs the input that reaches it.
using PathGradient =
    std::function<at::Tensor(const at::Tensor& points, const at::Tensor& targets, const at::Tensor& examples)>;

// sum_k w_k g(b + a_k (x - b)) for every example [N, ...]; chunked under the
// budget so memory stays flat in the number of steps.
at::Tensor path_integral(const at::Tensor& x, const at::Tensor& b, const at::Tensor& target, const Quadrature& q,
                         OpContext& ctx, const PathGradient& grad);

}  // namespace pipette::stdlib
