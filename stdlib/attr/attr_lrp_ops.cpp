// attr.lrp: layer-wise relevance propagation with Zennit's rules and
// composites (engine/lrp_rules.hpp), rules per module by path.
#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/script.h>

#include "engine/lrp_rules.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

LrpSettings lrp_settings(const OpArgs& a) {
  LrpSettings s;
  s.composite = a.string("composite");
  s.epsilon = a.float_("epsilon");
  s.gamma = a.float_("gamma");
  s.stabilizer = a.float_("stabilizer");
  s.low = a.float_("low");
  s.high = a.float_("high");
  s.zero_bias = a.bool_("zero_bias");
  if (!a.is_none("rules"))
    for (const auto& item : a["rules"].toListRef()) {
      const std::string& text = item.toStringRef();
      auto eq = text.find('=');
      if (eq == std::string::npos || eq == 0 || eq + 1 == text.size())
        throw OpError("rules entry '" + text + "' must be PATH=RULE, e.g. \"features.0=flat\" or \"classifier.*=epsilon\"");
      s.overrides.emplace_back(text.substr(0, eq), text.substr(eq + 1));
    }
  return s;
}

}  // namespace

void register_attr_lrp(OpLibrary& lib) {
  OpSignature s("attr.lrp",
                "Layer-wise relevance propagation (Bach et al., 2015) with Zennit's rules and composites: the "
                "target's output is redistributed layer by layer down to the inputs, each linear module "
                "(Linear, Conv*) by its rule, activations and batch norm passing relevance through, average "
                "pooling normalising it, max pooling routing it to the maximum. The relevance starts at the "
                "target's output value, as Captum's LRP, so it sums to F_t(x) where no bias or stabiliser absorbs "
                "any (Zennit's attr_output=one-hot gives ours divided by F_t(x)).");
  attribution_inputs(s)
      .param("composite", "string", Operand::string("epsilon_plus_flat"),
             "Which rule each module gets, as Zennit's composite of the name: epsilon (LRP-epsilon everywhere), "
             "epsilon_plus (z+ on convolutions, epsilon on Linear), epsilon_plus_flat (and flat on the first "
             "linear module), epsilon_alpha2_beta1 (alpha2-beta1 on convolutions), epsilon_alpha2_beta1_flat, "
             "epsilon_gamma_box (gamma on convolutions, z-box on the first)");
  std::vector<std::string> names = lrp_composites();
  s.choices(names)
      .optional("rules", "list<string>",
                "Rules per module by path or glob, applied after the composite in order: [\"features.0=flat\", "
                "\"classifier.*=epsilon\"]; rules: epsilon, gamma, zplus, alpha2beta1, alpha1beta0, flat, wsquare, "
                "zbox, pass, norm, gradient (the chain rule)")
      .param("epsilon", "float", Operand::real(1e-6), "The epsilon rule's term, added to each denominator with its sign")
      .range(0.0)
      .param("gamma", "float", Operand::real(0.25), "The gamma rule's weight on positive contributions")
      .range(0.0)
      .param("stabilizer", "float", Operand::real(1e-6), "The other rules' denominator term")
      .range(0.0)
      .param("low", "float", Operand::real(0.0), "The z-box rule's lowest input value")
      .param("high", "float", Operand::real(1.0), "The z-box rule's highest input value")
      .param("zero_bias", "bool", Operand::boolean(false),
             "Leave biases out of the rules (Zennit's zero_params=[\"bias\"]): relevance is conserved exactly");
  lib.define(s.returns("tensor", "Relevance, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    HookedModel h = hooked(m);
    LrpPlan plan(h, lrp_rules(h, lrp_settings(a)));
    bool linear = false;
    for (const HookSiteInfo& site : h.sites)
      linear = linear || site.module_type == "Linear" || site.module_type.rfind("Conv", 0) == 0;
    if (!linear)
      throw OpError("attr.lrp found no linear module (torch.nn.Linear, Conv*) to apply a rule at: its answer would be "
                    "the gradient times the output. A model written with functional layers has no modules to hook");
    for (const auto& [path, rule] : plan.rules())
      ctx.log(OpContext::Debug, "LRP rule at " + path + ": " + lrp_rule_name(rule.kind));
    at::Tensor x = input_batch(a, ctx);
    Targets t = targets_of(a, m, x);
    const int64_t n = x.size(0);
    at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
      std::vector<at::Tensor> parts;
      for_chunks(ctx, n, items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n), [&](int64_t i, int64_t e) {
        at::Tensor xs = x.slice(0, i, e).detach().requires_grad_(true);
        at::Tensor relevance;
        {
          ActivePlan active(plan);
          at::Tensor picked = pick_targets(logits_of(h.module, xs), tj.slice(0, i, e).view({-1, 1}));
          // Seeded with the output's own value: d(F * F.detach())/dF = F.
          relevance = torch::autograd::grad({(picked * picked.detach()).sum()}, {xs})[0];
        }
        parts.push_back(relevance);
      });
      return at::cat(parts, 0);
    });
    return Value(shape_output(out, t));
  });
}

}  // namespace pipette::stdlib
