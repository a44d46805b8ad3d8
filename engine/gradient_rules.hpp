// Gradient rules at modules: plans that make modules of a hooked model pass
// gradients back by another rule than the chain rule, with the forward pass
// unchanged. ReluRulePlan is Captum's GuidedBackprop and Deconvolution (ReLU
// modules); RescaleRulePlan is DeepLift's rescale rule (nonlinear modules, on a
// batch of inputs and their baselines). Like Captum, only modules are
// overridden: a functional torch.relu in forward code is not a hook point.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

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

// DeepLift's rescale rule (Shrikumar et al., 2017), as Captum's DeepLift: the
// model runs a batch [inputs; baselines] (two halves of equal size) and every
// nonlinear module passes back its gradient times the multiplier
// (f(x) - f(b)) / (x - b) of each element, where |x - b| >= 1e-10, and its
// plain gradient elsewhere. Element-wise modules (ReLU, ELU, LeakyReLU,
// Sigmoid, Tanh, Softplus, GELU, SiLU, ...) take the multiplier per element;
// max-pooling (MaxPool1d/2d/3d) takes Captum's rule: the output differences
// against the larger of the two halves, routed back by each half's argmax and
// summed. Linear modules (linear, convolution, average pooling, batch norm in
// eval mode) keep the chain rule, which is their multiplier already.
class PIPETTE_API RescaleRulePlan : public HookPlan {
 public:
  explicit RescaleRulePlan(const HookedModel& model);
  at::Tensor visit(const HookSite& site, const at::Tensor& value) override;
  // How many modules the rule applies to (0: DeepLift would be input x gradient).
  int modules() const { return static_cast<int>(kinds_.size()); }
  // Modules DeepLift has no rule for here (Softmax: Captum's normalises over
  // the whole batch), as "path (Type)": callers refuse such models.
  const std::vector<std::string>& unsupported() const { return unsupported_; }

 private:
  enum class Kind { Elementwise, MaxPool };
  std::unordered_map<std::string, Kind> kinds_;  // by module path
  std::vector<std::string> unsupported_;
  std::unordered_map<std::string, at::Tensor> inputs_;
};

// Gradient rules with a capture (a layer method's leaf at a hook point), the
// rules innermost: a site's input goes through the capture and then the rules,
// its output through the rules and then the capture, so the capture holds the
// values passed between modules and the rules route gradients to it.
class PIPETTE_API RulesAndCapture : public HookPlan {
 public:
  RulesAndCapture(HookPlan& rules, HookPlan& capture) : rules_(rules), capture_(capture) {}
  at::Tensor visit(const HookSite& site, const at::Tensor& value) override {
    if (site.input) return rules_.visit(site, capture_.visit(site, value));
    return capture_.visit(site, rules_.visit(site, value));
  }

 private:
  HookPlan& rules_;
  HookPlan& capture_;
};

}  // namespace pipette
