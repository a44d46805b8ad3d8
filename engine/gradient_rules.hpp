// Gradient rules at nonlinearities: a plan that makes every ReLU module of a
// hooked model pass gradients back by another rule than the chain rule, as
// Captum's GuidedBackprop and Deconvolution override nn.ReLU's backward pass.
// The forward pass is unchanged. Like Captum, only ReLU modules are
// overridden: a functional torch.relu in forward code is not a hook point.
// DeepLift's rescale and LRP's rules will be more rules on the same plan.
#pragma once

#include <string>
#include <unordered_map>

#include "engine/hook_points.hpp"

namespace pipette {

enum class ReluRule {
  Guided,          // relu(grad_out * (x > 0)): Springenberg et al., 2015
  Deconvolution,   // relu(grad_out), whatever x was: Zeiler and Fergus, 2014
};

class PIPETTE_API ReluRulePlan : public HookPlan {
 public:
  ReluRulePlan(const HookedModel& model, ReluRule rule);
  at::Tensor visit(const HookSite& site, const at::Tensor& value) override;
  // How many ReLU modules the model has (0: the rule changes nothing).
  int relus() const { return relus_; }

 private:
  ReluRule rule_;
  int relus_ = 0;
  std::unordered_map<std::string, bool> is_relu_;  // by module path
  std::unordered_map<std::string, at::Tensor> inputs_;  // the current call's input, by path
};

}  // namespace pipette
