#include "engine/lrp_rules.hpp"

#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <functional>
#include <optional>
#include <unordered_set>

#include "engine/op_impl.hpp"
#include "engine/trained_params.hpp"

namespace pipette {

namespace {

const std::vector<std::pair<std::string, LrpRule::Kind>>& rule_names() {
  static const std::vector<std::pair<std::string, LrpRule::Kind>> names{
      {"epsilon", LrpRule::Kind::Epsilon}, {"gamma", LrpRule::Kind::Gamma},     {"zplus", LrpRule::Kind::ZPlus},
      {"alpha2beta1", LrpRule::Kind::AlphaBeta}, {"alpha1beta0", LrpRule::Kind::AlphaBeta},
      {"flat", LrpRule::Kind::Flat},       {"wsquare", LrpRule::Kind::WSquare}, {"zbox", LrpRule::Kind::ZBox},
      {"pass", LrpRule::Kind::Pass},       {"norm", LrpRule::Kind::Norm},       {"gradient", LrpRule::Kind::Gradient}};
  return names;
}

bool is_convolution(const std::string& t) { return t.rfind("Conv", 0) == 0; }  // Conv1d..3d, ConvTranspose1d..3d
bool is_linear(const std::string& t) { return t == "Linear" || is_convolution(t); }
bool is_avg_pool(const std::string& t) { return t.find("AvgPool") != std::string::npos; }
bool is_batch_norm(const std::string& t) { return t.rfind("BatchNorm", 0) == 0; }
bool is_activation(const std::string& t) {
  static const std::unordered_set<std::string> names{
      "ReLU", "ReLU6", "ELU", "CELU", "SELU", "LeakyReLU", "PReLU", "RReLU", "Sigmoid", "Hardsigmoid", "LogSigmoid",
      "Tanh", "Hardtanh", "Softplus", "GELU", "SiLU", "Mish", "Hardswish", "Softsign", "Tanhshrink", "Threshold",
      "Hardshrink", "Softshrink", "Softmin", "Softmax", "Softmax2d", "LogSoftmax"};
  return names.count(t) > 0;
}

// Zennit's stabilize: z + eps * sign(z), with the sign of 0 taken as +1.
at::Tensor stabilized(const at::Tensor& z, double eps) { return z + eps * (z.eq(0).to(z.scalar_type()) + z.sign()); }

// The bias of a module broadcast against its output (channels are dimension 1
// for convolutions, the last one for Linear).
at::Tensor bias_like(const at::Tensor& bias, const at::Tensor& out, bool convolution) {
  if (!convolution || out.dim() < 2) return bias;
  std::vector<int64_t> shape(static_cast<size_t>(out.dim()), 1);
  shape[1] = bias.numel();
  return bias.view(shape);
}

}  // namespace

LrpRule::Kind lrp_rule_kind(const std::string& name) {
  for (const auto& [n, k] : rule_names())
    if (n == name) return k;
  std::string all;
  for (const auto& [n, k] : rule_names()) all += (all.empty() ? "" : ", ") + n;
  throw OpError("unknown LRP rule '" + name + "': the rules are " + all);
}

std::string lrp_rule_name(LrpRule::Kind kind) {
  for (const auto& [n, k] : rule_names())
    if (k == kind) return n;
  return "?";
}

const std::vector<std::string>& lrp_composites() {
  static const std::vector<std::string> names{"epsilon",          "epsilon_plus",          "epsilon_plus_flat",
                                              "epsilon_alpha2_beta1", "epsilon_alpha2_beta1_flat", "epsilon_gamma_box"};
  return names;
}

std::map<std::string, LrpRule> lrp_rules(const HookedModel& model, const LrpSettings& s) {
  const std::vector<std::string>& known = lrp_composites();
  if (std::find(known.begin(), known.end(), s.composite) == known.end()) {
    std::string all;
    for (const auto& n : known) all += (all.empty() ? "" : ", ") + n;
    throw OpError("unknown LRP composite '" + s.composite + "': the composites are " + all);
  }
  auto rule = [&](LrpRule::Kind k, double alpha = 2, double beta = 1) {
    LrpRule r;
    r.kind = k;
    r.epsilon = s.epsilon;
    r.gamma = s.gamma;
    r.stabilizer = s.stabilizer;
    r.low = s.low;
    r.high = s.high;
    r.alpha = alpha;
    r.beta = beta;
    r.zero_bias = s.zero_bias;
    return r;
  };
  const std::string& c = s.composite;
  std::map<std::string, LrpRule> rules;
  std::map<std::string, std::string> types;
  bool first_done = false;
  for (const HookSiteInfo& site : model.sites) {
    if (site.site.input || !site.tensor || rules.count(site.site.path)) continue;
    const std::string& t = site.module_type;
    const std::string& path = site.site.path;
    types[path] = t;
    // The composite's first-layer rule: Flat on the first linear module, or
    // ZBox on the first convolution (Zennit's first_map).
    bool flat_first = c == "epsilon_plus_flat" || c == "epsilon_alpha2_beta1_flat";
    if (!first_done && ((flat_first && is_linear(t)) || (c == "epsilon_gamma_box" && is_convolution(t)))) {
      first_done = true;
      rules[path] = rule(flat_first ? LrpRule::Kind::Flat : LrpRule::Kind::ZBox);
      continue;
    }
    if (is_activation(t) || is_batch_norm(t)) {
      rules[path] = rule(LrpRule::Kind::Pass);
    } else if (is_avg_pool(t)) {
      rules[path] = rule(LrpRule::Kind::Norm);
    } else if (is_convolution(t)) {
      if (c == "epsilon")
        rules[path] = rule(LrpRule::Kind::Epsilon);
      else if (c == "epsilon_plus" || c == "epsilon_plus_flat")
        rules[path] = rule(LrpRule::Kind::ZPlus);
      else if (c == "epsilon_gamma_box")
        rules[path] = rule(LrpRule::Kind::Gamma);
      else
        rules[path] = rule(LrpRule::Kind::AlphaBeta);
    } else if (t == "Linear") {
      rules[path] = rule(LrpRule::Kind::Epsilon);
    }
  }
  for (const auto& [pattern, name] : s.overrides) {
    LrpRule::Kind k = lrp_rule_kind(name);
    bool any = false;
    for (const auto& [path, t] : types)
      if (glob_match(pattern, path)) {
        any = true;
        if (k == LrpRule::Kind::Gradient)
          rules.erase(path);
        else
          rules[path] = rule(k, name == "alpha1beta0" ? 1 : 2, name == "alpha1beta0" ? 0 : 1);
      }
    if (!any) {
      std::string paths;
      for (const auto& [path, t] : types) paths += (paths.empty() ? "" : ", ") + path;
      throw OpError("the LRP rule for '" + pattern + "' matches no module the forward pass calls (" + paths + ")");
    }
  }
  return rules;
}

// One module under a rule that changes its inputs or parameters: copies of it
// with the parameters each of the rule's terms uses, and the rule's
// computation of the input's relevance from the output's (Zennit's BasicHook:
// input modifiers, parameter modifiers, gradient mapper, reducer).
struct LrpPlan::Layer {
  enum class Input { Same, Positive, Negative, Ones, Low, High };
  struct Term {
    Input input;
    torch::jit::Module module;
  };
  std::string path;
  LrpRule rule;
  std::vector<Term> terms;

