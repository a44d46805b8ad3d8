// localize.loco_edit: LocoEdit (Basu et al., ICML 2024), a closed-form edit of
// the key and value projections of the located blocks. For each projection W:
//   W' = argmin_W' sum_i |W' x_i - W y_i|^2 + lambda |W' - W|_F^2
// with x_i the text encoder's output at the last word of the i-th prompt with
// the concept, y_i the same for its concept-free prompt, as the block reads
// them (planted words already taken out where the block may not see them);
// tokens="all" pairs every word's encoding instead (pipette's variant: a
// text encoder without a causal mask keeps the concept in its own token).
// The normal equations W' (X^T X + lambda I) = W (Y^T X + lambda I) are solved,
// not inverted (the reference inverts). The edited model is a copy.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include "engine/diffusion_sampling.hpp"
#include "engine/model_arg.hpp"
#include "ops.hpp"

namespace localize {

namespace {

// The prompts as block `b` reads them: the words planted elsewhere set to
// padding (the model's own rule, in forward()).
at::Tensor block_tokens(torch::jit::Module& model, const at::Tensor& tokens, int64_t b) {
  at::Tensor seen = model.attr("word_blocks").toTensor()[b].index_select(0, tokens.flatten()).view(tokens.sizes());
  return tokens * seen.to(at::kLong);
}

// The text encoder's output for block-read tokens: [P, 1 + L, D], the null
// word first.
at::Tensor encode(torch::jit::Module& model, const at::Tensor& tb) {
  return model.attr("text").toModule().forward({tb}).toTensor();
}

// Each row's position in the encoder's output of its last word the block
// reads: 1 + the last non-padding token. Not 1 + the number of words: a word
// planted elsewhere is padding in the middle of the prompt for this block.
at::Tensor last_positions(const at::Tensor& tb) {
  at::Tensor positions = at::arange(1, tb.size(1) + 1, tb.options());
  at::Tensor last = (tb.ne(0).to(at::kLong) * positions).amax(1);
  if (last.min().item<int64_t>() == 0) throw OpError("a prompt has no word the block reads");
  return last;
}

// The text encoder's output at each prompt's last word, as block `b` reads
// the prompts: [P, D].
at::Tensor last_word(torch::jit::Module& model, const at::Tensor& tokens, int64_t b) {
  at::Tensor tb = block_tokens(model, tokens, b);
  at::Tensor text = encode(model, tb);
  at::Tensor idx = last_positions(tb).view({-1, 1, 1}).expand({-1, 1, text.size(2)});
  return text.gather(1, idx).squeeze(1);
}

// tokens="all": every encoding the block reads of the concept prompts (the
// null word and each word), each paired with the concept-free prompt's
// encoding of the same word. The free prompt must be the prompt with words
// removed (data.drop_words) or replaced one for one (same word count): the
// words pair in order; a removed word pairs with the free prompt's last word,
// the paper's target. Rows x [R, D] and y [R, D].
std::pair<at::Tensor, at::Tensor> every_word(torch::jit::Module& model, const at::Tensor& tokens,
                                             const at::Tensor& free, int64_t b) {
  at::Tensor tp = block_tokens(model, tokens, b), tf = block_tokens(model, free, b);
  at::Tensor ep = encode(model, tp), ef = encode(model, tf);
  at::Tensor cp_t = tp.cpu().contiguous(), cf_t = tf.cpu().contiguous();
  at::Tensor last_t = last_positions(tf).cpu();
  auto cp = cp_t.accessor<int64_t, 2>(), cf = cf_t.accessor<int64_t, 2>();
  auto last = last_t.accessor<int64_t, 1>();
  std::vector<int64_t> rows, xs, ys;  // prompt row, position in ep, position in ef
  for (int64_t i = 0; i < cp.size(0); ++i) {
    std::vector<int64_t> pw, fw;  // positions (1 + token index) of words
    for (int64_t j = 0; j < cp.size(1); ++j)
      if (cp[i][j] != 0) pw.push_back(j + 1);
    for (int64_t j = 0; j < cf.size(1); ++j)
      if (cf[i][j] != 0) fw.push_back(j + 1);
    rows.push_back(i), xs.push_back(0), ys.push_back(0);  // the null word
    if (pw.size() == fw.size()) {
      for (size_t k = 0; k < pw.size(); ++k) rows.push_back(i), xs.push_back(pw[k]), ys.push_back(fw[k]);
      continue;
    }
    size_t k = 0;
    for (int64_t pos : pw) {
      bool kept = k < fw.size() && cp[i][pos - 1] == cf[i][fw[k] - 1];
      rows.push_back(i), xs.push_back(pos), ys.push_back(kept ? fw[k++] : last[i]);
    }
    if (k != fw.size())
      throw OpError(fmt::format("tokens=\"all\": free prompt {} is neither prompt {} with words removed nor the same "
                                "number of words: its words cannot be paired with the prompt's (data.drop_words makes "
                                "such prompts)",
                                i, i));
  }
  auto pick = [&](const at::Tensor& e, const std::vector<int64_t>& pos) {
    at::Tensor r = at::tensor(rows, at::kLong).to(e.device()), p = at::tensor(pos, at::kLong).to(e.device());
    return e.index({r, p});
  };
  return {pick(ep, xs), pick(ef, ys)};
}

// Every encoding block `b` reads of the prompts: the null word and each word,
// [R, D]. The rows an edit must leave as they are (keep=).
at::Tensor read_words(torch::jit::Module& model, const at::Tensor& tokens, int64_t b) {
  at::Tensor tb = block_tokens(model, tokens, b);
  at::Tensor text = encode(model, tb);
  at::Tensor read = at::cat({at::ones({tb.size(0), 1}, tb.options().dtype(at::kBool)), tb.ne(0)}, 1);
  return text.index({read});
}

// Welch's t per column of a [n1, D] and b [n2, D] (sample variances).
at::Tensor welch_t(const at::Tensor& a, const at::Tensor& b) {
  at::Tensor va = a.var(0, /*unbiased=*/true), vb = b.var(0, /*unbiased=*/true);
  at::Tensor se = (va / static_cast<double>(a.size(0)) + vb / static_cast<double>(b.size(0))).sqrt();
  return (a.mean(0) - b.mean(0)) / se.clamp_min(1e-12);
}

}  // namespace

void register_edit_ops(pipette::OpLibrary& lib) {
  lib.define(
      OpSignature("localize.loco_edit",
                  "LocoEdit: a closed-form edit of the key and value projections of BLOCKS' cross-attention, "
                  "W' = argmin sum_i |W' x_i - W y_i|^2 + LAMBDA |W' - W|^2, x_i the text encoder's output at the "
                  "last word of PROMPTS (with the concept), y_i the same for FREE_PROMPTS (without it); solved "
                  "from the normal equations. The edited model is a copy; every other parameter is unchanged.")
          .input("model", "model", "A text-to-image model (diffusion.train_text)")
          .input("prompts", "tensor", "Prompts with the concept, word ids [P, L]")
          .input("free_prompts", "tensor", "The same prompts without it, [P, L']")
          .input("blocks", "list<int>", "The blocks to edit (the located ones)")
          .param("lambda", "float", Operand::real(0.01), "Regularisation towards the original weights (the paper: 0.01)")
          .param("tokens", "string", Operand::string("last"),
                 "Which encodings pair: the last word's (the paper, for a causal text encoder) or every word's, "
                 "the removed words paired with the free prompt's last word")
          .choices({"last", "all"})
          .optional("keep", "tensor",
                    "Prompts the edit must leave as they are: every encoding the block reads of them is a row "
                    "with x = y (as UCE preserves concepts), [K, L'']")
          .returns("record{model: model, before: float, after: float, kept: float}",
                   "the edited model; the mean |W x_i - W y_i| before and |W' x_i - W y_i| after the edit, over "
                   "the edited rows and projections; and the mean |W' x - W x| over the kept rows (0 without keep)"),
      [](const OpArgs& a, OpContext& ctx) -> Value {
        torch::jit::Module model = pipette::text_model_arg(a, "model", ctx.device);
        double lambda = a.float_("lambda");
        bool every = a.string("tokens") == "all";
        if (!(lambda > 0))
          throw OpError(fmt::format("lambda must be positive (the paper: 0.01), found {}: with few prompts X^T X has "
                                    "low rank, and lambda is what makes the edit unique",
                                    lambda));
        int64_t blocks = pipette::block_count(model);
        at::Tensor prompts = pipette::prompt_tokens(a, "prompts", model).to(ctx.device);
        at::Tensor free = pipette::prompt_tokens(a, "free_prompts", model, prompts.size(0)).to(ctx.device);
        std::vector<int64_t> edit = pipette::block_list(a, "blocks", model);
        at::Tensor keep;
        if (!a.is_none("keep")) keep = pipette::prompt_tokens(a, "keep", model).to(ctx.device);
        torch::jit::Module edited = pipette::clone_model(model);
        torch::NoGradGuard no_grad;
        double before = 0, after = 0, kept = 0;
        int64_t count = 0;
        for (int64_t b : edit) {
          at::Tensor x, y;
          if (every) {
            std::tie(x, y) = every_word(model, prompts, free, b);
          } else {
            x = last_word(model, prompts, b), y = last_word(model, free, b);
          }
          x = x.to(at::kDouble), y = y.to(at::kDouble);
          at::Tensor z = keep.defined() ? read_words(model, keep, b).to(at::kDouble) : at::zeros({0, x.size(1)}, x.options());
          torch::jit::Module cross =
              edited.attr("blocks").toModule().attr(std::to_string(b)).toModule().attr("cross").toModule();
          for (const char* proj : {"k_weight", "v_weight"}) {
            at::Tensor w = cross.attr(proj).toTensor();
            at::Tensor wd = w.to(at::kDouble);
            int64_t d = x.size(1);
            at::Tensor eye = at::eye(d, x.options());
            at::Tensor xs = at::cat({x, z}), ys = at::cat({y, z});            // kept rows: x = y
            at::Tensor lhs = xs.t().mm(xs) + lambda * eye;                 // X^T X + lambda I
            at::Tensor rhs = (xs.t().mm(ys) + lambda * eye).mm(wd.t());    // (X^T Y + lambda I) W^T
            at::Tensor solved = at::linalg_solve(lhs, rhs).t();            // W'
            at::Tensor target = y.mm(wd.t());
            before += (x.mm(wd.t()) - target).norm(2, 1).mean().item<double>();
            after += (x.mm(solved.t()) - target).norm(2, 1).mean().item<double>();
            if (z.size(0)) kept += (z.mm(solved.t()) - z.mm(wd.t())).norm(2, 1).mean().item<double>();
            ++count;
            w.copy_(solved.to(w.dtype()));
          }
        }
        return pipette::make_record({{"model", Value(edited._ivalue())},
                                     {"before", Value(before / static_cast<double>(count))},
                                     {"after", Value(after / static_cast<double>(count))},
                                     {"kept", Value(kept / static_cast<double>(count))}});
      });

  lib.define(
      OpSignature("localize.neurons",
                  "LocoEdit's neuron variant: the output channels (neurons) of BLOCKS' key and value projections, "
                  "ranked by Welch's t between PROMPTS (with the concept) and NEUTRAL_PROMPTS at the last word's "
                  "encoding; the top K of each projection are set to their neutral mean for every input (the "
                  "channel's weights zeroed, its bias the mean). The edited model is a copy.")
          .input("model", "model", "A text-to-image model (diffusion.train_text)")
          .input("prompts", "tensor", "Prompts with the concept, word ids [P, L] (at least 2)")
          .input("neutral_prompts", "tensor", "Prompts without it, [Q, L'] (at least 2)")
          .input("blocks", "list<int>", "The blocks whose projections to edit (the located ones)")
          .param("k", "int", Operand::integer(10), "Neurons per projection (the reference: 10 to 200 of 320-1280)")
          .range(1)
          .returns("record{model: model, neurons: table}",
                   "the edited model, and one row per neuron set: block, projection (k or v), channel, t, the "
                   "neutral mean it now outputs"),
      [](const OpArgs& a, OpContext& ctx) -> Value {
        torch::jit::Module model = pipette::text_model_arg(a, "model", ctx.device);
        int64_t blocks = pipette::block_count(model), k = a.int_("k");
        at::Tensor prompts = pipette::prompt_tokens(a, "prompts", model).to(ctx.device);
        at::Tensor neutral = pipette::prompt_tokens(a, "neutral_prompts", model).to(ctx.device);
        if (prompts.size(0) < 2 || neutral.size(0) < 2)
          throw OpError(fmt::format("Welch's t needs at least 2 prompts on each side; found {} and {}",
                                    prompts.size(0), neutral.size(0)));
        std::vector<int64_t> edit = pipette::block_list(a, "blocks", model);
        torch::jit::Module edited = pipette::clone_model(model);
        torch::NoGradGuard no_grad;
        c10::List<int64_t> block_col, channel_col;
        c10::List<std::string> proj_col;
        c10::List<double> t_col, mean_col;
        for (int64_t b : edit) {
          at::Tensor x = last_word(model, prompts, b), y = last_word(model, neutral, b);
          torch::jit::Module cross =
              edited.attr("blocks").toModule().attr(std::to_string(b)).toModule().attr("cross").toModule();
          for (const char* proj : {"k", "v"}) {
            at::Tensor w = cross.attr(std::string(proj) + "_weight").toTensor();
            at::Tensor bias = cross.attr(std::string(proj) + "_bias").toTensor();
            if (k > w.size(0)) throw OpError(fmt::format("k = {}, but a projection has {} neurons", k, w.size(0)));
            at::Tensor ax = at::linear(x, w, bias).to(at::kDouble), ay = at::linear(y, w, bias).to(at::kDouble);
            at::Tensor t = welch_t(ax, ay);
            at::Tensor top = std::get<1>(t.abs().topk(k));
            at::Tensor mean = ay.mean(0);
            for (int64_t i = 0; i < k; ++i) {
              int64_t c = top[i].item<int64_t>();
              block_col.push_back(b);
              proj_col.push_back(proj);
              channel_col.push_back(c);
              t_col.push_back(t[c].item<double>());
              mean_col.push_back(mean[c].item<double>());
              w[c].zero_();
              bias[c] = mean[c].to(bias.dtype());
            }
          }
        }
        Value table = pipette::make_record({{"block", Value(block_col)},
                                            {"projection", Value(proj_col)},
                                            {"channel", Value(channel_col)},
                                            {"t", Value(t_col)},
                                            {"neutral_mean", Value(mean_col)}});
        return pipette::make_record({{"model", Value(edited._ivalue())}, {"neurons", table}});
      });
}

}  // namespace localize
