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
          .returns("record{windows: record{first_block: list<int>, blocks: list<string>, score: list<float>, drop: "
                   "list<float>, accuracy: list<float>}, located: list<int>, baseline: float, images: tensor}",
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
        at::Tensor targets = pipette::labels_per_row(a, "targets", p);

        // Rows: group g = 0 (unchanged) or window g - 1, then prompt, then image.
        int64_t windows = blocks - window + 1, groups = windows + 1, rows = groups * p * per;
        pipette::DiffusionModel dm(model);
        at::Generator gen = ctx.generator();
        at::Tensor base = pipette::starting_noise(a, "noise", dm, p * per, gen);
        at::Tensor noise = base.repeat({groups, 1, 1, 1});
        at::Tensor cond = prompts.repeat_interleave(per, 0).repeat({groups, 1});
        at::Tensor free_rows = free.repeat_interleave(per, 0).repeat({groups, 1});
        at::Tensor group = at::arange(groups, at::kLong).repeat_interleave(p * per);
        // Block b lies in window j (group j + 1) when j <= b < j + window.
        at::Tensor b_idx = at::arange(blocks, at::kLong).unsqueeze(0), g = group.unsqueeze(1);
        at::Tensor reads = (g >= b_idx - window + 2) & (g <= b_idx + 1) & (g >= 1);
        pipette::TextSampling sampling{a.int_("steps"), a.float_("guidance"), 0.0};
        at::Tensor images = pipette::sample_text_images(ctx, model, cond, noise, sampling, gen, free_rows, reads);

        // Probe scores, per group.
        at::Tensor probs;
        {
          torch::NoGradGuard no_grad;
          probs = pipette::map_chunks(ctx, images, 256, [&](const at::Tensor& x, int64_t) {
            return pipette::class_probabilities(probe, x.to(ctx.device)).to(at::kCPU);
          }, pipette::ChunkProgress::Quiet);
        }
        at::Tensor want = targets.repeat_interleave(per).repeat({groups});
        pipette::ClassifierVerdict v = pipette::classifier_verdict(probs, want);
        at::Tensor score = v.probability.to(at::kDouble).view({groups, p * per}).mean(1);
        at::Tensor accuracy = v.correct.to(at::kDouble).view({groups, p * per}).mean(1);
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

  OpSignature intervene("localize.intervene",
                        "The intervention of LocoGen and of Zarei et al. on given blocks: their cross-attention reads "
                        "FREE_PROMPTS (the knowledge removed) while every other block reads PROMPTS, in the "
                        "conditional branch of guidance only, at every step; and the unchanged prompts' images from "
                        "the same noise, for a paired comparison (viz.grid of both).");
  intervene.input("model", "model", "A text-to-image model (diffusion.train_text)")
      .input("prompts", "tensor", "Prompts with the knowledge, word ids [P, L] (data.tokenize)")
      .input("free_prompts", "tensor", "The same prompts without it, [P, L']")
      .input("blocks", "list<int>", "The blocks that read FREE_PROMPTS (0-based: the located ones)");
  pipette::guided_sampling_params(intervene, 4)
      .optional("noise", "tensor", "Starting noise [P * N, C, S, S]; none = drawn")
      .optional("seed", "int", "Overrides the derived seed (the noise)")
      .stochastic()
      .returns("record{images: tensor, original: tensor}",
               "images [P * N, C, S, S] in [0, 1] with the intervention (image j of prompt p at row p * N + j), "
               "and the unchanged prompts' images from the same noise");
  lib.define(intervene, [](const OpArgs& a, OpContext& ctx) -> Value {
    torch::jit::Module model = pipette::text_model_arg(a, "model", ctx.device);
    std::vector<int64_t> blocks = pipette::block_list(a, "blocks", model);
    at::Tensor prompts = pipette::prompt_tokens(a, "prompts", model);
    at::Tensor free = pipette::prompt_tokens(a, "free_prompts", model, prompts.size(0));
    int64_t p = prompts.size(0), per = a.int_("n"), total = 2 * p * per;
    pipette::DiffusionModel dm(model);
    at::Generator gen = ctx.generator();
    at::Tensor base = pipette::starting_noise(a, "noise", dm, p * per, gen);
    // One sampler for both: the intervened rows first, then the unchanged ones.
    at::Tensor cond = prompts.repeat_interleave(per, 0).repeat({2, 1});
    at::Tensor free_rows = free.repeat_interleave(per, 0).repeat({2, 1});
    at::Tensor reads = at::zeros({total, pipette::block_count(model)}, at::kBool);
    for (int64_t b : blocks) reads.slice(0, 0, p * per).select(1, b).fill_(true);
    pipette::TextSampling sampling{a.int_("steps"), a.float_("guidance"), 0.0};
    at::Tensor images =
        pipette::sample_text_images(ctx, model, cond, base.repeat({2, 1, 1, 1}), sampling, gen, free_rows, reads);
    return pipette::make_record({{"images", Value(images.slice(0, 0, p * per).contiguous())},
                                 {"original", Value(images.slice(0, p * per).contiguous())}});
  });
}

}  // namespace localize
