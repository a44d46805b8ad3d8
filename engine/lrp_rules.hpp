// Layer-wise relevance propagation (Bach et al., 2015) as a gradient rule
// plan: each linear module (Linear, Conv1d/2d/3d) passes relevance back by
// its rule, activations and batch norm pass it through, average pooling
// normalises it; the forward pass is unchanged. The rules are Zennit's
// (zennit.rules, the same modifiers of inputs and parameters, the same
// stabiliser) and so are its composites (EpsilonPlusFlat, EpsilonGammaBox,
// ...): which rule each module gets, overridden per module by path.
// Relevance flows as the gradient does, so the attribution is the gradient at
// the input of a target output seeded with its own value (as Captum's LRP:
// the relevance sums to F_t(x) where no bias or stabiliser absorbs any).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/hook_points.hpp"

namespace pipette {

struct LrpRule {
  // gradient: the chain rule (no hook); pass: relevance through unchanged;
  // norm: x * J^T (R / z) with no parameters changed (average pooling).
  enum class Kind { Gradient, Pass, Norm, Epsilon, Gamma, ZPlus, AlphaBeta, Flat, WSquare, ZBox };
  Kind kind = Kind::Gradient;
  double epsilon = 1e-6;     // Epsilon: added to the denominator with its sign
  double gamma = 0.25;       // Gamma
  double alpha = 2, beta = 1;  // AlphaBeta: alpha - beta = 1
  double stabilizer = 1e-6;  // the other rules' epsilon
  double low = 0, high = 1;  // ZBox: the inputs' bounds
  bool zero_bias = false;    // Zennit's zero_params=["bias"]
};

// "epsilon", "gamma", "zplus", "alpha2beta1", "alpha1beta0", "flat",
// "wsquare", "zbox", "pass", "norm", "gradient"; an OpError naming the choices.
PIPETTE_API LrpRule::Kind lrp_rule_kind(const std::string& name);
PIPETTE_API std::string lrp_rule_name(LrpRule::Kind kind);

struct LrpSettings {
  std::string composite = "epsilon_plus_flat";
  double epsilon = 1e-6, gamma = 0.25, stabilizer = 1e-6, low = 0, high = 1;
  bool zero_bias = false;
  // Overrides, in order, by module path or glob ("features.0", "classifier.*"): rule names.
  std::vector<std::pair<std::string, std::string>> overrides;
};

// The composites' names: epsilon (every linear module), epsilon_plus,
// epsilon_plus_flat, epsilon_alpha2_beta1, epsilon_alpha2_beta1_flat,
// epsilon_gamma_box, alpha2_beta1, zplus.
PIPETTE_API const std::vector<std::string>& lrp_composites();

// Which rule each module of `model` gets (by path), as Zennit's composite of
// that name maps module types, the first linear module (in forward order)
// getting the composite's first-layer rule, then the overrides. Modules
// without a rule are absent (the chain rule: max pooling, as in Zennit).
PIPETTE_API std::map<std::string, LrpRule> lrp_rules(const HookedModel& model, const LrpSettings& settings);

class PIPETTE_API LrpPlan : public HookPlan {
 public:
  // Throws OpError when a rule that changes parameters is on a module pipette
  // cannot call alone (a .pt2 program's layers) or that is not linear.
  LrpPlan(const HookedModel& model, std::map<std::string, LrpRule> rules);
  ~LrpPlan() override;
  at::Tensor visit(const HookSite& site, const at::Tensor& value) override;
  const std::map<std::string, LrpRule>& rules() const { return rules_; }

  struct Layer;  // a module with its rule and its modified copies (lrp_rules.cpp)

 private:
  std::map<std::string, LrpRule> rules_;
  std::unordered_map<std::string, std::shared_ptr<Layer>> layers_;
  std::unordered_map<std::string, at::Tensor> inputs_;
  std::map<std::string, std::string> types_;   // module types by path
  std::map<std::string, at::Tensor> biases_;   // epsilon with zero_bias: the bias left out of the denominator
};

}  // namespace pipette
