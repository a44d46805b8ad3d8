// restor.unlearn: the unlearning methods of RESTOR and open-unlearning on a
// language model (engine/language_model.hpp), each a loss over batches of
// forget and retain documents optimised by the SDK's one training loop
// (engine/step_training.hpp), or a weight arithmetic over fine-tuned copies
// (task vectors, MSA). Every method takes params= paths: localized unlearning.
#include <ATen/ATen.h>
#include <fmt/format.h>
#include <torch/script.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "engine/hook_plan.hpp"
#include "engine/hook_points.hpp"
#include "engine/language_model.hpp"
#include "engine/model_arg.hpp"
#include "engine/step_training.hpp"
#include "engine/trained_params.hpp"
#include "ops.hpp"

namespace restor {

using namespace pipette;

namespace {

at::Tensor sequence_logprob(torch::jit::Module& m, const TokenBatch& b) { return target_logprobs(m, b).sum(1); }

// Per-position log-softmax [N, T, V] of a model's logits.
at::Tensor log_probs(torch::jit::Module& m, const TokenBatch& b) {
  return at::log_softmax(m.forward({b.inputs}).toTensor().to(at::kFloat), -1);
}

// Mean over counted positions of sum_v p(v) * q_log(v)... as the two methods
// need: KL(ref || model) and RESTOR's cross-entropy CE(model, ref).
at::Tensor masked_mean(const at::Tensor& per_position, const TokenBatch& b) {
  return (per_position * b.weight).sum() / b.weight.sum().clamp_min(1);
}

struct Method {
  std::string name;
  double beta = 0, gamma = 1, alpha = 1, delta = 0;
  std::string retain_loss = "nll";
};

torch::jit::Module frozen_copy(const torch::jit::Module& m) {
  torch::NoGradGuard no_grad;
  torch::jit::Module c = clone_model(m);
  for (const auto& p : c.parameters()) p.requires_grad_(false);
  c.eval();
  return c;
}

// θ_target + Σ coef_i (θ_i - θ_base_i) over the trained parameters, by path.
void add_differences(torch::jit::Module& target, const std::vector<std::pair<double, std::pair<torch::jit::Module, torch::jit::Module>>>& terms,
                     const std::set<std::string>& paths) {
  torch::NoGradGuard no_grad;
  std::map<std::string, at::Tensor> mine;
  for (auto& [p, t] : parameters_by_path(target)) mine.emplace(p, t);
  for (const auto& [coef, pair] : terms) {
    std::map<std::string, at::Tensor> base, moved;
    for (auto& [p, t] : parameters_by_path(pair.second)) base.emplace(p, t);
    for (auto& [p, t] : parameters_by_path(pair.first)) moved.emplace(p, t);
    for (const auto& path : paths) {
      auto m = mine.find(path), b = base.find(path), v = moved.find(path);
      if (b == base.end() || v == moved.end() || m == mine.end() || !b->second.sizes().equals(m->second.sizes()))
        throw OpError(fmt::format("the models differ at parameter '{}': MSA and task vectors need one architecture",
                                  path));
      m->second.add_((v->second.to(m->second.device()) - b->second.to(m->second.device())) * coef);
    }
  }
}

}  // namespace

void register_unlearn_ops(OpLibrary& lib) {
  lib.define(
      OpSignature("restor.merge",
                  "MSA's weight arithmetic on given models: MODEL - SCALE (FORGET - BASE) + RETAIN_SCALE (RETAIN - "
                  "BASE), parameter by parameter (buffers as MODEL has them). restor.unlearn(method=\"msa\") "
                  "fine-tunes BASE on the forget and retain sets and merges exactly so; this op merges models made "
                  "any other way (task vectors: BASE = MODEL, no RETAIN). All must share one architecture.")
          .input("model", "model", "theta: the model to correct")
          .input("base", "model", "theta_0: the state the directions start from")
          .input("forget", "model", "theta_f: BASE fine-tuned on the forget set")
          .optional("retain", "model", "theta_r: BASE fine-tuned on the retain set")
          .param("scale", "float", Operand::real(1.0), "alpha")
          .param("retain_scale", "float", Operand::real(1.0), "beta (with RETAIN)")
          .optional("params", "list<string>", "Merge only the parameters whose paths match these patterns")
          .returns("model", "The merged model"),
      [](const OpArgs& a, OpContext& ctx) {
        torch::jit::Module out;
        {
          torch::NoGradGuard no_grad;
          out = clone_model(model_arg(a, "model", ctx.device));
        }
        std::set<std::string> paths = trained_parameters(out, a);
        std::vector<std::pair<double, std::pair<torch::jit::Module, torch::jit::Module>>> terms;
        torch::jit::Module base = model_arg(a, "base", ctx.device);
        terms.push_back({-a.float_("scale"), {model_arg(a, "forget", ctx.device), base}});
        if (!a.is_none("retain")) terms.push_back({a.float_("retain_scale"), {model_arg(a, "retain", ctx.device), base}});
        add_differences(out, terms, paths);
        out.to(at::kCPU);
        return Value(out._ivalue());
      });

  OpSignature s(
      "restor.unlearn",
      "Unlearns documents from a language model (train.lm's). METHOD: ga (gradient ascent on the forget NLL); "
      "graddiff (-GAMMA NLL_forget + ALPHA R_retain, R = NLL or KL(ref || model)); kl (RESTOR's: -GAMMA CE(model, "
      "ref) on forget + CE(model, ref) on retain, ref = the input model); npo ((2/BETA) E log(1 + (pi/pi_ref)^BETA) "
      "over forget sequences + ALPHA NLL_retain; BETA 0.1); simnpo (-(2/BETA) E log sigmoid(BETA (mean NLL - DELTA)) "
      "* GAMMA + ALPHA NLL_retain; BETA 4.5, GAMMA 0.125); rmu (the residual stream at blocks.LAYER pushed to a "
      "random direction of norm STEERING on forget, held to the input model's on retain; trains PARAMS, by default "
      "the MLP output weights of LAYER and the two blocks before); task_vector (theta - SCALE (theta_ft - theta), "
      "theta_ft = theta fine-tuned on forget); msa (theta - SCALE (theta_f - theta_0) + RETAIN_SCALE (theta_r - "
      "theta_0): theta_0 = BASE, an earlier checkpoint, fine-tuned on forget and on retain). PARAMS localizes any "
      "method (only those parameters move). With EVAL_EVERY > 0 a learning curve of forget and retain NLL is "
      "kept, and training stops once the forget NLL reaches STOP_FORGET_NLL. The input model is copied, not changed.");
  s.input("model", "model", "The model to unlearn from (RESTOR's theta_corrupt)")
      .input("forget", "list<string>", "The forget set's documents (restor.corrupt's documents)")
      .param("retain", "list<string>", Operand::list({}), "The retain set's documents (restor.corrupt's retain)")
      .param("method", "string", Operand::string("npo"), "ga, graddiff, kl, npo, simnpo, rmu, task_vector, msa")
      .choices({"ga", "graddiff", "kl", "npo", "simnpo", "rmu", "task_vector", "msa"})
      .param("batch", "int", Operand::integer(8), "Forget (and retain) windows per step")
      .range(1);
  step_training_params(s, 50, 1e-4, 0, 0.0)
      .optional("beta", "float", "NPO's and SimNPO's inverse temperature (none: 0.1 for npo, 4.5 for simnpo)")
      .optional("gamma", "float", "Weight of the forget term (none: 0.125 for simnpo, 1 otherwise)")
      .param("alpha", "float", Operand::real(1.0), "Weight of the retain term (graddiff, npo, simnpo, rmu)")
      .range(0)
      .param("delta", "float", Operand::real(0.0), "SimNPO's margin")
      .param("retain_loss", "string", Operand::string("nll"), "graddiff's retain term: nll or kl")
      .choices({"nll", "kl"})
      .optional("layer", "int", "rmu: the block whose output is steered (none: the middle block)")
      .param("steering", "float", Operand::real(20.0), "rmu: the norm of the random target direction")
      .range(0)
      .param("scale", "float", Operand::real(1.0), "task_vector, msa: how much of the forget direction is subtracted")
      .param("retain_scale", "float", Operand::real(1.0), "msa: how much of the retain direction is added")
      .optional("base", "model", "msa: the earlier checkpoint theta_0 (train.lm's checkpoints), same architecture")
      .optional("params", "list<string>",
                "Unlearn only the parameters whose paths match one of these patterns: localized unlearning")
      .param("eval_every", "int", Operand::integer(0), "Steps between learning-curve points (0 = none)")
      .range(0)
      .optional("stop_forget_nll", "float",
                "Stop once the mean forget NLL reaches this (early stopping; needs EVAL_EVERY)")
      .optional("seed", "int", "Overrides the derived seed (batches, rmu's direction)")
      .stochastic()
      .returns("record{model: model, losses: tensor, curve: tensor, steps: int, trained: list<string>}",
               "the unlearned model; every step's objective (for task_vector and msa, the fine-tunes'); the "
               "learning curve [K, 3] of (step, forget NLL, retain NLL); the steps run; the parameters changed");
  lib.define(s, [](const OpArgs& a, OpContext& ctx) {
    std::vector<std::string> forget = string_list(a["forget"], "forget"), retain = string_list(a["retain"], "retain");
    if (forget.empty()) throw OpError("forget is empty: there is nothing to unlearn");
    Method m;
    m.name = a.string("method");
    m.beta = a.is_none("beta") ? (m.name == "simnpo" ? 4.5 : 0.1) : a.float_("beta");
    m.gamma = a.is_none("gamma") ? (m.name == "simnpo" ? 0.125 : 1.0) : a.float_("gamma");
    m.alpha = a.float_("alpha");
    m.delta = a.float_("delta");
    m.retain_loss = a.string("retain_loss");
    if (m.beta <= 0) throw OpError("beta must be positive");
    bool needs_retain = m.name == "graddiff" || m.name == "kl" || m.name == "rmu" ||
                        (m.name == "msa" && a.float_("retain_scale") != 0) ||
                        ((m.name == "npo" || m.name == "simnpo") && m.alpha > 0);
    if (needs_retain && retain.empty())
      throw OpError(fmt::format("method {} needs a retain set: give retain= (restor.corrupt's retain){}", m.name,
                                m.name == "npo" || m.name == "simnpo" ? ", or alpha=0" : ""));
    torch::jit::Module model;
    {
      torch::NoGradGuard no_grad;
      model = clone_model(model_arg(a, "model", ctx.device));
    }
    LanguageModel lm(model);
    at::Generator gen = ctx.generator();
    DocumentWindows f(lm, forget, "forget", gen), r(lm, retain, "retain", gen);
    StepTraining cfg = step_training(a);
    cfg.what = "restor.unlearn (" + m.name + ")";
    int64_t batch = a.int_("batch");
    c10::Device dev = ctx.device;

    // RMU's default: the MLP output weights of the steered block and the two before it (WMDP's layers 5-7).
    int64_t blocks = model.hasattr("n_blocks") ? model.attr("n_blocks").toInt() : 1;
    int64_t layer = a.is_none("layer") ? blocks / 2 : a.int_("layer");
    if (m.name == "rmu" && (layer < 0 || layer >= blocks))
      throw OpError(fmt::format("layer {} is not one of the model's {} blocks", layer, blocks));
    if (m.name == "rmu" && a.is_none("params")) {
      std::vector<std::string> pats;
      for (int64_t l = std::max<int64_t>(0, layer - 2); l <= layer; ++l) pats.push_back(fmt::format("blocks.{}.mlp.fc2_weight", l));
      cfg.params = parameters_matching(model, pats, "rmu's default params");
    } else {
      cfg.params = trained_parameters(model, a);
    }

    // Learning curves and early stopping on fixed windows.
    std::vector<double> curve;
    int64_t every = a.int_("eval_every");
    std::optional<double> stop_at;
    if (!a.is_none("stop_forget_nll")) {
      if (every == 0) throw OpError("stop_forget_nll needs eval_every > 0: the forget NLL is measured then");
      stop_at = a.float_("stop_forget_nll");
    }
    TokenBatch f_fixed = f.first(16, dev);
    std::optional<TokenBatch> r_fixed;
    if (!r.empty()) r_fixed = r.first(16, dev);
    auto measure = [&](torch::jit::Module& mod, int64_t step) {
      torch::NoGradGuard no_grad;
      double fn = mean_nll(mod, f_fixed).item<double>();
      curve.insert(curve.end(), {static_cast<double>(step), fn});
      if (r_fixed) curve.push_back(mean_nll(mod, *r_fixed).item<double>());
      return fn;
    };
    auto stop = [&](torch::jit::Module& mod) {
      return [&, every](int64_t done) {
        if (every == 0 || done % every) return false;
        double fn = measure(mod, done);
        return stop_at.has_value() && fn >= *stop_at;
      };
    };
    if (every > 0) measure(model, 0);

    StepResult res;
    std::vector<std::string> trained;
    if (m.name == "task_vector" || m.name == "msa") {
      // Fine-tunes with the same loop and schedule, then arithmetic.
      auto finetune = [&](const torch::jit::Module& from, DocumentWindows& docs, const std::string& what) {
        torch::jit::Module c;
        {
          torch::NoGradGuard no_grad;
          c = clone_model(from);
        }
        StepTraining t = cfg;
        t.what = cfg.what + ": fine-tune on " + what;
        StepResult rr = train_steps(c, t, ctx, [&](int64_t) { return mean_nll(c, docs.next(batch, dev)); });
        res.losses.insert(res.losses.end(), rr.losses.begin(), rr.losses.end());
        res.steps_run += rr.steps_run;
        trained = rr.trained;
        return c;
      };
      std::set<std::string> paths = cfg.params;
      if (paths.empty())
        for (const auto& p : parameters_by_path(model)) paths.insert(p.first);
      if (m.name == "task_vector") {
        torch::jit::Module ft = finetune(model, f, "forget");
        torch::jit::Module orig = frozen_copy(model);
        add_differences(model, {{-a.float_("scale"), {ft, orig}}}, paths);
      } else {
        if (a.is_none("base")) throw OpError("msa needs base=: an earlier checkpoint theta_0 (train.lm's checkpoints)");
        torch::jit::Module base = frozen_copy(model_arg(a, "base", dev));
        std::vector<std::pair<double, std::pair<torch::jit::Module, torch::jit::Module>>> terms;
        terms.push_back({-a.float_("scale"), {finetune(base, f, "forget"), base}});
        if (a.float_("retain_scale") != 0) terms.push_back({a.float_("retain_scale"), {finetune(base, r, "retain"), base}});
        add_differences(model, terms, paths);
      }
      for (const auto& p : model.parameters())
        if (!at::isfinite(p).all().item<bool>()) throw OpError("msa: a parameter is not finite: lower scale or lr");
      if (every > 0) measure(model, res.steps_run);
    } else {
      torch::jit::Module ref = frozen_copy(model);
      std::optional<HookedModel> hooked_model, hooked_ref;
      at::Tensor direction;
      HookSite site{fmt::format("blocks.{}.hook_resid_post", layer), false};
      if (m.name == "rmu") {
        hooked_model = hooked(model);
        hooked_ref = hooked(ref);
        hooked_model->find(site.name());
        int64_t width = model.attr("width").toInt();
        direction = at::rand({width}, gen);
        direction = (direction / direction.norm() * a.float_("steering")).to(dev);
      }
      auto activation = [&](HookedModel& hm, const TokenBatch& b) {
        InterventionPlan plan({Intervention(site)});
        ActivePlan active(plan);
        hm.module.forward({b.inputs});
        return plan.captured(site);
      };
      auto loss = [&](int64_t) -> at::Tensor {
        TokenBatch fb = f.next(batch, dev);
        if (m.name == "ga") return -mean_nll(model, fb);
        if (m.name == "graddiff") {
          TokenBatch rb = r.next(batch, dev);
          at::Tensor retain_term;
          if (m.retain_loss == "nll") {
            retain_term = mean_nll(model, rb);
          } else {
            at::Tensor lp = log_probs(model, rb), lq;
            {
              torch::NoGradGuard no_grad;
              lq = log_probs(ref, rb);
            }
            retain_term = masked_mean((lq.exp() * (lq - lp)).sum(-1), rb);
          }
          return -m.gamma * mean_nll(model, fb) + m.alpha * retain_term;
        }
        if (m.name == "kl") {
          // RESTOR's "KL": the cross-entropy -sum_v p_model log p_ref, pushed up on
          // forget and down on retain (padding masked, which RESTOR's does not).
          auto ce = [&](const TokenBatch& b) {
            at::Tensor lp = log_probs(model, b), lq;
            {
              torch::NoGradGuard no_grad;
              lq = log_probs(ref, b);
            }
            return masked_mean(-(lp.exp() * lq).sum(-1), b);
          };
          TokenBatch rb = r.next(batch, dev);
          return -m.gamma * ce(fb) + ce(rb);
        }
        if (m.name == "npo" || m.name == "simnpo") {
          at::Tensor forget_term;
          if (m.name == "npo") {
            at::Tensor lr;
            {
              torch::NoGradGuard no_grad;
              lr = sequence_logprob(ref, fb);
            }
            at::Tensor ratio = sequence_logprob(model, fb) - lr;  // log(pi / pi_ref)
            forget_term = -(2.0 / m.beta) * at::log_sigmoid(-m.beta * ratio).mean();
          } else {
            at::Tensor mean_nll_row = -target_logprobs(model, fb).sum(1) / fb.weight.sum(1).clamp_min(1);
            forget_term = -(2.0 / m.beta) * at::log_sigmoid(m.beta * (mean_nll_row - m.delta)).mean();
          }
          at::Tensor l = m.gamma * forget_term;
          if (m.alpha > 0) l = l + m.alpha * mean_nll(model, r.next(batch, dev));
          return l;
        }
        // rmu
        TokenBatch rb = r.next(batch, dev);
        at::Tensor hf = activation(*hooked_model, fb);
        at::Tensor hr = activation(*hooked_model, rb), href;
        {
          torch::NoGradGuard no_grad;
          href = activation(*hooked_ref, rb);
        }
        at::Tensor lf = masked_mean((hf - direction).pow(2).mean(-1), fb);
        at::Tensor lr = masked_mean((hr - href).pow(2).mean(-1), rb);
        return m.gamma * lf + m.alpha * lr;
      };
      res = train_steps(model, cfg, ctx, loss, stop(model));
      trained = res.trained;
    }
    model.to(at::kCPU);
    int64_t columns = r_fixed ? 3 : 2, points = static_cast<int64_t>(curve.size()) / columns;
    at::Tensor curve_t = at::tensor(curve, at::kDouble).view({points, columns}).to(at::kFloat);
    return make_record({{"model", Value(model._ivalue())},
                        {"losses", Value(at::tensor(res.losses, at::kDouble).to(at::kFloat))},
                        {"curve", Value(curve_t)},
                        {"steps", Value(res.steps_run)},
                        {"trained", pipette::string_list_value(trained)}});
  });
}

}  // namespace restor
