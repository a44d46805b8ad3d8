#include "metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

namespace watermark {

Roc roc(const at::Tensor& watermarked, const at::Tensor& clean) {
  if (watermarked.dim() != 1 || clean.dim() != 1 || watermarked.numel() == 0 || clean.numel() == 0)
    throw std::invalid_argument("roc needs two non-empty 1-D score tensors (watermarked, clean)");
  auto w = watermarked.to(at::kDouble).contiguous().cpu();
  auto c = clean.to(at::kDouble).contiguous().cpu();
  if (!at::isfinite(w).all().item<bool>() || !at::isfinite(c).all().item<bool>())
    throw std::invalid_argument("roc: scores must be finite");
  std::vector<double> ws(w.data_ptr<double>(), w.data_ptr<double>() + w.numel());
  std::vector<double> cs(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
  std::sort(ws.begin(), ws.end());
  std::sort(cs.begin(), cs.end());
  std::vector<double> thresholds(ws);
  thresholds.insert(thresholds.end(), cs.begin(), cs.end());
  std::sort(thresholds.begin(), thresholds.end());
  thresholds.erase(std::unique(thresholds.begin(), thresholds.end()), thresholds.end());
  thresholds.push_back(std::numeric_limits<double>::infinity());
  auto at_least = [](const std::vector<double>& v, double t) {
    return static_cast<double>(v.end() - std::lower_bound(v.begin(), v.end(), t)) / static_cast<double>(v.size());
  };
  Roc r;
  r.threshold = at::tensor(thresholds, at::kDouble);
  std::vector<double> tpr, fpr;
  for (double t : thresholds) {
    tpr.push_back(at_least(ws, t));
    fpr.push_back(at_least(cs, t));
  }
  r.tpr = at::tensor(tpr, at::kDouble);
  r.fpr = at::tensor(fpr, at::kDouble);
  // Mann-Whitney: for each watermarked score, the clean ones below it, ties half.
  double wins = 0;
  for (double s : ws) {
    auto lo = std::lower_bound(cs.begin(), cs.end(), s), hi = std::upper_bound(cs.begin(), cs.end(), s);
    wins += static_cast<double>(lo - cs.begin()) + 0.5 * static_cast<double>(hi - lo);
  }
  r.auroc = wins / (static_cast<double>(ws.size()) * static_cast<double>(cs.size()));
  r.tpr_at_1pct = tpr_at_fpr(r, 0.01);
  r.tpr_at_01pct = tpr_at_fpr(r, 0.001);
  return r;
}

double tpr_at_fpr(const Roc& r, double max_fpr) {
  double best = 0;
  auto t = r.tpr.accessor<double, 1>();
  auto f = r.fpr.accessor<double, 1>();
  for (int64_t i = 0; i < r.tpr.size(0); ++i)
    if (f[i] <= max_fpr + 1e-12) best = std::max(best, t[i]);
  return best;
}

namespace {

void check_pair(const at::Tensor& a, const at::Tensor& b, const char* what) {
  if (a.dim() != 4 || a.sizes() != b.sizes())
    throw std::invalid_argument(std::string(what) + " compares two image batches of the same shape [N, C, H, W], got " +
                                std::string(c10::str(a.sizes())) + " and " + std::string(c10::str(b.sizes())));
}

}  // namespace

at::Tensor psnr(const at::Tensor& a, const at::Tensor& b) {
  check_pair(a, b, "psnr");
  auto mse = (a.to(at::kDouble) - b.to(at::kDouble)).pow(2).flatten(1).mean(1);
  return (10.0 * at::log10(1.0 / mse)).to(at::kFloat);  // 1/0 = inf for identical images
}

at::Tensor ssim(const at::Tensor& a, const at::Tensor& b) {
  check_pair(a, b, "ssim");
  const int64_t size = 11;
  const double sigma = 1.5, c1 = 0.01 * 0.01, c2 = 0.03 * 0.03;
  if (a.size(2) < size || a.size(3) < size)
    throw std::invalid_argument("ssim needs images of at least 11x11 pixels (its window)");
  // Separable, as two matrix products with banded matrices whose rows hold
  // the 11 weights: BLAS does in milliseconds what LibTorch's CPU convolutions
  // (without oneDNN) or a sliding-window copy take seconds for. In float, with
  // variances and the covariance computed on images centred on their own mean
  // (they do not change), which keeps float's rounding far below C2.
  auto o = a.options().dtype(at::kFloat);
  auto x = at::arange(size, o) - (size - 1) / 2.0;
  auto g = at::exp(-(x * x) / (2 * sigma * sigma));
  g = g / g.sum();
  auto banded = [&](int64_t length) {  // [length - 10, length]: row i = weights at columns i..i+10
    auto m = at::zeros({length - size + 1, length}, o);
    for (int64_t i = 0; i < length - size + 1; ++i) m[i].slice(0, i, i + size).copy_(g);
    return m;
  };
  auto gh = banded(a.size(2)), gw = banded(a.size(3)).t();
  const int64_t n = a.size(0);
  auto filter = [&](const at::Tensor& t) { return at::matmul(gh, at::matmul(t, gw)).reshape({n, -1}); };  // valid positions
  auto xa = a.to(at::kFloat), xb = b.to(at::kFloat);
  auto ma = filter(xa), mb = filter(xb);
  auto ca = xa - xa.mean({1, 2, 3}, true), cb = xb - xb.mean({1, 2, 3}, true);
  auto fa = filter(ca), fb = filter(cb);
  auto va = filter(ca * ca) - fa * fa, vb = filter(cb * cb) - fb * fb, cov = filter(ca * cb) - fa * fb;
  auto map = ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
  return map.mean(1);
}

}  // namespace watermark
