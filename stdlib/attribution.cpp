#include "stdlib/attribution.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>

#include "stdlib/arg_lists.hpp"
#include "stdlib/model_util.hpp"

namespace pipette::stdlib {

int64_t example_bytes(const at::Tensor& x) { return x.numel() / std::max<int64_t>(1, x.size(0)) * x.element_size(); }

OpSignature& attribution_inputs(OpSignature& s) { return target_param(model_and_inputs(s)); }

OpSignature& model_and_inputs(OpSignature& s) {
  return s.input("model", "model", "The classifier to explain")
      .input("inputs", "tensor", "Inputs to explain, batched along the first dimension")
      .feeds("model");
}

OpSignature& target_param(OpSignature& s) {
  return s.optional("target", "int|list<int>|tensor",
                "Output index to explain: one for all, one per example ([N]), or several (a list, or [N, T]: "
                "the result gains a target dimension after the batch); none = predicted");
}

Targets targets_of(const OpArgs& a, torch::jit::Module& m, const at::Tensor& x) {
  const Value& v = a["target"];
  int64_t n = x.size(0);
  Targets t;
  if (v.isList()) {
    std::vector<int64_t> classes = int_list(a, "target");
    if (classes.empty()) throw OpError("'target' is an empty list");
    t.index = at::tensor(classes, at::kLong).to(x.device()).view({1, -1}).expand({n, -1}).contiguous();
    t.multi = true;
    return t;
  }
  if (v.isTensor() && v.toTensor().dim() == 2) {
    at::Tensor idx = v.toTensor().to(x.device(), at::kLong);
    if (idx.size(0) != n && idx.size(0) != 1)
      throw OpError("'target' " + describe(v) + " has " + std::to_string(idx.size(0)) + " rows for " +
                    std::to_string(n) + " inputs");
    t.index = idx.expand({n, idx.size(1)}).contiguous();
    t.multi = true;
    return t;
  }
  t.index = targets_for(a, "target", m, x).view({n, 1});
  return t;
}

at::Tensor per_target(const Targets& t, const std::function<at::Tensor(const at::Tensor&)>& fn) {
  std::vector<at::Tensor> parts;
  for (int64_t j = 0; j < t.count(); ++j) parts.push_back(fn(t.index.select(1, j).contiguous()));
  return at::stack(parts, 1);
}

at::Tensor shape_output(const at::Tensor& per_target, const Targets& t) {
  return t.multi ? per_target : per_target.squeeze(1);
}

OpSignature& baseline_params(OpSignature& s) {
  return s
      .param("baselines", "float|tensor|string", Operand::real(0.0),
             "Reference input: a scalar fill, a tensor broadcast to the inputs, \"blur\" (the input blurred with "
             "a Gaussian of blur_sigma pixels) or \"uniform\" (noise uniform over the input's range)")
      .choices({"zero", "blur", "uniform"})  // for a string; a number or tensor is a fill
      .param("blur_sigma", "float", Operand::real(5.0), "Standard deviation in pixels of the \"blur\" baseline")
      .range(0.1)
      .param("baseline_seed", "int", Operand::integer(0),
             "Seed of random baselines (\"uniform\"). The draw depends on this seed and the inputs' shape alone, so "
             "an attribution and the metric that checks it (metric.completeness) use the same baselines; another "
             "value is another draw");
}

namespace {

// Separable Gaussian blur of images [N, C, H, W] (or [N, H, W]), edges
// replicated so that borders keep their brightness.
at::Tensor blurred(const at::Tensor& x, double sigma) {
  if (x.dim() != 3 && x.dim() != 4) throw OpError("baselines=\"blur\" needs images [N, C, H, W]; inputs are " + describe(Value(x)));
  at::Tensor img = x.dim() == 3 ? x.unsqueeze(1) : x;
  int64_t radius = std::max<int64_t>(1, static_cast<int64_t>(std::ceil(3 * sigma)));
  at::Tensor r = at::arange(-radius, radius + 1, x.options());
  at::Tensor k = (-(r * r) / (2 * sigma * sigma)).exp();
  k = k / k.sum();
  int64_t c = img.size(1);
  at::Tensor kh = k.view({1, 1, -1, 1}).expand({c, 1, -1, 1}).contiguous();
  at::Tensor kw = k.view({1, 1, 1, -1}).expand({c, 1, 1, -1}).contiguous();
  at::Tensor padded = at::replication_pad2d(img, {radius, radius, radius, radius});
  const std::vector<int64_t> one{1, 1}, zero{0, 0};
  auto conv = [&](const at::Tensor& in, const at::Tensor& k) {
    return at::conv2d(in, k, at::Tensor(), at::IntArrayRef(one), at::IntArrayRef(zero), at::IntArrayRef(one), c);
  };
  at::Tensor out = conv(conv(padded, kh), kw);
  return x.dim() == 3 ? out.squeeze(1) : out;
}

}  // namespace

at::Tensor baselines_of(const OpArgs& a, const at::Tensor& x, OpContext& ctx) {
  const Value& b = a["baselines"];
  if (b.isDouble() || b.isInt()) return at::full_like(x, b.isInt() ? static_cast<double>(b.toInt()) : b.toDouble());
  if (b.isString()) {
    const std::string& kind = b.toStringRef();
    if (kind == "zero") return at::zeros_like(x);
    if (kind == "blur") return blurred(x, a.float_("blur_sigma"));
    if (kind == "uniform") {
      // Not the node's seed: every op that draws "uniform" baselines for the
      // same inputs gets the same ones.
      (void)ctx;
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
          0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(a.int_("baseline_seed")));
      at::Tensor u = at::empty(x.sizes(), x.options().device(at::kCPU)).uniform_(0, 1, gen).to(x.device());
      return x.min() + u * (x.max() - x.min());
    }
    throw OpError("baselines=\"" + kind + "\" is not one of \"zero\", \"blur\", \"uniform\"");
  }
  at::Tensor t = a.tensor("baselines").to(x.device(), x.scalar_type());
  try {
    return t.expand_as(x).contiguous();
  } catch (const c10::Error&) {
    throw OpError("baselines " + describe(Value(t)) + " do not broadcast to the inputs " + describe(Value(x)));
  }
}

