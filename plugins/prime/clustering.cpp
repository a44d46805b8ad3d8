#include "clustering.hpp"

#include <cmath>

namespace prime {

namespace {

at::Tensor squared_distances(const at::Tensor& x, const at::Tensor& centres) {
  return (x.pow(2).sum(1, true) - 2 * x.matmul(centres.t()) + centres.pow(2).sum(1).unsqueeze(0)).clamp_min(0);
}

// k-means++: each new centre drawn with probability proportional to the
// squared distance to the nearest centre chosen so far.
at::Tensor seed_centres(const at::Tensor& x, int64_t k, at::Generator& gen) {
  int64_t n = x.size(0);
  std::vector<int64_t> chosen{at::randint(n, {1}, gen, x.options().dtype(at::kLong)).item<int64_t>()};
  at::Tensor nearest = squared_distances(x, x[chosen[0]].unsqueeze(0)).view(-1);
  for (int64_t c = 1; c < k; ++c) {
    at::Tensor weights = nearest.sum().item<double>() > 0 ? nearest : at::ones_like(nearest);
    int64_t next = at::multinomial(weights, 1, false, gen).item<int64_t>();
    chosen.push_back(next);
    nearest = at::minimum(nearest, squared_distances(x, x[next].unsqueeze(0)).view(-1));
  }
  return x.index_select(0, at::tensor(chosen, at::kLong));
}

}  // namespace

at::Tensor kmeans(const at::Tensor& x, int64_t k, int64_t iterations, at::Generator gen) {
  at::Tensor centres = seed_centres(x, k, gen);
  at::Tensor assign;
  for (int64_t it = 0; it < iterations; ++it) {
    at::Tensor next = squared_distances(x, centres).argmin(1);
    if (assign.defined() && next.equal(assign)) break;
    assign = next;
    at::Tensor onehot = at::one_hot(assign, k).to(x.scalar_type());  // [n, k]
    at::Tensor counts = onehot.sum(0);
    at::Tensor sums = onehot.t().matmul(x);
    // An empty cluster keeps its centre rather than becoming NaN.
    centres = at::where(counts.unsqueeze(1) > 0, sums / counts.clamp_min(1).unsqueeze(1), centres);
  }
  return assign;
}

at::Tensor gaussian_mixture(const at::Tensor& x, int64_t k, int64_t iterations, at::Generator gen) {
  int64_t n = x.size(0), d = x.size(1);
  at::Tensor start = kmeans(x, k, 50, gen);
  at::Tensor resp = at::one_hot(start, k).to(x.scalar_type());  // [n, k]
  // A floor on variances keeps a cluster of identical points from collapsing.
  double floor = 1e-6 * (x.var(0, false).mean().item<double>() + 1e-12);
  at::Tensor log_likelihood;
  for (int64_t it = 0; it < iterations; ++it) {
    // M step.
    at::Tensor nk = resp.sum(0) + 1e-10;                          // [k]
    at::Tensor mean = resp.t().matmul(x) / nk.unsqueeze(1);       // [k, d]
    at::Tensor var = resp.t().matmul(x.pow(2)) / nk.unsqueeze(1) - mean.pow(2);
    var = var.clamp_min(floor);
    at::Tensor weight = nk / n;
    // E step: log N(x | mean, diag var) + log weight, normalised per row.
    at::Tensor inv = 1.0 / var;                                   // [k, d]
    at::Tensor quad = x.pow(2).matmul(inv.t()) - 2 * x.matmul((mean * inv).t()) +
                      (mean.pow(2) * inv).sum(1).unsqueeze(0);    // [n, k]
    at::Tensor log_p = -0.5 * (quad + var.log().sum(1).unsqueeze(0) + d * std::log(2 * M_PI)) +
                       weight.log().unsqueeze(0);
    at::Tensor norm = log_p.logsumexp(1, true);
    resp = (log_p - norm).exp();
    at::Tensor ll = norm.mean();
    if (log_likelihood.defined() && (ll - log_likelihood).abs().item<double>() < 1e-8) break;
    log_likelihood = ll;
  }
  return resp.argmax(1);
}

}  // namespace prime
