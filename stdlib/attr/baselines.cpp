#include "stdlib/attr/baselines.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <cmath>


namespace pipette::stdlib {

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

at::Tensor gaussian_blur(const at::Tensor& x, double sigma, const std::string& who) {
  if (x.dim() != 3 && x.dim() != 4) throw OpError(who + " needs images [N, C, H, W]; inputs are " + describe(Value(x)));
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

at::Tensor baselines_of(const OpArgs& a, const at::Tensor& x, OpContext& ctx) {
  const Value& b = a["baselines"];
  if (b.isDouble() || b.isInt()) return at::full_like(x, b.isInt() ? static_cast<double>(b.toInt()) : b.toDouble());
  if (b.isString()) {
    const std::string& kind = b.toStringRef();
    if (kind == "zero") return at::zeros_like(x);
    if (kind == "blur") return gaussian_blur(x, a.float_("blur_sigma"), "baselines=\"blur\"");
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

at::Tensor blend(const at::Tensor& x, const at::Tensor& baseline, const at::Tensor& keep) {
  at::Tensor k = keep.to(x.scalar_type());
  // One pass writing the block: no [k, N, ...] temporary for keep * (x - b).
  return at::addcmul(baseline.unsqueeze(0), k, (x - baseline).unsqueeze(0));
}

}  // namespace pipette::stdlib
