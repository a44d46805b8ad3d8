#include "stdlib/attr/features.hpp"


namespace pipette::stdlib {

OpSignature& feature_mask_param(OpSignature& s) {
  return s.optional("feature_mask", "tensor",
                    "Integer feature of each element, 0..F-1, broadcastable to one input (e.g. [H, W] or "
                    "[1, 1, H, W] for images, or [N, ...] per example); see attr.feature_grid. None = every "
                    "element its own feature");
}

Features features_of(const OpArgs& a, const at::Tensor& x) {
  Features f;
  std::vector<int64_t> one(x.sizes().begin(), x.sizes().end());
  one[0] = 1;
  if (a.is_none("feature_mask")) {
    f.count = x.numel() / std::max<int64_t>(1, x.size(0));
    f.mask = at::arange(f.count, x.options().dtype(at::kLong)).view(one);
    return f;
  }
  at::Tensor m = a.tensor("feature_mask").to(x.device(), at::kLong);
  while (m.dim() < x.dim()) m = m.unsqueeze(0);
  bool fits = m.dim() == x.dim() && (m.size(0) == 1 || m.size(0) == x.size(0));
  for (int64_t d = 1; fits && d < x.dim(); ++d) fits = m.size(d) == 1 || m.size(d) == x.size(d);
  if (!fits)
    throw OpError("feature_mask " + describe(Value(m)) + " does not broadcast to the inputs " + describe(Value(x)));
  if (m.numel() == 0 || m.min().item<int64_t>() < 0)
    throw OpError("feature_mask must number features 0, 1, 2, ...; it holds a negative value");
  f.count = m.max().item<int64_t>() + 1;
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape[0] = m.size(0);
  f.mask = m.expand(shape).contiguous();
  return f;
}

at::Tensor spread(const at::Tensor& per_feature, const Features& f, const at::Tensor& x) {
  // per_feature [*, N, T, F]; the mask [N or 1, ...] flattened to [N or 1, D].
  int64_t n = x.size(0), d = x.numel() / std::max<int64_t>(1, n);
  at::Tensor flat = f.mask.reshape({f.mask.size(0), d}).expand({n, d});
  std::vector<int64_t> lead(per_feature.sizes().begin(), per_feature.sizes().end() - 1);  // [*, N, T]
  std::vector<int64_t> index_shape = lead;
  index_shape.push_back(d);
  std::vector<int64_t> view(lead.size() + 1, 1);
  view[lead.size() - 2] = n;
  view.back() = d;
  at::Tensor index = flat.view(view).expand(index_shape);
  at::Tensor out = per_feature.gather(-1, index);  // [*, N, T, D]
  std::vector<int64_t> shape = lead;
  shape.insert(shape.end(), x.sizes().begin() + 1, x.sizes().end());
  return out.reshape(shape);
}

at::Tensor keep_from_presence(const at::Tensor& presence, const Features& f) {
  std::vector<int64_t> shape{presence.size(0)};
  shape.insert(shape.end(), f.mask.sizes().begin(), f.mask.sizes().end());
  return presence.index_select(1, f.mask.flatten()).view(shape);
}

}  // namespace pipette::stdlib
