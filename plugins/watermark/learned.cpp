#include "learned.hpp"

#include <fmt/format.h>
#include <torch/optim/adam.h>

#include <cmath>
#include <stdexcept>

#include "classic.hpp"
#include "distort.hpp"

namespace watermark {

namespace {

// A layer's weight and bias, initialised as PyTorch's Conv2d and Linear are.
void add_layer(torch::jit::Module& m, const std::string& name, std::vector<int64_t> shape, at::Generator& gen) {
  int64_t fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  m.register_parameter(name + "_weight", at::empty(shape).uniform_(-bound, bound, gen), false);
  m.register_parameter(name + "_bias", at::empty({shape[0]}).uniform_(-bound, bound, gen), false);
}

torch::jit::Module build(int64_t channels, const LearnedConfig& c, at::Generator& gen) {
  torch::jit::Module m("PipetteLearnedWatermark");
  m.register_attribute("training", c10::BoolType::get(), true);
  int64_t w = c.width, L = c.bits, P = c.tile;
  constexpr int64_t kFilters = 8;  // the decoder's pre-filter outputs
  m.register_parameter("pattern", at::randn({L, channels, P, P}, gen) * 0.1, false);
  add_layer(m, "g1", {w, channels, 3, 3}, gen);
  add_layer(m, "g2", {1, w, 3, 3}, gen);
  add_layer(m, "pre", {kFilters, channels, 3, 3}, gen);
  m.register_parameter("readout", at::randn({L, kFilters, P, P}, gen) * 0.01, false);
  m.register_parameter("readout_bias", at::zeros({L}), false);
  m.register_attribute("bits", c10::IntType::get(), L);
  m.register_attribute("tile", c10::IntType::get(), P);
  m.register_attribute("strength", c10::FloatType::get(), c.strength);
  m.register_attribute("trained_bit_accuracy", c10::FloatType::get(), 0.0);
  // encode: the key's signs weight the learned carrier tiles; their sum, tiled
  // over the image, is scaled per pixel by a learned gain of the image (more
  // where texture hides it), squashed into the strength budget.
  // decode: a learned 3x3 pre-filter (to suppress the image), then each bit's
  // learned read-out tile correlated with every tile of the image, averaged.
  m.define(R"(
def encode(self, x, bits):
    n = x.size(0)
    h = x.size(2)
    w = x.size(3)
    p = self.tile
    carrier = torch.matmul(bits.float() * 2 - 1, self.pattern.view([self.bits, -1])).view([n, x.size(1), p, p])
    carrier = carrier.repeat([1, 1, (h + p - 1) // p, (w + p - 1) // p]).narrow(2, 0, h).narrow(3, 0, w)
    g = torch.relu(torch.conv2d(x * 2 - 1, self.g1_weight, self.g1_bias, [1, 1], [1, 1]))
    g = torch.conv2d(g, self.g2_weight, self.g2_bias, [1, 1], [1, 1])
    gain = torch.relu(g) + torch.log1p(torch.exp(-torch.abs(g)))
    return torch.clamp(x + torch.tanh(gain * carrier) * (self.strength / 255.0), 0.0, 1.0)

def decode(self, x):
    h = torch.conv2d(x * 2 - 1, self.pre_weight, self.pre_bias, [1, 1], [1, 1])
    c = torch.conv2d(h, self.readout, None, [self.tile, self.tile])
    return torch.mean(c, [2, 3]) * 10.0 + self.readout_bias

def forward(self, x):
    return self.decode(x)
)");
  return m;
}

double uniform(at::Generator& gen, double lo, double hi) {
  return lo + (hi - lo) * at::rand({1}, gen, at::kDouble).item<double>();
}

// The noise layer: one random distortion per batch, differentiable (JPEG by
// the straight-through estimator: the forward pass is a real JPEG, the
// backward pass the identity).
at::Tensor noise_layer(const at::Tensor& x, double max_noise, at::Generator& gen) {
  auto kind = at::randint(0, 6, {1}, gen, at::kLong).item<int64_t>();
  switch (kind) {
    case 0:
      return x;
    case 1:
      return (x + uniform(gen, 0, max_noise) * at::randn(x.sizes(), gen, at::kFloat).to(x.device())).clamp(0, 1);
    case 2: {
      int64_t k = uniform(gen, 0, 1) < 0.5 ? 3 : 5;
      return at::avg_pool2d(x, {k, k}, {1, 1}, {k / 2, k / 2}, false, false);
    }
    case 3: {
      at::Tensor jpeg = distort(x.detach().to(at::kCPU), "jpeg", std::round(uniform(gen, 50, 95)), gen);
      return x + (jpeg.to(x.device()) - x).detach();
    }
    case 4: {
      at::Tensor small = at::avg_pool2d(x, {2, 2});
      return at::upsample_bilinear2d(small, {x.size(2), x.size(3)}, false);
    }
    default:
      return (x * uniform(gen, 0.7, 1.3)).clamp(0, 1);
  }
}

}  // namespace

at::Tensor random_crops(const at::Tensor& images, int64_t count, int64_t size, int64_t align, at::Generator& gen) {
  at::Tensor idx = at::randint(0, images.size(0), {count}, gen, at::kLong);
  at::Tensor oy = at::randint(0, (images.size(2) - size) / align + 1, {count}, gen, at::kLong) * align;
  at::Tensor ox = at::randint(0, (images.size(3) - size) / align + 1, {count}, gen, at::kLong) * align;
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i)
    out.push_back(images[idx[i].item<int64_t>()]
                      .narrow(1, oy[i].item<int64_t>(), size)
                      .narrow(2, ox[i].item<int64_t>(), size));
  return at::stack(out);
}

LearnedResult train_learned(const at::Tensor& images_in, const LearnedConfig& c, at::Generator gen,
                            c10::Device device, const std::function<void(int64_t, int64_t)>& tick) {
  check_images(images_in, "images");
  at::Tensor images = images_in.to(at::kFloat).contiguous();
  if (images.size(2) < c.size || images.size(3) < c.size)
    throw std::invalid_argument(fmt::format("images of {}x{} are smaller than the training crops ({}x{}): lower size",
                                            images.size(2), images.size(3), c.size, c.size));
  if (c.size % c.tile)
    throw std::invalid_argument(fmt::format("size must be a multiple of the tile ({}), found {}", c.tile, c.size));
  LearnedResult r;
  r.model = build(images.size(1), c, gen);
  r.model.to(device);
  std::vector<at::Tensor> params;
  for (const auto& p : r.model.parameters()) params.push_back(p.requires_grad_(true));
  torch::optim::Adam opt(params, torch::optim::AdamOptions(c.lr));
  torch::jit::Method encode = r.model.get_method("encode"), decode = r.model.get_method("decode");
  for (int64_t s = 0; s < c.steps; ++s) {
    // Crops on the tile grid: the carriers are tiled from each image's corner,
    // and a crop off the grid would see them out of phase.
    at::Tensor x = random_crops(images, c.batch, c.size, c.tile, gen).to(device);
    at::Tensor bits = at::randint(0, 2, {c.batch, c.bits}, gen, at::kFloat).to(device);
    at::Tensor marked = encode({x, bits}).toTensor();
    at::Tensor logits = decode({noise_layer(marked, c.max_noise, gen)}).toTensor();
    at::Tensor loss = at::binary_cross_entropy_with_logits(logits, bits) + c.image_weight * at::mse_loss(marked, x);
    double l = loss.item<double>();
    if (!std::isfinite(l))
      throw std::invalid_argument(fmt::format("the loss became {} at step {}: lower lr (now {})", l, s + 1, c.lr));
    opt.zero_grad();
    loss.backward();
    opt.step();
    r.losses.push_back(l);
    if (tick) tick(s + 1, c.steps);
  }
  for (auto& p : params) p.requires_grad_(false);
  r.model.eval();
  {
    torch::NoGradGuard no_grad;
    at::Tensor x = images.slice(0, 0, 16).to(device);
    at::Tensor bits = at::randint(0, 2, {x.size(0), c.bits}, gen, at::kFloat).to(device);
    at::Tensor read = decode({encode({x, bits}).toTensor()}).toTensor().gt(0).to(at::kFloat);
    r.bit_accuracy = read.eq(bits).to(at::kDouble).mean().item<double>();
  }
  r.model.setattr("trained_bit_accuracy", r.bit_accuracy);
  r.model.to(at::kCPU);
  return r;
}

int64_t learned_bits(const torch::jit::Module& m) {
  if (!m.find_method("decode") || !m.find_method("encode") || !m.hasattr("trained_bit_accuracy"))
    throw std::invalid_argument(
        "the model is not a learned watermark (it has no encode/decode pair): train one with watermark.train");
  double acc = m.attr("trained_bit_accuracy").toDouble();
  if (acc < 0.8)
    throw std::invalid_argument(fmt::format(
        "the learned watermark's decoder is untrained: it read {:.2f} of the bits of unattacked images after "
        "training (0.5 is chance); train it longer (steps), with a larger strength or fewer bits",
        acc));
  return m.attr("bits").toInt();
}

namespace {

// What embedding and detection both need: a trained learned watermark, images
// at least one tile large, and a key of the length it carries.
void check_learned(const torch::jit::Module& m, const at::Tensor& images, const at::Tensor& key) {
  check_images(images, "images");
  check_key(key);
  int64_t bits = learned_bits(m), tile = m.attr("tile").toInt();
  if (images.size(2) < tile || images.size(3) < tile)
    throw std::invalid_argument(fmt::format("images of {}x{} are smaller than the learned watermark's tile ({}x{})",
                                            images.size(2), images.size(3), tile, tile));
  if (key.size(0) != bits)
    throw std::invalid_argument(
        fmt::format("the key has {} bits; the learned watermark carries {}", key.size(0), bits));
}

}  // namespace

at::Tensor learned_embed(torch::jit::Module& m, const at::Tensor& images, const at::Tensor& key) {
  check_learned(m, images, key);
  torch::NoGradGuard no_grad;
  at::Tensor k = key.to(at::kFloat).unsqueeze(0).expand({images.size(0), key.size(0)});
  return m.get_method("encode")({images.to(at::kFloat), k}).toTensor();
}

at::Tensor learned_votes(torch::jit::Module& m, const at::Tensor& images, const at::Tensor& key) {
  check_learned(m, images, key);
  torch::NoGradGuard no_grad;
  return m.get_method("decode")({images.to(at::kFloat)}).toTensor().gt(0).to(at::kFloat);
}

}  // namespace watermark
