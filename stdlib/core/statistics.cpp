#include "stdlib/core/statistics.hpp"

#include <cmath>

namespace pipette::stdlib {

double incomplete_beta(double a, double b, double x) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(b, a, 1 - x);
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x)) / a;
  double f = 1, c = 1, d = 0;
  for (int i = 0; i <= 400; ++i) {
    int m = i / 2;
    double num = i == 0 ? 1
                 : i % 2 == 0 ? (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m))
                              : -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + num * d;
    d = std::abs(d) < 1e-300 ? 1e-300 : d;
    d = 1 / d;
    c = 1 + num / c;
    c = std::abs(c) < 1e-300 ? 1e-300 : c;
    double cd = c * d;
    f *= cd;
    if (std::abs(1 - cd) < 1e-15) break;
  }
  return front * (f - 1);
}

double t_test_p_value(const at::Tensor& a, const at::Tensor& b) {
  const double na = static_cast<double>(a.numel()), nb = static_cast<double>(b.numel());
  const double ma = a.mean().item<double>(), mb = b.mean().item<double>();
  const double va = na > 1 ? a.var(true).item<double>() : 0, vb = nb > 1 ? b.var(true).item<double>() : 0;
  const double dof = na + nb - 2;
  const double pooled = ((na - 1) * va + (nb - 1) * vb) / dof;
  const double se = std::sqrt(pooled * (1 / na + 1 / nb));
  if (se == 0) return ma == mb ? std::nan("") : 0.0;
  const double t = (ma - mb) / se;
  return incomplete_beta(dof / 2, 0.5, dof / (dof + t * t));
}

}  // namespace pipette::stdlib
