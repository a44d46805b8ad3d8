#include "engine/hook_plan.hpp"

#include "engine/op_impl.hpp"
#include "engine/value.hpp"

namespace pipette {

namespace {

std::string shape_of(const at::Tensor& t) {
  std::string s = "[";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + "]";
}

// The site's value [N, ...] as `x` has it; one example's [...] broadcast.
at::Tensor fitted(const at::Tensor& value, const at::Tensor& x, const HookSite& site) {
  at::Tensor v = value.to(x.device(), x.scalar_type());
  if (v.sizes() == x.sizes()) return v;
  if (v.dim() == x.dim() - 1 && v.sizes() == x.sizes().slice(1)) return v.unsqueeze(0).expand_as(x);
  throw OpError("the value for hook point '" + site.name() + "' is " + shape_of(value) + ", but the site holds " +
                shape_of(x) + " on this batch: give one example's " + shape_of(x[0]) + " or the whole batch's");
}

}  // namespace

Intervention::Mode intervention_mode(const std::string& name) {
  if (name == "capture") return Intervention::Mode::Capture;
  if (name == "replace") return Intervention::Mode::Replace;
  if (name == "add") return Intervention::Mode::Add;
  if (name == "scale") return Intervention::Mode::Scale;
  if (name == "zero") return Intervention::Mode::Zero;
  throw OpError("unknown intervention '" + name + "' (replace, add, scale or zero)");
}

InterventionPlan::InterventionPlan(std::vector<Intervention> interventions) : interventions_(std::move(interventions)) {}

at::Tensor InterventionPlan::apply(const Intervention& iv, const at::Tensor& x) const {
  at::Tensor changed;
  switch (iv.mode) {
    case Intervention::Mode::Capture: return x;
    case Intervention::Mode::Leaf: return x.detach().requires_grad_(true);
    case Intervention::Mode::Replace: changed = fitted(iv.value, x, iv.site); break;
    case Intervention::Mode::Add: changed = x + fitted(iv.value, x, iv.site); break;
    case Intervention::Mode::Scale: changed = x * iv.factor; break;
    case Intervention::Mode::Zero: changed = at::zeros_like(x); break;
  }
  if (iv.index.empty()) return changed;
  if (iv.dim < 1 || iv.dim >= x.dim())
    throw OpError("hook point '" + iv.site.name() + "' holds " + shape_of(x) + ": dim=" + std::to_string(iv.dim) +
                  " is not one of its dimensions after the batch (1 to " + std::to_string(x.dim() - 1) + ")");
  int64_t size = x.size(iv.dim);
  at::Tensor mask = at::zeros({size}, x.options().dtype(at::kBool));
  for (int64_t i : iv.index) {
    if (i < -size || i >= size)
      throw OpError("index " + std::to_string(i) + " at hook point '" + iv.site.name() + "': dimension " +
                    std::to_string(iv.dim) + " has " + std::to_string(size) + " entries (" + shape_of(x) + ")");
    mask[i < 0 ? i + size : i] = true;
  }
  std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
  view[static_cast<size_t>(iv.dim)] = size;
  return at::where(mask.view(view), changed, x);
}

at::Tensor InterventionPlan::visit(const HookSite& site, const at::Tensor& value) {
  at::Tensor x = value;
  bool planned = false;
  for (const Intervention& iv : interventions_)
    if (iv.site == site) {
      x = apply(iv, x);
      planned = true;
    }
  // Only the plan's sites are kept: a capture holds its autograd history.
  if (planned) captured_[site.name()] = x;
  return x;
}

const at::Tensor& InterventionPlan::captured(const HookSite& site) const {
  auto it = captured_.find(site.name());
  if (it == captured_.end())
    throw OpError("the forward pass did not reach hook point '" + site.name() +
                  "' (a branch not taken, or a submodule forward does not call)");
  return it->second;
}

void InterventionPlan::check_reached() const {
  for (const Intervention& iv : interventions_) (void)captured(iv.site);
}

}  // namespace pipette
