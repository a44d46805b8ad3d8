// diffusion.*: training pipette's own image diffusion model, sampling from it,
// inverting images to their noise, and diffusion purification.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <cmath>

#include "stdlib/diffusion/denoiser_training.hpp"
#include "stdlib/diffusion/diffusion.hpp"
#include "stdlib/model/model_util.hpp"
#include "engine/chunks.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// The images' channels against the model's (the images' shape and range are
// their parameter's contract, checked by the engine: OpSignature::images).
void check_channels(const at::Tensor& x, int64_t channels) {
  if (x.size(1) != channels)
    throw OpError(fmt::format("images have {} channels; the diffusion model was trained on {}", x.size(1), channels));
}

// Random size x size training crops of `x` (padded with zeros where smaller),
// flipped left-right at random when `flip`.
at::Tensor random_crops(const at::Tensor& x, const at::Tensor& idx, int64_t size, bool flip, at::Generator& gen) {
  at::Tensor src = x.index_select(0, idx);
  int64_t ph = std::max<int64_t>(0, size - src.size(2)), pw = std::max<int64_t>(0, size - src.size(3));
  if (ph || pw) src = at::constant_pad_nd(src, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0.0);
  int64_t H = src.size(2), W = src.size(3);
  std::vector<at::Tensor> crops;
  at::Tensor oy = at::randint(0, H - size + 1, {src.size(0)}, gen, at::kLong);
  at::Tensor ox = at::randint(0, W - size + 1, {src.size(0)}, gen, at::kLong);
  at::Tensor flips = at::rand({src.size(0)}, gen, at::kDouble);
  for (int64_t i = 0; i < src.size(0); ++i) {
    at::Tensor c = src[i].narrow(1, oy[i].item<int64_t>(), size).narrow(2, ox[i].item<int64_t>(), size);
    if (flip && flips[i].item<double>() < 0.5) c = c.flip({2});
    crops.push_back(c);
  }
  return at::stack(crops);
}

// Images per forward pass so that activations stay within the budget: the
// UNet keeps about 30 feature maps of its first width per pixel alive.
int64_t images_per_chunk(const OpContext& ctx, const DiffusionModel& m, const at::Tensor& x) {
  int64_t width = m.module.attr("inp_weight").toTensor().size(0);
  uint64_t per_image = static_cast<uint64_t>(x.size(2) * x.size(3) * width) * 4u * 30u;
  uint64_t budget = ctx.memory_budget ? ctx.memory_budget : (1ull << 30);
  return std::max<int64_t>(1, std::min<int64_t>(x.size(0), static_cast<int64_t>(budget / per_image)));
}

DiffusionModel diffusion_arg(const OpArgs& a, OpContext& ctx) {
  DiffusionModel m(model_arg(a, "model", ctx.device));
  m.module.eval();
  return m;
}

at::Tensor to_model_space(const at::Tensor& x, c10::Device d) { return x.to(d, at::kFloat) * 2 - 1; }
at::Tensor to_images(const at::Tensor& x) { return ((x + 1) / 2).clamp(0, 1).to(at::kCPU); }

}  // namespace

