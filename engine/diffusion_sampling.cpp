#include "engine/diffusion_sampling.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/op_impl.hpp"
#include "engine/value_io.hpp"

namespace pipette {

DiffusionModel::DiffusionModel(torch::jit::Module m) : module(std::move(m)) {
  for (const char* attr : {"alphas_cumprod", "timesteps", "image_channels", "image_size"})
    if (!module.hasattr(attr))
      throw OpError(fmt::format("the model is not a diffusion model: it has no '{}' (train one with diffusion.train)",
                                attr));
  alphas_cumprod = module.attr("alphas_cumprod").toTensor().to(at::kCPU, at::kDouble);
  timesteps = module.attr("timesteps").toInt();
  channels = module.attr("image_channels").toInt();
  image_size = module.attr("image_size").toInt();
}

at::Tensor DiffusionModel::epsilon(const at::Tensor& x, int64_t t) {
  at::Tensor ts = at::full({x.size(0)}, static_cast<double>(t), x.options());
  return module.forward({x, ts}).toTensor();
}

torch::jit::Module text_model_arg(const OpArgs& a, const std::string& name, c10::Device device) {
  torch::jit::Module m = model_arg(a, name, device);
  if (!m.find_method("forward_blocks") || !m.hasattr("vocab_size") || !m.hasattr("blocks"))
    throw OpError("'" + name + "' is not a text-to-image model with per-block cross-attention (forward(x, t, tokens), "
                  "forward_blocks): train one with diffusion.train_text");
  return m;
}

int64_t block_count(const torch::jit::Module& model) {
  return static_cast<int64_t>(model.attr("blocks").toModule().named_children().size());
}

at::Tensor prompt_tokens(const OpArgs& a, const std::string& name, const torch::jit::Module& model, int64_t rows) {
  at::Tensor t = a.tensor(name).to(at::kLong);
  if (t.dim() == 1) t = t.unsqueeze(0);
  if (t.dim() != 2 || t.size(0) == 0)
    throw OpError(name + " must be word ids [P, L] (data.tokenize), found " + describe(Value(t)));
  if (rows > 0 && t.size(0) != rows)
    throw OpError(fmt::format("{} prompts but {} in {}: one per prompt", rows, t.size(0), name));
  int64_t vocab = model.attr("vocab_size").toInt();
  if (t.min().item<int64_t>() < 0 || t.max().item<int64_t>() >= vocab)
    throw OpError(fmt::format("{} hold word ids outside the model's vocabulary of {}", name, vocab));
  return t;
}

std::vector<int64_t> block_list(const OpArgs& a, const std::string& name, const torch::jit::Module& model,
                                bool may_be_empty) {
  int64_t blocks = block_count(model);
  std::vector<int64_t> out;
  for (const auto& b : a[name].toListRef()) {
    int64_t i = b.toInt();
    if (i < 0 || i >= blocks)
      throw OpError(fmt::format("{}: block {} is not one of the model's {} (0 to {})", name, i, blocks, blocks - 1));
    out.push_back(i);
  }
  if (out.empty() && !may_be_empty) throw OpError(name + " names no block");
  return out;
}

at::Tensor pad_to(const at::Tensor& tokens, int64_t length) {
  return length > tokens.size(1) ? at::constant_pad_nd(tokens, {0, length - tokens.size(1)}) : tokens;
}

StepHook chunk_progress(OpContext& ctx, int64_t start, int64_t count, int64_t total) {
  return [&ctx, start, count, total](int64_t done, int64_t steps) {
    if (ctx.cancelled()) throw OpError("cancelled");
    ctx.progress(static_cast<uint64_t>(start * steps + done * count), static_cast<uint64_t>(total * steps));
  };
}

int64_t text_images_per_chunk(const OpContext& ctx, const torch::jit::Module& model, int64_t total) {
  // Both branches of guidance; each block keeps some 40 activations of the
  // width per image token for a forward pass.
  int64_t per_image;
  if (model.hasattr("activation_floats")) {  // the UNet says what it keeps
    per_image = 2 * model.attr("activation_floats").toInt() * 4;
  } else {
    const at::Tensor& pos = model.attr("pos").toTensor();  // the DiT: [1, image tokens, width]
    per_image = 2 * pos.size(1) * pos.size(2) * 4 * 40 * std::max<int64_t>(1, block_count(model)) / 6;
  }
  return items_per_chunk(ctx, per_image, total);
}

OpSignature& guided_sampling_params(OpSignature& s, int64_t images_per_prompt) {
  return s.param("n", "int", Operand::integer(images_per_prompt), "Images per prompt")
      .range(1)
      .param("steps", "int", Operand::integer(20), "DDIM steps")
      .range(1)
      .param("guidance", "float", Operand::real(3.0), "Classifier-free guidance scale (1 = the prompt alone)")
      .range(0);
}

Denoiser guided_denoiser(torch::jit::Module& m, const at::Tensor& tokens, double guidance,
                         const at::Tensor& block_tokens) {
  at::Tensor both = at::cat({at::zeros_like(tokens), tokens}, 0);
  return [m, both, guidance, block_tokens](const at::Tensor& x, int64_t t) mutable {
    at::Tensor ts = at::full({2 * x.size(0)}, static_cast<double>(t), x.options());
    at::Tensor xx = at::cat({x, x}, 0);
    at::Tensor eps = block_tokens.defined() ? m.run_method("forward_blocks", xx, ts, block_tokens).toTensor()
                                            : m.forward({xx, ts, both}).toTensor();
    at::Tensor u = eps.slice(0, 0, x.size(0)), c = eps.slice(0, x.size(0));
    return u + guidance * (c - u);
  };
}

std::vector<int64_t> timestep_ladder(int64_t top, int64_t steps) {
  std::vector<int64_t> ladder;
  steps = std::max<int64_t>(1, std::min(steps, top + 1));
  for (int64_t i = 0; i < steps; ++i) {
    auto t = static_cast<int64_t>(std::llround(static_cast<double>(i + 1) * static_cast<double>(top) /
                                               static_cast<double>(steps)));
    if (ladder.empty() || t > ladder.back()) ladder.push_back(t);
  }
  return ladder;
}

at::Tensor add_noise(const DiffusionModel& m, const at::Tensor& x, int64_t t, const at::Tensor& eps) {
  double a = m.alphas_cumprod[t].item<double>();
  return std::sqrt(a) * x + std::sqrt(1 - a) * eps;
}

at::Tensor reverse_process(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, double eta,
                           at::Generator gen, const StepHook& hook, const Denoiser& denoise) {
  torch::NoGradGuard no_grad;
  auto K = static_cast<int64_t>(ladder.size());
  for (int64_t i = K - 1; i >= 0; --i) {
    double a_t = m.alphas_cumprod[ladder[i]].item<double>();
    double a_prev = i > 0 ? m.alphas_cumprod[ladder[i - 1]].item<double>() : 1.0;
    at::Tensor eps = denoise ? denoise(x, ladder[i]) : m.epsilon(x, ladder[i]);
    at::Tensor x0 = ((x - std::sqrt(1 - a_t) * eps) / std::sqrt(a_t)).clamp(-1, 1);
    // Recompute the noise from the clipped x0 so the two stay consistent.
    eps = (x - std::sqrt(a_t) * x0) / std::sqrt(1 - a_t);
    double sigma = eta * std::sqrt((1 - a_prev) / (1 - a_t)) * std::sqrt(1 - a_t / a_prev);
    x = std::sqrt(a_prev) * x0 + std::sqrt(std::max(1 - a_prev - sigma * sigma, 0.0)) * eps;
    if (sigma > 0) x = x + sigma * at::randn(x.sizes(), gen, x.options().device(at::kCPU)).to(x.device());
    if (hook) hook(K - i, K);
  }
  return x;
}

at::Tensor ddim_invert(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, const StepHook& hook) {
  torch::NoGradGuard no_grad;
  auto K = static_cast<int64_t>(ladder.size());
  for (int64_t i = 0; i < K; ++i) {
    double a_cur = i > 0 ? m.alphas_cumprod[ladder[i - 1]].item<double>() : 1.0;
    double a_next = m.alphas_cumprod[ladder[i]].item<double>();
    // The noise at the next level is not known yet; DDIM inversion uses the
    // prediction at the next timestep from the current point.
    at::Tensor eps = m.epsilon(x, ladder[i]);
    at::Tensor x0 = (x - std::sqrt(1 - a_cur) * eps) / std::sqrt(a_cur);
    x = std::sqrt(a_next) * x0 + std::sqrt(1 - a_next) * eps;
    if (hook) hook(i + 1, K);
  }
  return x;
}

at::Tensor starting_noise(const OpArgs& a, const std::string& name, const DiffusionModel& m, int64_t rows,
                          at::Generator& gen) {
  int64_t c = m.channels, s = m.image_size;
  if (a.is_none(name)) return at::randn({rows, c, s, s}, gen, at::kFloat);
  at::Tensor noise = a.tensor(name).to(at::kFloat);
  if (noise.dim() != 4 || noise.size(0) != rows || noise.size(1) != c || noise.size(2) != s || noise.size(3) != s)
    throw OpError(fmt::format("{} must be [{}, {}, {}, {}] (prompts x n), found {}", name, rows, c, s, s,
                              describe(Value(noise))));
  return noise;
}

at::Tensor sample_text_images(OpContext& ctx, torch::jit::Module& model, const at::Tensor& tokens,
                              const at::Tensor& noise, const TextSampling& sampling, at::Generator gen,
                              const at::Tensor& swap, const at::Tensor& reads_swap) {
  DiffusionModel m(model);
  int64_t total = tokens.size(0);
  at::Tensor cond_all = tokens, swap_all = swap;
  if (swap.defined()) {
    int64_t l = std::max(tokens.size(1), swap.size(1));  // one length for both
    cond_all = pad_to(tokens, l);
    swap_all = pad_to(swap, l);
  }
  auto ladder = timestep_ladder(m.timesteps - 1, sampling.steps);
  return map_chunks(
      ctx, noise, text_images_per_chunk(ctx, model, total),
      [&](const at::Tensor& x, int64_t start) {
        int64_t k = x.size(0);
        at::Tensor cond = cond_all.slice(0, start, start + k);
        // With swaps, each block's captions [blocks, 2k, L], the empty captions first.
        at::Tensor per_block;
        if (swap_all.defined()) {
          at::Tensor sw = swap_all.slice(0, start, start + k), reads = reads_swap.slice(0, start, start + k);
          std::vector<at::Tensor> rows;
          for (int64_t b = 0; b < reads.size(1); ++b) {
            at::Tensor caption = at::where(reads.select(1, b).unsqueeze(1), sw, cond);
            rows.push_back(at::cat({at::zeros_like(caption), caption}, 0));
          }
          per_block = at::stack(rows).to(ctx.device);
        }
        Denoiser guided = guided_denoiser(model, cond.to(ctx.device), sampling.guidance, per_block);
        at::Tensor out = reverse_process(m, x.to(ctx.device), ladder, sampling.eta, gen,
                                         chunk_progress(ctx, start, k, total), guided);
        return ((out + 1) / 2).clamp(0, 1).to(at::kCPU);
      },
      ChunkProgress::Quiet);
}

}  // namespace pipette