  at::Tensor input_of(Input in, const at::Tensor& x) const {
    switch (in) {
      case Input::Same: return x;
      case Input::Positive: return x.clamp_min(0);
      case Input::Negative: return x.clamp_max(0);
      case Input::Ones: return at::ones_like(x);
      case Input::Low: return at::full_like(x, rule.low);
      case Input::High: return at::full_like(x, rule.high);
    }
    return x;
  }

  at::Tensor relevance(const at::Tensor& x, const at::Tensor& g) const {
    at::AutoGradMode grad(true);
    std::vector<at::Tensor> ins, outs;
    for (const Term& t : terms) {
      ins.push_back(input_of(t.input, x).detach().requires_grad_(true));
      torch::jit::Module m = t.module;  // a handle: forward is not const
      outs.push_back(m.forward({ins.back()}).toTensor());
    }
    const double st = rule.stabilizer;
    auto vjp = [&](std::vector<size_t> which, std::vector<at::Tensor> cot) {
      std::vector<at::Tensor> o, i;
      for (size_t k : which) {
        o.push_back(outs[k]);
        i.push_back(ins[k]);
      }
      return torch::autograd::grad(o, i, cot, /*retain_graph=*/false, /*create_graph=*/false, /*allow_unused=*/true);
    };
    auto d = [](const at::Tensor& t) { return t.detach(); };
    switch (rule.kind) {
      case LrpRule::Kind::ZPlus: {
        at::Tensor c = g / stabilized(d(outs[0]) + d(outs[1]), st);
        auto gr = vjp({0, 1}, {c, c});
        return d(ins[0]) * gr[0] + d(ins[1]) * gr[1];
      }
      case LrpRule::Kind::AlphaBeta: {
        at::Tensor cp = g / stabilized(d(outs[0]) + d(outs[1]), st);
        at::Tensor cn = g / stabilized(d(outs[2]) + d(outs[3]), st);
        auto gr = vjp({0, 1, 2, 3}, {cp, cp, cn, cn});
        return rule.alpha * (d(ins[0]) * gr[0] + d(ins[1]) * gr[1]) -
               rule.beta * (d(ins[2]) * gr[2] + d(ins[3]) * gr[3]);
      }
      case LrpRule::Kind::Gamma: {
        at::Tensor z = d(outs[4]);
        at::Tensor cp = z.gt(0).to(g.scalar_type()) * g / stabilized(d(outs[0]) + d(outs[1]), st);
        at::Tensor cn = z.lt(0).to(g.scalar_type()) * g / stabilized(d(outs[2]) + d(outs[3]), st);
        auto gr = vjp({0, 1, 2, 3}, {cp, cp, cn, cn});
        return d(ins[0]) * gr[0] + d(ins[1]) * gr[1] + d(ins[2]) * gr[2] + d(ins[3]) * gr[3];
      }
      case LrpRule::Kind::Flat:
      case LrpRule::Kind::WSquare: {
        auto gr = vjp({0}, {g / stabilized(d(outs[0]), st)});
        return gr[0];
      }
      case LrpRule::Kind::ZBox: {
        at::Tensor c = g / stabilized(d(outs[0]) - d(outs[1]) - d(outs[2]), st);
        auto gr = vjp({0, 1, 2}, {c, c, c});
        return d(ins[0]) * gr[0] - d(ins[1]) * gr[1] - d(ins[2]) * gr[2];
      }
      default: break;
    }
    throw OpError("internal: no relevance for rule " + lrp_rule_name(rule.kind));
  }
};

namespace {

// Forward: the module's output as it was. Backward: the layer's rule gives
// the input's relevance; none flows through the module's own graph.
struct RuledLayer : public torch::autograd::Function<RuledLayer> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& y,
                            int64_t layer) {
    ctx->save_for_backward({x});
    ctx->saved_data["layer"] = layer;  // the plan owns the layer and outlives the backward pass
    return y.clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto* layer = reinterpret_cast<const LrpPlan::Layer*>(ctx->saved_data["layer"].toInt());
    at::Tensor x = ctx->get_saved_variables()[0].detach();
    return {layer->relevance(x, grads[0]), at::Tensor(), at::Tensor()};
  }
};

