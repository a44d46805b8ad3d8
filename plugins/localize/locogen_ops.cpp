// localize.locogen: LocoGen's window sweep (Basu et al., ICML 2024). For each
// window of WINDOW consecutive blocks, the cross-attention of the window's
// blocks reads the knowledge-free prompt while every other block reads the
// full prompt, in the conditional branch of guidance only, at every step; the
// images are scored by a probe for the attribute the prompt asks for, and the
// window whose images lose the most holds the knowledge. All windows, prompts
// and images are sampled as batches of one sampler under the memory budget,
// each window from the same noise as the unchanged prompts (paired).
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>

#include "engine/chunks.hpp"
#include "engine/diffusion_sampling.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"
#include "ops.hpp"

namespace localize {

namespace {

Value ints(const std::vector<int64_t>& v) { return Value(c10::List<int64_t>(v)); }

}  // namespace

void register_locogen_ops(pipette::OpLibrary& lib) {
  OpSignature locogen("localize.locogen",
                  "LocoGen's window sweep: for each window of WINDOW consecutive blocks, those blocks' "
                  "cross-attention reads FREE_PROMPTS (the prompts with the knowledge removed: \"a small plain dress "
                  "on the left\" for \"a small red plain dress on the left\") and every other block PROMPTS, in the "
                  "conditional branch of classifier-free guidance only, at every step. PROBE scores each image: "
                  "its probability of TARGETS (the attribute class each prompt asks for). The window with the "
                  "lowest mean score (the largest drop from the unchanged prompts) is located. Every window is "
                  "sampled from the same noise as the unchanged prompts.");
  locogen.input("model", "model", "A text-to-image model (diffusion.train_text)")
          .input("prompts", "tensor", "Prompts with the knowledge, word ids [P, L] (data.tokenize)")
          .input("free_prompts", "tensor", "The same prompts without it, [P, L']")
          .input("probe", "model", "A classifier of generated images for the attribute (train.classifier)")
          .input("targets", "int|list<int>|tensor", "The attribute class each prompt asks for: one for all, or one per prompt")
          .param("window", "int", Operand::integer(2), "Consecutive blocks per window (LocoGen's m)")
          .range(1);
  pipette::guided_sampling_params(locogen, 4)
          .optional("noise", "tensor", "Starting noise [P * N, C, S, S], the same for every window; none = drawn")
          .optional("seed", "int", "Overrides the derived seed (the noise)")
          .stochastic()
          .returns("record{windows: table, located: list<int>, baseline: float, images: tensor}",
                   "windows: one row per window (first block, blocks, score, drop from the baseline, accuracy); "
                   "located: the blocks of the window with the lowest score; baseline: the unchanged prompts' "
                   "score; images [(W + 1) * P * N, C, S, S]: the unchanged prompts' first, then each window's");
  lib.define(
      locogen,
      [](const OpArgs& a, OpContext& ctx) -> Value {
        torch::jit::Module model = pipette::text_model_arg(a, "model", ctx.device);
        torch::jit::Module probe = pipette::model_arg(a, "probe", ctx.device);
        int64_t blocks = pipette::block_count(model), window = a.int_("window");
        if (window > blocks)
          throw OpError(fmt::format("window {} is longer than the model's {} blocks", window, blocks));
        at::Tensor prompts = pipette::prompt_tokens(a, "prompts", model);
        at::Tensor free = pipette::prompt_tokens(a, "free_prompts", model, prompts.size(0));
        int64_t l = std::max(prompts.size(1), free.size(1));
        prompts = pipette::pad_to(prompts, l);
        free = pipette::pad_to(free, l);
        int64_t p = prompts.size(0), per = a.int_("n");
        at::Tensor targets;
        if (a["targets"].isInt()) {
          targets = at::full({p}, a.int_("targets"), at::kLong);
        } else if (a["targets"].isList()) {
          std::vector<int64_t> v;
          for (const auto& item : a["targets"].toListRef()) v.push_back(item.toInt());
          targets = at::tensor(v, at::kLong);
        } else {
          targets = a.tensor("targets").to(at::kLong).reshape({-1});
        }
        if (targets.numel() == 1) targets = targets.expand({p}).contiguous();
        if (targets.size(0) != p)
          throw OpError(fmt::format("{} targets for {} prompts", targets.size(0), p));

        // Rows: group g = 0 (unchanged) or window g - 1, then prompt, then image.
        int64_t windows = blocks - window + 1, groups = windows + 1, rows = groups * p * per;
        pipette::DiffusionModel dm(model);
        int64_t s = dm.image_size, c = dm.channels;
        at::Generator gen = ctx.generator();
        at::Tensor base = a.is_none("noise") ? at::randn({p * per, c, s, s}, gen, at::kFloat)
                                             : a.tensor("noise").to(at::kFloat);
        if (base.dim() != 4 || base.size(0) != p * per || base.size(1) != c || base.size(2) != s || base.size(3) != s)
          throw OpError(fmt::format("noise must be [{}, {}, {}, {}] (prompts x n), found {}", p * per, c, s, s,
                                    pipette::describe(Value(base))));
        at::Tensor noise = base.repeat({groups, 1, 1, 1});
        at::Tensor cond = prompts.repeat_interleave(per, 0).repeat({groups, 1});
        at::Tensor free_rows = free.repeat_interleave(per, 0).repeat({groups, 1});
        at::Tensor group = at::arange(groups, at::kLong).repeat_interleave(p * per);
        auto ladder = pipette::timestep_ladder(dm.timesteps - 1, a.int_("steps"));
        double w = a.float_("guidance");
        int64_t chunk = pipette::text_images_per_chunk(ctx, model, rows);
        at::Tensor images = pipette::map_chunks(
            ctx, noise, chunk,
            [&](const at::Tensor& x, int64_t start) {
              int64_t k = x.size(0);
              at::Tensor g = group.slice(0, start, start + k), cr = cond.slice(0, start, start + k);
              at::Tensor fr = free_rows.slice(0, start, start + k);
              std::vector<at::Tensor> per_block;
              for (int64_t b = 0; b < blocks; ++b) {
                // Block b lies in window j (group j + 1) when j <= b < j + window.
                at::Tensor in_window = (g >= b - window + 2) & (g <= b + 1) & (g >= 1);
                at::Tensor caption = at::where(in_window.unsqueeze(1), fr, cr);
                per_block.push_back(at::cat({at::zeros_like(caption), caption}, 0));
              }
              at::Tensor block_tokens = at::stack(per_block).to(ctx.device);
              pipette::Denoiser guided = pipette::guided_denoiser(model, cr.to(ctx.device), w, block_tokens);
              at::Tensor out = pipette::reverse_process(dm, x.to(ctx.device), ladder, 0.0, gen,
                                                        pipette::chunk_progress(ctx, start, k, rows), guided);
              return ((out + 1) / 2).clamp(0, 1).to(at::kCPU);
            },
            pipette::ChunkProgress::Quiet);

        // Probe scores, per group.
        at::Tensor probs;
        {
          torch::NoGradGuard no_grad;
          probs = pipette::map_chunks(ctx, images, 256, [&](const at::Tensor& x, int64_t) {
            return pipette::score_rows(pipette::logits_of(probe, x.to(ctx.device))).softmax(1).to(at::kCPU);
          }, pipette::ChunkProgress::Quiet);
        }
        at::Tensor want = targets.repeat_interleave(per).repeat({groups});
        at::Tensor picked = pipette::pick_targets(probs, want).view({groups, p * per});
        at::Tensor correct = probs.argmax(1).eq(want).to(at::kDouble).view({groups, p * per});
        at::Tensor score = picked.to(at::kDouble).mean(1), accuracy = correct.mean(1);
        double baseline = score[0].item<double>();
        c10::List<int64_t> first;
        c10::List<std::string> names;
        c10::List<double> scores, drops, accs;
        int64_t best = 0;
        for (int64_t j = 0; j < windows; ++j) {
          first.push_back(j);
          std::string label;
          for (int64_t b = j; b < j + window; ++b) {
            if (b > j) label += ',';
            label += std::to_string(b);
          }
          names.push_back(label);
          scores.push_back(score[j + 1].item<double>());
          drops.push_back(baseline - score[j + 1].item<double>());
          accs.push_back(accuracy[j + 1].item<double>());
          if (score[j + 1].item<double>() < score[best + 1].item<double>()) best = j;
        }
        std::vector<int64_t> located;
        for (int64_t b = best; b < best + window; ++b) located.push_back(b);
        ctx.log(OpContext::Info, fmt::format("baseline score {:.3f}; lowest with blocks {} ({:.3f})", baseline,
                                             names.get(static_cast<size_t>(best)), scores.get(static_cast<size_t>(best))));
        Value table = pipette::make_record({{"first_block", Value(first)},
                                            {"blocks", Value(names)},
                                            {"score", Value(scores)},
                                            {"drop", Value(drops)},
                                            {"accuracy", Value(accs)}});
        return pipette::make_record({{"windows", table},
                                     {"located", ints(located)},
                                     {"baseline", Value(baseline)},
                                     {"images", Value(images)}});
      });
}

}  // namespace localize