void register_diffusion(OpLibrary& lib) {
  OpSignature train_unet("diffusion.train",
                  "Trains pipette's image diffusion model: a small UNet (two resolutions, residual blocks with the "
                  "timestep embedding, GroupNorm) predicting the noise of DDPM's objective, with Adam and an "
                  "exponential moving average of the weights (the returned model carries the EMA weights). Each step "
                  "takes a random batch of random SIZE x SIZE crops (images smaller than SIZE are padded with zeros, "
                  "e.g. Fashion-MNIST's 28x28 to 32x32). TorchScript: forward(x, t) in Python, with buffer "
                  "alphas_cumprod.");
  train_unet.input("images", "tensor", "Training images [N, C, H, W] in [0, 1]")
      .images()
      .param("size", "int", Operand::integer(32), "Training crop size (a multiple of 4)")
      .range(4, 1024);
  denoiser_params(train_unet, 0.999)
      .param("batch", "int", Operand::integer(32), "Crops per step")
      .range(1)
      .param("width", "int", Operand::integer(32), "Channels of the first level (a multiple of 8)")
      .range(8, 512)
      .param("flip", "bool", Operand::boolean(true), "Random left-right flips of the crops")
      .optional("seed", "int", "Overrides the derived seed (initialisation, batches, noise)")
      .stochastic()
      .returns("record{model: model, loss: float, losses: tensor}",
               "the model (EMA weights), the mean loss of the last 10 % of steps, and every step's loss");
  lib.define(
      train_unet,
      [](const OpArgs& a, OpContext& ctx) {
        at::Tensor images = a.tensor("images");
        if (images.size(0) == 0) throw OpError("images holds no images");
        int64_t size = a.int_("size");
        if (size % 4) throw OpError(fmt::format("size must be a multiple of 4 (two halvings), found {}", size));
        images = images.to(at::kFloat).contiguous();
        at::Generator gen = ctx.generator();
        UNetConfig cfg;
        cfg.channels = images.size(1);
        cfg.width = a.int_("width");
        cfg.timesteps = a.int_("timesteps");
        cfg.schedule = a.string("schedule");
        cfg.image_size = size;
        torch::jit::Module module = build_unet(cfg, gen);
        module.to(ctx.device);
        DenoiserTraining training{a.int_("steps"), a.float_("lr"), a.float_("ema")};
        int64_t batch = a.int_("batch");
        bool flip = a.bool_("flip");
        std::vector<double> losses = train_denoiser(module, training, gen, ctx, [&](int64_t, at::Generator& g) {
          at::Tensor idx = at::randint(0, images.size(0), {batch}, g, at::kLong);
          return DenoiserBatch{to_model_space(random_crops(images, idx, size, flip, g), ctx.device), {}};
        });
        module.to(at::kCPU);
        return make_record({{"model", Value(module._ivalue())},
                            {"loss", Value(tail_mean(losses))},
                            {"losses", Value(at::tensor(losses, at::kDouble).to(at::kFloat))}});
      });

  lib.define(OpSignature("diffusion.sample",
                         "Samples images from a diffusion model: DDIM (eta = 0: deterministic given the noise) or "
                         "DDPM's ancestral sampler (sampler=\"ddpm\", i.e. eta = 1), on STEPS evenly spaced timesteps. "
                         "NOISE fixes the starting noise (e.g. a Tree-Ring key planted in it); otherwise it is drawn "
                         "from the node's seed.")
                 .input("model", "model", "A model from diffusion.train")
                 .param("n", "int", Operand::integer(16), "How many images (without NOISE)")
                 .range(1)
                 .param("size", "int", Operand::integer(0), "Image size (without NOISE); 0 = the training size")
                 .range(0)
                 .param("steps", "int", Operand::integer(50), "Denoising steps")
                 .range(1)
                 .param("sampler", "string", Operand::string("ddim"), "ddim or ddpm")
                 .choices({"ddim", "ddpm"})
                 .param("eta", "float", Operand::real(0.0), "DDIM's eta (ddim only): 0 deterministic, 1 = DDPM")
                 .range(0.0, 1.0)
                 .optional("noise", "tensor", "Starting noise [N, C, H, W] (standard normal)")
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .returns("tensor", "Images [N, C, H, W] in [0, 1]"),
             [](const OpArgs& a, OpContext& ctx) {
               DiffusionModel m = diffusion_arg(a, ctx);
               at::Generator gen = ctx.generator();
               at::Tensor noise;
               if (!a.is_none("noise")) {
                 noise = a.tensor("noise");
                 if (noise.dim() != 4 || noise.size(1) != m.channels)
                   throw OpError(fmt::format("noise must be [N, {}, H, W], found [{}]", m.channels, fmt::join(noise.sizes(), ", ")));
               } else {
                 int64_t size = a.int_("size") ? a.int_("size") : m.image_size;
                 noise = at::randn({a.int_("n"), m.channels, size, size}, gen, at::kFloat);
               }
               double eta = a.string("sampler") == "ddpm" ? 1.0 : a.float_("eta");
               auto ladder = timestep_ladder(m.timesteps - 1, a.int_("steps"));
               int64_t chunk = images_per_chunk(ctx, m, noise);
               return Value(map_chunks(ctx, noise, chunk, [&](const at::Tensor& x, int64_t start) {
                 return to_images(reverse_process(m, x.to(ctx.device, at::kFloat), ladder, eta, gen,
                                                  chunk_progress(ctx, start, x.size(0), noise.size(0))));
               }, ChunkProgress::Quiet));
             });

  lib.define(OpSignature("diffusion.invert",
                         "DDIM inversion: the starting noise from which deterministic DDIM sampling with the same "
                         "steps regenerates the images (approximately: each step uses the model's noise prediction at "
                         "the next timestep). Tree-Ring detection reads the key from it.")
                 .input("model", "model", "A model from diffusion.train")
                 .input("images", "tensor", "Images [N, C, H, W] in [0, 1]")
                 .images()
                 .param("steps", "int", Operand::integer(50), "Inversion steps (as the sampler's)")
                 .range(1)
                 .returns("tensor", "Noise [N, C, H, W]"),
             [](const OpArgs& a, OpContext& ctx) {
               DiffusionModel m = diffusion_arg(a, ctx);
               at::Tensor images = a.tensor("images");
               check_channels(images, m.channels);
               auto ladder = timestep_ladder(m.timesteps - 1, a.int_("steps"));
               return Value(map_chunks(ctx, images, images_per_chunk(ctx, m, images), [&](const at::Tensor& x, int64_t s) {
                 return ddim_invert(m, to_model_space(x, ctx.device), ladder, chunk_progress(ctx, s, x.size(0), images.size(0)))
                     .to(at::kCPU);
               }, ChunkProgress::Quiet));
             });

  lib.define(OpSignature("diffusion.purify",
                         "Diffusion purification (DiffPure; the attack of Saberi et al. on low-perturbation "
                         "watermarks): noise the images to level t* (x_t = sqrt(abar)·x + sqrt(1 - abar)·eps at "
                         "timestep round(t*·T)) and denoise back with DDIM. Works on any image size: the UNet is "
                         "convolutional.")
                 .input("model", "model", "A model from diffusion.train")
                 .input("images", "tensor", "Images [N, C, H, W] in [0, 1]")
                 .images()
                 .param("t", "float", Operand::real(0.2), "Noise level t* in (0, 1]: the share of the diffusion")
                 .range(0.0, 1.0)
                 .param("steps", "int", Operand::integer(10), "DDIM steps back to a clean image")
                 .range(1)
                 .optional("seed", "int", "Overrides the derived seed (the noise)")
                 .stochastic()
                 .returns("tensor", "The purified images, same shape, in [0, 1]"),
             [](const OpArgs& a, OpContext& ctx) {
               DiffusionModel m = diffusion_arg(a, ctx);
               at::Tensor images = a.tensor("images");
               check_channels(images, m.channels);
               auto top = static_cast<int64_t>(std::llround(a.float_("t") * static_cast<double>(m.timesteps)));
               top = std::min(top, m.timesteps - 1);
               if (top <= 0) return Value(images.to(at::kFloat));  // t* = 0 leaves the images as they are
               at::Generator gen = ctx.generator();
               auto ladder = timestep_ladder(top, a.int_("steps"));
               return Value(map_chunks(ctx, images, images_per_chunk(ctx, m, images), [&](const at::Tensor& x, int64_t s) {
                 at::Tensor eps = at::randn(x.sizes(), gen, at::kFloat).to(ctx.device);
                 at::Tensor xt = add_noise(m, to_model_space(x, ctx.device), top, eps);
                 return to_images(reverse_process(m, xt, ladder, 0.0, gen, chunk_progress(ctx, s, x.size(0), images.size(0))));
               }, ChunkProgress::Quiet));
             });
}

}  // namespace pipette::stdlib