void for_chunks(OpContext& ctx, int64_t total, int64_t per_chunk, const std::function<void(int64_t, int64_t)>& fn) {
  per_chunk = std::max<int64_t>(1, per_chunk);
  for (int64_t i = 0; i < total; i += per_chunk) {
    if (ctx.cancelled()) throw OpError("cancelled");
    int64_t end = std::min(total, i + per_chunk);
    fn(i, end);
    ctx.progress(static_cast<uint64_t>(end), static_cast<uint64_t>(total));
  }
}

at::Tensor target_gradient(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target) {
  at::Tensor xi = x.detach().requires_grad_(true);
  at::Tensor picked = pick_targets(logits_of(m, xi), target.view({-1, 1})).sum();
  return torch::autograd::grad({picked}, {xi})[0];
}

at::Tensor gradients(torch::jit::Module& m, const at::Tensor& x, const at::Tensor& target, OpContext& ctx) {
  int64_t n = x.size(0);
  std::vector<at::Tensor> parts;
  for_chunks(ctx, n, items_per_chunk(ctx, kGradientBytesFactor * example_bytes(x), n), [&](int64_t i, int64_t end) {
    parts.push_back(target_gradient(m, x.slice(0, i, end), target.slice(0, i, end)));
  });
  return at::cat(parts, 0);
}

namespace {

at::Tensor pick(const at::Tensor& logits, const at::Tensor& index) { return pick_targets(logits, index); }

}  // namespace

at::Tensor target_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, OpContext& ctx) {
  torch::NoGradGuard no_grad;
  int64_t n = x.size(0);
  std::vector<at::Tensor> parts;
  for (int64_t i = 0, chunk = items_per_chunk(ctx, kForwardBytesFactor * example_bytes(x), n); i < n; i += chunk)
    parts.push_back(pick(logits_of(m, x.slice(0, i, i + chunk)), t.index.slice(0, i, i + chunk)));
  return at::cat(parts, 0);
}

void evaluate_perturbations(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                            const PerturbationBuilder& build, const ScoreConsumer& consume, OpContext& ctx,
                            Score score) {
  torch::NoGradGuard no_grad;
  torch::jit::Module fast = forward_only(m);
  int64_t n = x.size(0), in = example_bytes(x);
  // A perturbation's inputs (and the few tensors that build them) plus what
  // the model allocates for them, measured.
  int64_t per_example = kBuildBytesFactor * in + forward_bytes_per_example(m, x, kForwardBytesFactor * in);
  int64_t per_chunk = items_per_chunk(ctx, per_example * n, perturbations);
  for_chunks(ctx, perturbations, per_chunk, [&](int64_t p0, int64_t p1) {
    at::Tensor inputs = build(p0, p1);  // [k, N, ...]
    int64_t k = p1 - p0;
    at::Tensor logits = logits_of(fast, inputs.flatten(0, 1));
    if (score == Score::Probability) logits = logits.softmax(1);
    at::Tensor index = t.index.repeat({k, 1});  // [k*N, T]
    consume(p0, p1, pick(logits, index).view({k, n, t.count()}));
  });
}

at::Tensor perturbation_scores(torch::jit::Module& m, const at::Tensor& x, const Targets& t, int64_t perturbations,
                               const PerturbationBuilder& build, OpContext& ctx) {
  at::Tensor all = at::empty({perturbations, x.size(0), t.count()}, x.options());
  evaluate_perturbations(
      m, x, t, perturbations, build, [&](int64_t p0, int64_t p1, const at::Tensor& s) { all.slice(0, p0, p1).copy_(s); },
      ctx);
  return all;
}

at::Tensor completeness_gap(const OpArgs& a, OpContext& ctx) {
  torch::jit::Module m = model_arg(a, "model", ctx.device);
  at::Tensor x = a.tensor("inputs").to(ctx.device);
  at::Tensor attr = a.tensor("attributions").to(ctx.device);
  if (attr.sizes() != x.sizes())
    throw OpError("attributions " + describe(Value(attr)) + " are not shaped like the inputs " + describe(Value(x)) +
                  " (one target per call)");
  at::Tensor b = baselines_of(a, x, ctx);
  Targets t = targets_of(a, m, x);
  if (t.multi) throw OpError("completeness takes one target per input");
  int64_t n = x.size(0);
  at::Tensor both = target_scores(m, at::cat({x, b}, 0), Targets{t.index.repeat({2, 1})}, ctx).view({2, n});
  return attr.flatten(1).sum(1).to(at::kDouble) - (both[0] - both[1]).to(at::kDouble);
}

at::Tensor blend(const at::Tensor& x, const at::Tensor& baseline, const at::Tensor& keep) {
  at::Tensor k = keep.to(x.scalar_type());
  // One pass writing the block: no [k, N, ...] temporary for keep * (x - b).
  return at::addcmul(baseline.unsqueeze(0), k, (x - baseline).unsqueeze(0));
}

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

namespace pipette::stdlib {

void register_attr(OpLibrary& lib) {
  register_attr_gradient(lib);
  register_attr_perturbation(lib);
  register_attr_layer(lib);
}

}  // namespace pipette::stdlib
