#include "stdlib/attr/hook_point.hpp"

#include "stdlib/model/model_util.hpp"

namespace pipette::stdlib {

OpSignature& hook_params(OpSignature& s) {
  return s.param("layer", "string", Operand::string("features"),
                 "Hook point: the path of a submodule or method call (features.2, layer1.0.conv2; model.hooks "
                 "lists them), or path:input for its input");
}

std::pair<at::Tensor, at::Tensor> HookPoint::run(const at::Tensor& x, bool leaf) {
  InterventionPlan plan({Intervention{site, leaf ? Intervention::Mode::Leaf : Intervention::Mode::Capture}});
  ActivePlan active(plan);
  at::Tensor out = logits_of(model.module, x);
  return {plan.captured(site), out};
}

at::Tensor HookPoint::output_with(const at::Tensor& x, const at::Tensor& value) {
  Intervention iv{site, Intervention::Mode::Replace};
  iv.value = value;
  InterventionPlan plan({iv});
  ActivePlan active(plan);
  at::Tensor out = logits_of(model.module, x);
  plan.check_reached();
  return out;
}

HookPoint hook_of(const OpArgs& a, const torch::jit::Module& m) {
  HookedModel h = hooked(m);
  HookSite site = h.find(a.string("layer")).site;
  return HookPoint{std::move(h), std::move(site)};
}

}  // namespace pipette::stdlib
