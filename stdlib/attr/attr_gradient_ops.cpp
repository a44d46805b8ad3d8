// Gradient attribution: saliency, input x gradient, integrated gradients,
// noise tunnel around any of them, gradient SHAP / expected gradients, and the
// convergence delta. Named and parameterised as in Captum.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <tuple>

#include "engine/gradient_rules.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/attr/path_integral.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

at::Tensor integrated_gradients(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& b,
                                const at::Tensor& target, const OpArgs& a, OpContext& ctx) {
  Quadrature q = quadrature(a.string("method"), a.int_("steps"), &ctx);
  at::Tensor sum = path_integral(
      x, b, target, q, ctx, [&](const at::Tensor& p, const at::Tensor& t, const at::Tensor&) { return target_gradient(m, p, t); });
  return sum * (x - b);
}

at::Tensor normal_noise(const at::Tensor& like, std::vector<int64_t> shape, double stdev, OpContext& ctx) {
  at::Generator gen = ctx.generator();
  return at::empty(shape, like.options().device(at::kCPU)).normal_(0, stdev, gen).to(like.device());
}

}  // namespace

Method gradient_method(const std::string& name, torch::jit::Module& m, const OpArgs& a, OpContext& ctx,
                       const at::Tensor& baselines) {
  if (name == "saliency") {
    bool abs = a.bool_("abs");
    return [&m, &ctx, abs](const at::Tensor& x, const at::Tensor& t) {
      at::Tensor g = gradients(m, x, t, ctx);
      return abs ? g.abs() : g;
    };
  }
  if (name == "input_x_gradient")
    return [&m, &ctx](const at::Tensor& x, const at::Tensor& t) { return x * gradients(m, x, t, ctx); };
  return [&m, &ctx, &a, baselines](const at::Tensor& x, const at::Tensor& t) {
    // x holds S noisy copies of the N examples; the baselines repeat with them.
    std::vector<int64_t> reps(static_cast<size_t>(baselines.dim()), 1);
    reps[0] = x.size(0) / baselines.size(0);
    return integrated_gradients(m, x, baselines.repeat(reps), t, a, ctx);
  };
}

OpSignature& explainer_params(OpSignature& s, bool abs_default) {
  s.param("explainer", "string", Operand::string("saliency"),
          "The gradient method (its quadrature, for integrated_gradients, is `method`)")
      .choices({"saliency", "input_x_gradient", "integrated_gradients"})
      .param("abs", "bool", Operand::boolean(abs_default), "saliency: absolute gradients");
  return ig_params(s);
}

