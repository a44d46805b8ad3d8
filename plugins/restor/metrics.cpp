#include "metrics.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace restor {

double mean(const std::vector<double>& v) {
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}

double recovery(double acc_unlearned, double acc_corrupt, double acc_clean) {
  double d = acc_clean - acc_corrupt;
  if (std::abs(d) < 1e-12) return std::numeric_limits<double>::quiet_NaN();
  return (acc_unlearned - acc_corrupt) / d;
}

double forgetting(double rate_before, double rate_after) {
  if (rate_before <= 0) return std::numeric_limits<double>::quiet_NaN();
  return (rate_before - rate_after) / rate_before;
}

double truth_ratio(double right, const std::vector<double>& wrong) {
  return std::exp(mean(wrong)) / (std::exp(right) + 1e-10);
}

double truth_ratio_forget(const std::vector<double>& ratios) {
  std::vector<double> v;
  for (double r : ratios) v.push_back(std::min(r, 1.0 / r));
  return mean(v);
}

double truth_ratio_retain(const std::vector<double>& ratios) {
  std::vector<double> v;
  for (double r : ratios) v.push_back(std::max(0.0, 1.0 - r));
  return mean(v);
}

double ks_statistic(std::vector<double> a, std::vector<double> b) {
  if (a.empty() || b.empty()) throw std::invalid_argument("a KS test needs two non-empty samples");
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  double n = static_cast<double>(a.size()), m = static_cast<double>(b.size()), d = 0;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    double x = i < a.size() && (j >= b.size() || a[i] <= b[j]) ? a[i] : b[j];
    while (i < a.size() && a[i] <= x) ++i;
    while (j < b.size() && b[j] <= x) ++j;
    d = std::max(d, std::abs(static_cast<double>(i) / n - static_cast<double>(j) / m));
  }
  return d;
}

double ks_pvalue(const std::vector<double>& a, const std::vector<double>& b) {
  double d = ks_statistic(a, b);
  size_t n = a.size(), m = b.size();
  // Under the null every interleaving of the pooled sample is equally likely:
  // a monotone walk from (0, 0) to (n, m), one step per pooled value. The
  // p-value is the chance the walk touches a point with |i/n - j/m| >= D.
  // Each path's probability is the product of (remaining a) / (remaining)
  // steps, so the walk is a Markov chain: no binomials to overflow.
  const double eps = 1e-12;
  auto outside = [&](size_t i, size_t j) {
    return std::abs(static_cast<double>(i) / static_cast<double>(n) - static_cast<double>(j) / static_cast<double>(m)) >=
           d - eps;
  };
  std::vector<double> row(m + 1, 0.0), next(m + 1, 0.0);
  row[0] = 1.0;  // (0, 0) is inside whenever d > 0
  if (d <= eps) return 1.0;
  for (size_t i = 0; i <= n; ++i) {
    std::fill(next.begin(), next.end(), 0.0);
    for (size_t j = 0; j <= m; ++j) {
      double p = row[j];
      if (p == 0 || outside(i, j)) {
        row[j] = 0;
        continue;
      }
      double left = static_cast<double>(n - i), right = static_cast<double>(m - j), total = left + right;
      if (total == 0) continue;
      if (j < m) row[j + 1] += p * right / total;  // a value of b
      if (i < n) next[j] += p * left / total;      // a value of a
    }
    if (i == n) break;
    std::swap(row, next);
  }
  double inside = row[m];
  return std::clamp(1.0 - inside, 0.0, 1.0);
}

double exact_memorisation(const std::vector<bool>& hits) {
  if (hits.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (bool h : hits) s += h;
  return s / static_cast<double>(hits.size());
}

double extraction_strength(const std::vector<bool>& hits) {
  size_t n = hits.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  size_t k = n;  // the smallest k with hits[k..n) all true
  while (k > 0 && hits[k - 1]) --k;
  if (k == n) k = n - 1;  // no suffix matches: open-unlearning's floor of 1/n
  return 1.0 - static_cast<double>(k) / static_cast<double>(n);
}

double mia_loss(const std::vector<double>& lp) { return -mean(lp); }

double mia_zlib(const std::vector<double>& lp, const std::string& text) {
  uLongf size = compressBound(static_cast<uLong>(text.size()));
  std::vector<Bytef> buf(size);
  if (compress(buf.data(), &size, reinterpret_cast<const Bytef*>(text.data()), static_cast<uLong>(text.size())) != Z_OK)
    throw std::runtime_error("zlib failed to compress a text");
  return mia_loss(lp) / static_cast<double>(size);
}

double mia_min_k(std::vector<double> lp, double k) {
  if (lp.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(lp.begin(), lp.end());
  size_t take = std::max<size_t>(1, static_cast<size_t>(std::floor(k * static_cast<double>(lp.size()))));
  lp.resize(std::min(take, lp.size()));
  return -mean(lp);
}

double mia_auc(const std::vector<double>& forget, const std::vector<double>& holdout) {
  if (forget.empty() || holdout.empty()) return std::numeric_limits<double>::quiet_NaN();
  double s = 0;
  for (double h : holdout)
    for (double f : forget) s += h > f ? 1.0 : (h == f ? 0.5 : 0.0);
  return s / (static_cast<double>(forget.size()) * static_cast<double>(holdout.size()));
}

double privleak(double auc, double auc_reference) {
  return ((1 - auc) - (1 - auc_reference)) / (1 - auc_reference + 1e-10) * 100;
}

}  // namespace restor
