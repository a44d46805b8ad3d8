// Sampling pipette's diffusion models (the stdlib's UNet and text-to-image
// DiT, and any module with forward(x, t, ...) and the buffer alphas_cumprod):
// the schedule read from the module, DDIM/DDPM's reverse process with any
// noise predictor (classifier-free guidance, per-block captions), DDIM
// inversion. In the SDK: the standard library's diffusion ops and plugins that
// sample under interventions (localize) use the one sampler.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>
#include <torch/script.h>

#include <functional>
#include <string>
#include <vector>

#include "engine/op_impl.hpp"
#include "engine/op_signature.hpp"

namespace pipette {

// A diffusion model's schedule, read from the module; throws OpError when the
// module is not one of pipette's diffusion models.
struct PIPETTE_API DiffusionModel {
  torch::jit::Module module;
  at::Tensor alphas_cumprod;  // [T] double, on the CPU
  int64_t timesteps = 0;
  int64_t channels = 0;
  int64_t image_size = 0;
  explicit DiffusionModel(torch::jit::Module m);

  // The predicted noise for x_t ([-1, 1] space) at integer timestep t.
  at::Tensor epsilon(const at::Tensor& x, int64_t t);
};

// Ascending timesteps tau_0 < ... < tau_{K-1} = top, K at most `steps`:
// tau_i = round((i + 1) * top / K), duplicates dropped.
PIPETTE_API std::vector<int64_t> timestep_ladder(int64_t top, int64_t steps);

// Called after each model evaluation with (done, total); throws to stop.
using StepHook = std::function<void(int64_t, int64_t)>;

// What predicts the noise of x_t at timestep t: by default the model's
// forward(x, t); a text-to-image sampler passes its guided prediction.
using Denoiser = std::function<at::Tensor(const at::Tensor& x, int64_t t)>;

// A text-to-image model's arguments, checked as every op that samples one
// needs them. text_model_arg: the model (on `device`); an OpError when it has
// no per-block captions (forward_blocks, vocab_size: diffusion.train_text's).
// prompt_tokens: word ids [P, L] (a 1-D tensor is one prompt) within the
// model's vocabulary; with `rows` > 0, exactly that many prompts.
// pad_to: `t` padded with 0 (the padding word) to `length` words.
PIPETTE_API torch::jit::Module text_model_arg(const OpArgs& a, const std::string& name, c10::Device device);
PIPETTE_API at::Tensor prompt_tokens(const OpArgs& a, const std::string& name, const torch::jit::Module& model,
                                     int64_t rows = 0);
PIPETTE_API at::Tensor pad_to(const at::Tensor& tokens, int64_t length);
PIPETTE_API int64_t block_count(const torch::jit::Module& model);
// The list<int> argument `name` as block indices of `model`: an OpError names a
// block outside 0 .. blocks - 1, and an empty list unless `may_be_empty`.
PIPETTE_API std::vector<int64_t> block_list(const OpArgs& a, const std::string& name,
                                            const torch::jit::Module& model, bool may_be_empty = false);

// Progress and cancellation for the sampling of images [start, start + count)
// of `total`, as the sampler reports its steps: every op that samples in
// chunks reports one progress line over all chunks and steps.
PIPETTE_API StepHook chunk_progress(OpContext& ctx, int64_t start, int64_t count, int64_t total);

// How many images of a text-to-image model to sample at once (both branches
// of guidance) so that the working set fits the op's memory budget.
PIPETTE_API int64_t text_images_per_chunk(const OpContext& ctx, const torch::jit::Module& model, int64_t total);

// n (images per prompt, its default given), steps and guidance, as every op that samples a
// text-to-image model declares them.
PIPETTE_API OpSignature& guided_sampling_params(OpSignature& s, int64_t images_per_prompt);

// Classifier-free guidance with a text-to-image model (forward(x, t, tokens)):
// eps(empty caption) + guidance * (eps(caption) - eps(empty)), both branches in
// one batched forward pass. `tokens` [n, L] are the captions of the n images;
// with `block_tokens` [blocks, 2n, L] (the n empty captions first, then the n
// conditional ones) every block reads its own caption (forward_blocks).
PIPETTE_API Denoiser guided_denoiser(torch::jit::Module& m, const at::Tensor& tokens, double guidance,
                                     const at::Tensor& block_tokens = {});

// The starting noise [rows, C, S, S] of a sampler: the tensor argument `name`,
// checked against the model's image shape (an OpError naming both), or
// standard normal noise from `gen` when it is none.
PIPETTE_API at::Tensor starting_noise(const OpArgs& a, const std::string& name, const DiffusionModel& m,
                                      int64_t rows, at::Generator& gen);

// Images in [0, 1] from a text-to-image model: row r from noise[r] for the
// caption tokens[r] (DDIM with `eta` and classifier-free guidance on the
// ladder of `steps`), in chunks under the op's memory budget with one progress
// line. With `swap` [R, L'] and `reads_swap` [R, blocks] (bool), block b's
// cross-attention of row r reads swap[r] instead where reads_swap[r, b], in
// the conditional branch only: the intervention of LocoGen and of Zarei et al.
struct TextSampling {
  int64_t steps = 20;
  double guidance = 3.0;
  double eta = 0.0;
};
PIPETTE_API at::Tensor sample_text_images(OpContext& ctx, torch::jit::Module& model, const at::Tensor& tokens,
                                          const at::Tensor& noise, const TextSampling& sampling, at::Generator gen,
                                          const at::Tensor& swap = {}, const at::Tensor& reads_swap = {});

// Runs the reverse process from x (at the noise level of ladder.back(), [-1, 1]
// space) down to a clean image: DDIM with eta (0 = deterministic, 1 = DDPM's
// ancestral sampler on this ladder). The predicted clean image is clipped to
// [-1, 1] at each step, as DDPM/DDIM samplers do. Returns [-1, 1] images.
PIPETTE_API at::Tensor reverse_process(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, double eta,
                           at::Generator gen, const StepHook& hook, const Denoiser& denoise = {});

// Deterministic DDIM inversion: from clean images ([-1, 1]) up the ladder to
// the noise that DDIM sampling with the same ladder maps back to them.
PIPETTE_API at::Tensor ddim_invert(DiffusionModel& m, at::Tensor x, const std::vector<int64_t>& ladder, const StepHook& hook);

// q(x_t | x_0): sqrt(abar_t) x + sqrt(1 - abar_t) eps.
PIPETTE_API at::Tensor add_noise(const DiffusionModel& m, const at::Tensor& x, int64_t t, const at::Tensor& eps);

}  // namespace pipette