void register_attr_gradient(OpLibrary& lib) {
  OpSignature saliency("attr.saliency", "Gradient of the target output with respect to the inputs (Simonyan et al.).");
  attribution_inputs(saliency).param("abs", "bool", Operand::boolean(true), "Take absolute values, as Captum does by default");
  lib.define(saliency.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    Targets t = targets_of(a, m, x);
    Method f = gradient_method("saliency", m, a, ctx, x);
    return Value(shape_output(per_target(t, [&](const at::Tensor& tj) { return f(x, tj); }), t));
  });

  OpSignature ixg("attr.input_x_gradient", "Inputs times the gradient of the target output (Shrikumar et al.).");
  lib.define(attribution_inputs(ixg).returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    Targets t = targets_of(a, m, x);
    Method f = gradient_method("input_x_gradient", m, a, ctx, x);
    return Value(shape_output(per_target(t, [&](const at::Tensor& tj) { return f(x, tj); }), t));
  });

  for (const auto& [name, rule, doc] :
       {std::tuple<const char*, ReluRule, const char*>{
            "attr.guided_backprop", ReluRule::Guided,
            "Guided backpropagation (Springenberg et al., 2015), as Captum's GuidedBackprop: the gradient of the "
            "target output, with every ReLU module passing back only positive gradients where its input was "
            "positive."},
        {"attr.deconvolution", ReluRule::Deconvolution,
         "Deconvolution (Zeiler and Fergus, 2014), as Captum's Deconvolution: the gradient of the target output, "
         "with every ReLU module passing back the positive part of its output's gradient, whatever its input."}}) {
    OpSignature s(name, doc);
    const ReluRule r = rule;
    const std::string op = name;
    lib.define(attribution_inputs(s).returns("tensor", "Attributions, shaped like inputs"),
               [r, op](const OpArgs& a, OpContext& ctx) {
                 torch::jit::Module m = model_arg(a, "model", ctx.device);
                 HookedModel h = hooked(m);
                 ReluRulePlan plan(h, r);
                 // Captum's rule is for nn.ReLU modules; without any, the answer
                 // would silently be the plain gradient.
                 if (plan.relus() == 0)
                   throw OpError(op + " overrides the backward pass of ReLU modules (torch.nn.ReLU), and the model "
                                      "has none (a functional torch.relu is not a module): it would equal attr.saliency(abs=false)");
                 at::Tensor x = a.tensor("inputs").to(ctx.device);
                 Targets t = targets_of(a, m, x);
                 ActivePlan active(plan);
                 return Value(shape_output(per_target(t, [&](const at::Tensor& tj) { return gradients(h.module, x, tj, ctx); }), t));
               });
  }

  OpSignature ig("attr.integrated_gradients",
                 "Integrated Gradients (Sundararajan et al., 2017): the path integral of gradients from a "
                 "baseline to the input, (x - b) * sum_k w_k dF/dx(b + a_k (x - b)). Path points for all "
                 "examples are evaluated together, chunked under the memory budget.");
  ig_params(attribution_inputs(ig));
  lib.define(ig.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    at::Tensor b = baselines_of(a, x, ctx);
    Targets t = targets_of(a, m, x);
    return Value(shape_output(per_target(t, [&](const at::Tensor& tj) { return integrated_gradients(m, x, b, tj, a, ctx); }), t));
  });

  OpSignature nt("attr.noise_tunnel",
                 "Noise tunnel (Smilkov et al., 2017; Adebayo et al., 2018): attributions of nt_samples noisy "
                 "copies of each input (Gaussian, stdevs absolute), combined as their mean (smoothgrad), mean of "
                 "squares (smoothgrad_sq) or variance (vargrad). All noisy copies go through the inner method "
                 "together, chunked under the memory budget.");
  attribution_inputs(nt)
      .param("nt_type", "string", Operand::string("smoothgrad"), "How the noisy attributions combine")
      .choices({"smoothgrad", "smoothgrad_sq", "vargrad"})
      .param("nt_samples", "int", Operand::integer(5), "Noisy copies per input")
      .range(1)
      .param("stdevs", "float", Operand::real(1.0), "Standard deviation of the noise")
      .range(0.0);
  explainer_params(nt).stochastic();
  lib.define(nt.returns("tensor", "Attributions, shaped like inputs"), [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    Targets t = targets_of(a, m, x);
    int64_t s = a.int_("nt_samples"), n = x.size(0);
    std::vector<int64_t> shape{s};
    shape.insert(shape.end(), x.sizes().begin(), x.sizes().end());
    at::Tensor noisy = (x.unsqueeze(0) + normal_noise(x, shape, a.float_("stdevs"), ctx)).flatten(0, 1);  // [S*N, ...]
    Method f = gradient_method(a.string("explainer"), m, a, ctx, baselines_of(a, x, ctx));
    std::string type = a.string("nt_type");
    at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
      at::Tensor each = f(noisy, tj.repeat({s}));
      std::vector<int64_t> split{s, n};
      split.insert(split.end(), x.sizes().begin() + 1, x.sizes().end());
      each = each.view(split);
      if (type == "smoothgrad") return each.mean(0);
      if (type == "smoothgrad_sq") return (each * each).mean(0);
      at::Tensor mean = each.mean(0);
      return (each * each).mean(0) - mean * mean;  // vargrad: the population variance, as Captum
    });
    return Value(shape_output(out, t));
  });

  auto shap = [](const char* name, const char* doc) {
    OpSignature s(name, doc);
    model_and_inputs(s).input("baselines", "tensor", "Reference inputs [B, ...] to draw from (e.g. training images)");
    target_param(s)
        .param("n_samples", "int", Operand::integer(std::string(name) == "attr.expected_gradients" ? 32 : 5),
               "Random (baseline, point) draws per input")
        .range(1)
        .param("stdevs", "float", Operand::real(0.0), "Gaussian noise added to the inputs (gradient SHAP)")
        .range(0.0)
        .stochastic();
    return s.returns("tensor", "Attributions, shaped like inputs");
  };
  auto shap_run = [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = a.tensor("inputs").to(ctx.device);
    at::Tensor pool = a.tensor("baselines").to(ctx.device, x.scalar_type());
    if (pool.dim() == x.dim() - 1) pool = pool.unsqueeze(0);
    if (pool.dim() != x.dim() || pool.sizes().slice(1) != x.sizes().slice(1))
      throw OpError("baselines " + describe(Value(pool)) + " must be [B, ...] with inputs' example shape " +
                    describe(Value(x)));
    Targets t = targets_of(a, m, x);
    int64_t s = a.int_("n_samples"), n = x.size(0);
    at::Generator gen = ctx.generator();
    // Every draw at once: S x N baseline indices, alphas and noisy inputs.
    at::Tensor pick = at::randint(pool.size(0), {s * n}, gen, at::TensorOptions().dtype(at::kLong)).to(x.device());
    at::Tensor alpha = at::rand({s * n}, gen, at::TensorOptions().dtype(x.scalar_type())).to(x.device());
    std::vector<int64_t> shape{s};
    shape.insert(shape.end(), x.sizes().begin(), x.sizes().end());
    at::Tensor noisy = (x.unsqueeze(0) + normal_noise(x, shape, a.float_("stdevs"), ctx)).flatten(0, 1);
    at::Tensor b = pool.index_select(0, pick);
    std::vector<int64_t> ashape(x.dim(), 1);
    ashape[0] = s * n;
    at::Tensor points = b + alpha.view(ashape) * (noisy - b);
    std::vector<int64_t> split{s, n};
    split.insert(split.end(), x.sizes().begin() + 1, x.sizes().end());
    at::Tensor out = per_target(t, [&](const at::Tensor& tj) {
      return (gradients(m, points, tj.repeat({s}), ctx) * (noisy - b)).view(split).mean(0);
    });
    return Value(shape_output(out, t));
  };
  lib.define(shap("attr.gradient_shap",
                  "Gradient SHAP (Lundberg & Lee, 2017), as Captum: the mean over n_samples draws of "
                  "dF/dx(b + a (x' - b)) * (x' - b), with b drawn from baselines, a uniform in [0, 1] and x' the "
                  "input plus Gaussian noise of stdevs."),
             shap_run);
  lib.define(shap("attr.expected_gradients",
                  "Expected gradients (Erion et al., 2021): gradient SHAP with baselines drawn from the data "
                  "and no input noise; pass training images as baselines."),
             shap_run);

  OpSignature delta("attr.convergence_delta",
                    "Completeness error of path attributions: sum(attributions) - (F(x) - F(b)) per example, "
                    "as Captum's return_convergence_delta. F(x) and F(b) come from one batched forward pass.");
  model_and_inputs(delta).input("attributions", "tensor", "Attributions of the inputs (one target)");
  baseline_params(target_param(delta));
  lib.define(delta.returns("tensor", "[N]: the error per example; 0 for exact completeness"),
             [](const OpArgs& a, OpContext& ctx) { return Value(completeness_gap(a, ctx)); });
}

}  // namespace pipette::stdlib