// The submodule at a user's path, or none.
std::optional<torch::jit::Module> submodule(const torch::jit::Module& root, const std::string& path) {
  for (const auto& named : root.named_modules())
    if (!named.name.empty() && user_path(root, named.name) == path) return named.value;
  return std::nullopt;
}

}  // namespace

LrpPlan::LrpPlan(const HookedModel& model, std::map<std::string, LrpRule> rules) : rules_(std::move(rules)) {
  std::map<std::string, std::string>& types = types_;
  for (const HookSiteInfo& s : model.sites)
    if (!s.site.input) types[s.site.path] = s.module_type;
  std::map<std::string, at::Tensor> params;
  for (auto& [name, value] : parameters_by_path(model.module)) params[name] = value;
  for (const auto& [path, rule] : rules_) {
    const std::string& type = types[path];
    if (rule.kind == LrpRule::Kind::Epsilon && rule.zero_bias && params.count(path + ".bias"))
      biases_[path] = params[path + ".bias"].detach();
    using K = LrpRule::Kind;
    bool changes_params = rule.kind != K::Pass && rule.kind != K::Norm && rule.kind != K::Epsilon;
    if (rule.kind == K::Epsilon && !is_linear(type) && !is_avg_pool(type))
      throw OpError("the LRP rule epsilon at " + path + " needs a linear module (Linear, Conv*); it is " + type);
    if (!changes_params) continue;
    if (!is_linear(type))
      throw OpError("the LRP rule " + lrp_rule_name(rule.kind) + " at " + path + " changes a linear module's weights; " +
                    path + " is " + type);
    std::optional<torch::jit::Module> sub = submodule(model.module, path);
    if (!sub || !sub->find_method("forward"))
      throw OpError("the LRP rule " + lrp_rule_name(rule.kind) + " at " + path +
                    " calls the layer alone with changed weights, and this model's layers cannot be called one by one "
                    "(a torch.export program runs as one graph): use rules that keep the weights (epsilon, pass, "
                    "norm: composite=\"epsilon\"), or the model scripted with torch.jit.script");
    auto layer = std::make_shared<Layer>();
    layer->path = path;
    layer->rule = rule;
    // A copy of the module whose parameters are fn(weight) and fn(bias) (or a
    // zero bias): one per term of the rule.
    auto copy = [&](const std::function<at::Tensor(const at::Tensor&)>& fn, bool keep_bias) {
      torch::jit::Module m = sub->clone();
      for (const auto& p : sub->named_parameters(/*recurse=*/false)) {
        at::Tensor v = p.value.detach();
        bool bias = p.name == "bias";
        m.setattr(p.name, (bias && (!keep_bias || rule.zero_bias)) ? at::zeros_like(v) : fn(v));
      }
      return m;
    };
    auto pos = [](const at::Tensor& p) { return p.clamp_min(0); };
    auto neg = [](const at::Tensor& p) { return p.clamp_max(0); };
    using In = Layer::Input;
    switch (rule.kind) {
      case K::ZPlus:
        layer->terms = {{In::Positive, copy(pos, true)}, {In::Negative, copy(neg, false)}};
        break;
      case K::AlphaBeta:
        if (rule.alpha < 0 || rule.beta < 0 || std::abs(rule.alpha - rule.beta - 1) > 1e-12)
          throw OpError("the LRP rule alpha-beta needs alpha, beta >= 0 with alpha - beta = 1");
        layer->terms = {{In::Positive, copy(pos, true)},
                        {In::Negative, copy(neg, false)},
                        {In::Positive, copy(neg, true)},
                        {In::Negative, copy(pos, false)}};
        break;
      case K::Gamma: {
        double g = rule.gamma;
        auto up = [g](const at::Tensor& p) { return p + g * p.clamp_min(0); };
        auto down = [g](const at::Tensor& p) { return p + g * p.clamp_max(0); };
        layer->terms = {{In::Positive, copy(up, true)},
                        {In::Negative, copy(down, false)},
                        {In::Positive, copy(down, true)},
                        {In::Negative, copy(up, false)},
                        {In::Same, copy([](const at::Tensor& p) { return p; }, true)}};
        break;
      }
      case K::Flat:
        layer->terms = {{In::Ones, copy([](const at::Tensor& p) { return at::ones_like(p); }, false)}};
        break;
      case K::WSquare:
        layer->terms = {{In::Ones, copy([](const at::Tensor& p) { return p * p; }, true)}};
        break;
      case K::ZBox:
        layer->terms = {{In::Same, copy([](const at::Tensor& p) { return p; }, true)},
                        {In::Low, copy(pos, true)},
                        {In::High, copy(neg, true)}};
        break;
      default: break;
    }
    layers_[path] = layer;
  }
}

