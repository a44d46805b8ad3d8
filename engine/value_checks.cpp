#include "engine/value_checks.hpp"

#include <torch/script.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "engine/dataset.hpp"
#include "engine/op_impl.hpp"
#include "engine/value_io.hpp"

namespace pipette {

namespace {

std::string index_text(const std::vector<int64_t>& idx) {
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) s.append(i ? ", " : "").append(std::to_string(idx[i]));
  s += "]";
  return s;
}

// Scanned in slices of a million elements: the mask of a large tensor would
// cost a quarter of its size again.
std::optional<NonFinite> scan_tensor(const at::Tensor& t0) {
  if (!t0.defined() || !(t0.is_floating_point() || t0.is_complex()) || t0.numel() == 0) return std::nullopt;
  at::Tensor t = t0.detach().reshape(-1);
  constexpr int64_t kSlice = int64_t{1} << 20;
  std::optional<NonFinite> found;
  for (int64_t i = 0; i < t.numel(); i += kSlice) {
    at::Tensor part = t.slice(0, i, std::min(t.numel(), i + kSlice));
    at::Tensor bad = part.isfinite().logical_not();
    if (!bad.any().item<bool>()) continue;
    if (!found) {
      found.emplace();
      found->shape.assign(t0.sizes().begin(), t0.sizes().end());
      found->total = t0.numel();
      int64_t flat = i + bad.nonzero()[0][0].item<int64_t>();
      std::vector<int64_t> idx(t0.dim());
      for (int64_t d = t0.dim() - 1; d >= 0; --d) {
        idx[static_cast<size_t>(d)] = flat % t0.size(d);
        flat /= t0.size(d);
      }
      found->first = idx;
    }
    found->nan += part.isnan().sum().item<int64_t>();
    found->inf += bad.sum().item<int64_t>() - part.isnan().sum().item<int64_t>();
  }
  return found;
}

}  // namespace

std::optional<NonFinite> find_nonfinite(const Value& v) {
  if (v.isTensor()) return scan_tensor(v.toTensor());
  if (v.isDouble()) {
    double d = v.toDouble();
    if (std::isfinite(d)) return std::nullopt;
    NonFinite f;
    f.total = 1;
    (std::isnan(d) ? f.nan : f.inf) = 1;
    return f;
  }
  if (v.isList()) {
    size_t i = 0;
    for (const auto& it : v.toListRef()) {
      if (auto f = find_nonfinite(it)) {
        f->path = fmt::format("[{}]{}", i, f->path);
        return f;
      }
      ++i;
    }
  }
  if (v.isGenericDict()) {
    for (const auto& kv : v.toGenericDict()) {
      if (auto f = find_nonfinite(kv.value())) {
        f->path = fmt::format(".{}{}", kv.key().toStringRef(), f->path);
        return f;
      }
    }
  }
  return std::nullopt;
}

std::string describe_nonfinite(const NonFinite& f) {
  std::string what;
  if (f.nan) what += fmt::format("{} NaN", f.nan);
  if (f.inf) what += fmt::format("{}{} Inf", what.empty() ? "" : " and ", f.inf);
  if (!f.path.empty()) what += fmt::format(" in {}", f.path);
  if (!f.first.empty()) what += fmt::format(" (first at {}, of {} values)", index_text(f.first), f.total);
  return what;
}

void check_images(const at::Tensor& x, const std::string& what, const std::vector<int64_t>& channels) {
  if (x.dim() != 4)
    throw OpError(fmt::format("{} must be images [N, C, H, W], got a tensor of {} dimensions", what, x.dim()));
  if (!channels.empty() && std::find(channels.begin(), channels.end(), x.size(1)) == channels.end())
    throw OpError(fmt::format("{} must have {} channels, got {}", what, fmt::join(channels, " or "), x.size(1)));
  if (!x.is_floating_point())
    throw OpError(fmt::format("{} must be floating point in [0, 1], found {}{}", what, dtype_name(x.scalar_type()),
                              x.scalar_type() == at::kByte ? " (divide 8-bit images by 255: tensor.div(x, 255.0))" : ""));
  if (x.numel() == 0) return;
  auto [lo_t, hi_t] = at::aminmax(x);
  double lo = lo_t.item<double>(), hi = hi_t.item<double>();
  if (!(lo >= -1e-6 && hi <= 1 + 1e-6))
    throw OpError(fmt::format("{} must lie in [0, 1], found values in [{:.3g}, {:.3g}]{}", what, lo, hi,
                              hi > 1 && hi <= 255 ? " (divide 8-bit images by 255)" : ""));
}

std::optional<at::ScalarType> model_dtype(const Value& model) {
  if (!model.isObject()) return std::nullopt;
  torch::jit::Module m(model.toObject());
  for (const at::Tensor& p : m.parameters())
    if (p.is_floating_point()) return p.scalar_type();
  for (const at::Tensor& b : m.buffers())
    if (b.is_floating_point()) return b.scalar_type();
  return std::nullopt;
}

}  // namespace pipette