LrpPlan::~LrpPlan() = default;

at::Tensor LrpPlan::visit(const HookSite& site, const at::Tensor& value) {
  auto r = rules_.find(site.path);
  if (r == rules_.end()) return value;
  const LrpRule& rule = r->second;
  using K = LrpRule::Kind;
  if (site.input) {
    inputs_[site.path] = value;
    // Epsilon and norm: x * J^T (R / z) on the module's own graph, the factor
    // x here (the value stays, the derivative is x) and 1 / z at the output.
    if (rule.kind == K::Epsilon || rule.kind == K::Norm) {
      at::Tensor vd = value.detach();
      return vd + vd * (value - vd);
    }
    return value.clone();  // an in-place module (ReLU6(inplace=True)) would overwrite the recorded input
  }
  auto in = inputs_.find(site.path);
  if (in == inputs_.end()) return value;
  at::Tensor x = in->second;
  inputs_.erase(in);
  at::Tensor yd = value.detach();
  switch (rule.kind) {
    case K::Pass:
      if (x.sizes() != value.sizes())
        throw OpError("the LRP rule pass at " + site.path + " needs an output shaped like its input");
      return yd + (x - x.detach());
    case K::Epsilon:
    case K::Norm: {
      at::Tensor z = yd;
      auto bias = biases_.find(site.path);  // Zennit's zero_params=["bias"]: the denominator without it
      if (bias != biases_.end()) z = yd - bias_like(bias->second.to(yd.dtype()), yd, is_convolution(types_[site.path]));
      double eps = rule.kind == K::Epsilon ? rule.epsilon : rule.stabilizer;
      return yd + (value - yd) / stabilized(z, eps);
    }
    default: {
      auto layer = layers_.find(site.path);
      if (layer == layers_.end()) return value;
      return RuledLayer::apply(x, value, reinterpret_cast<int64_t>(layer->second.get()));
    }
  }
}

}  // namespace pipette
