// Robustness under a set of perturbations (attack.compare, Captum's
// AttackComparator) and the smallest perturbation that changes a prediction
// (attack.min_perturbation, Captum's MinParamPerturbation), per input.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <cmath>
#include <functional>
#include <limits>
#include <map>

#include "engine/adversarial.hpp"
#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"
#include "stdlib/attack/attack_inputs.hpp"
#include "stdlib/attr/baselines.hpp"
#include "stdlib/attr/evaluators.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// Forward-only blocks, sized as the attribution methods' forward passes.
int64_t forward_chunk(OpContext& ctx, const at::Tensor& x) {
  return items_per_chunk(ctx, kForwardBytesFactor * example_bytes(x), std::max<int64_t>(1, x.size(0)));
}

// Score rows [N, K] of the model on x, in chunks, without gradients.
at::Tensor scores(torch::jit::Module& m, const at::Tensor& x, OpContext& ctx) {
  at::NoGradGuard no_grad;
  return map_chunks(
      ctx, x, forward_chunk(ctx, x),
      [&](const at::Tensor& xb, int64_t) { return score_rows(logits_of(m, xb)); }, ChunkProgress::Quiet);
}

// What attack.compare reports for one set of inputs (one attempt), per example.
struct Outcome {
  at::Tensor correct, loss, probability, prediction;  // [N]
};

Outcome outcome(const at::Tensor& rows, const at::Tensor& labels, AttackLoss loss) {
  if (rows.size(1) < 2)
    throw OpError("attack.compare needs a classifier with at least two outputs per input; this model returns one score");
  at::Tensor column = labels.view({-1, 1});
  Outcome o;
  o.prediction = rows.argmax(1);
  o.correct = o.prediction.eq(labels);
  if (loss == AttackLoss::CrossEntropy) {
    at::Tensor logp = pick_targets(rows.log_softmax(1), column).view({-1});
    o.loss = -logp;
    o.probability = logp.exp();
  } else {
    o.probability = pick_targets(rows, column).view({-1});
    o.loss = -o.probability.clamp_min(std::numeric_limits<float>::min()).log();
  }
  return o;
}

Value column(const std::vector<double>& v) { return Value(at::tensor(v, at::kDouble)); }

void define_compare(OpLibrary& lib) {
  OpSignature s("attack.compare",
                "A model's metrics under a set of perturbations and attacks, as Captum's AttackComparator: "
                "accuracy, the loss and probability of the label, how many predictions flip, and the size of the "
                "perturbation, for the original inputs and for each perturbed set, per input, per batch and "
                "aggregated. A set of several attempts [A, N, ...] (random perturbations drawn A times) is "
                "aggregated over attempts, and its worst case counts an input as correct only if every attempt "
                "leaves it correct.");
  s.input("model", "model", "A classifier: logits [N, K] (probabilities with loss=\"log_prob\")")
      .input("inputs", "tensor", "The original inputs [N, ...]")
      .input("perturbed", "record",
             "The perturbed inputs by name: each shaped like inputs, or [A, N, ...] for A attempts "
             "({fgsm: attack.fgsm(m, x, eps=0.1), noise: x + ...})")
      .optional("target", "int|tensor", "The true labels: one for all or [N]; none: the model's predictions on the inputs")
      .param("loss", "string", Operand::string("auto"),
             "How `loss` and `label_probability` are computed: cross-entropy on logits, or -log of a probability "
             "output; auto: log_prob when the outputs are probabilities already")
      .choices({"auto", "cross_entropy", "log_prob"})
      .optional("batch", "int", "Also report the metrics per batch of this many inputs (the `batches` table)")
      .range(1);
  s.returns("record",
            "summary: a table with a row per set (original first): name, attempts, accuracy (mean over attempts), "
            "worst_accuracy, flip_rate (predictions that differ from the original ones), loss, label_probability, "
            "linf and l2 (mean perturbation size); correct: per set, [N] booleans (worst case over attempts); "
            "batches (with batch=): name, batch, accuracy, worst_accuracy, loss");
  lib.define(s, [](const OpArgs& a, OpContext& ctx) {
    torch::jit::Module m = model_arg(a, "model", ctx.device);
    at::Tensor x = input_batch(a, ctx);
    const int64_t n = x.size(0);
    at::Tensor labels = targets_for(a, "target", m, x);
    const AttackLoss loss = attack_loss_of(a, "loss", m, x, ctx);

    std::vector<std::pair<std::string, at::Tensor>> sets{{"original", x.unsqueeze(0)}};
    for (const auto& kv : a["perturbed"].toGenericDict()) {
      const std::string name = kv.key().toStringRef();
      if (!kv.value().isTensor())
        throw OpError("perturbed." + name + " is " + describe(kv.value()) + ", not a tensor of perturbed inputs");
      at::Tensor t = kv.value().toTensor().to(ctx.device, x.scalar_type());
      if (t.sizes() == x.sizes()) t = t.unsqueeze(0);
      if (t.dim() != x.dim() + 1 || t.sizes().slice(1) != x.sizes())
        throw OpError("perturbed." + name + " is " + describe(Value(kv.value())) + "; it must be shaped like the inputs " +
                      describe(Value(x)) + ", or [A, " + std::to_string(n) + ", ...] for A attempts");
      if (name == "original") throw OpError("perturbed.original: the name `original` is the unperturbed inputs' row");
      sets.emplace_back(name, t);
    }

    const Outcome base = outcome(scores(m, x, ctx), labels, loss);
    std::vector<std::string> names;
    std::vector<double> attempts, acc, worst, flips, losses, probs, linf, l2;
    std::vector<std::pair<std::string, Value>> correct;
    std::vector<std::string> b_names;
    std::vector<double> b_index, b_acc, b_worst, b_loss;
    const int64_t batch = a.is_none("batch") ? 0 : a.int_("batch");
    for (const auto& [name, set] : sets) {
      const int64_t k = set.size(0);
      std::vector<at::Tensor> c, l, p, f, dinf, d2;
      for (int64_t j = 0; j < k; ++j) {
        at::Tensor xj = set[j];
        Outcome o = j == 0 && name == "original" ? base : outcome(scores(m, xj, ctx), labels, loss);
        c.push_back(o.correct);
        l.push_back(o.loss);
        p.push_back(o.probability);
        f.push_back(o.prediction.ne(base.prediction));
        at::Tensor d = (xj - x).flatten(1).to(at::kDouble);
        dinf.push_back(d.abs().amax(1));
        d2.push_back(d.norm(2, {1}));
      }
      at::Tensor C = at::stack(c).to(at::kDouble), L = at::stack(l).to(at::kDouble);
      at::Tensor all_right = C.amin(0);  // [N]: correct under every attempt
      names.push_back(name);
      attempts.push_back(static_cast<double>(k));
      acc.push_back(C.mean().item<double>());
      worst.push_back(all_right.mean().item<double>());
      flips.push_back(at::stack(f).to(at::kDouble).mean().item<double>());
      losses.push_back(L.mean().item<double>());
      probs.push_back(at::stack(p).to(at::kDouble).mean().item<double>());
      linf.push_back(at::stack(dinf).mean().item<double>());
      l2.push_back(at::stack(d2).mean().item<double>());
      correct.emplace_back(name, Value(all_right.gt(0.5).cpu()));
      if (batch > 0)
        for (int64_t i = 0, b = 0; i < n; i += batch, ++b) {
          int64_t e = std::min(n, i + batch);
          b_names.push_back(name);
          b_index.push_back(static_cast<double>(b));
          b_acc.push_back(C.slice(1, i, e).mean().item<double>());
          b_worst.push_back(all_right.slice(0, i, e).mean().item<double>());
          b_loss.push_back(L.slice(1, i, e).mean().item<double>());
        }
    }
    if (!std::isfinite(losses[0]))
      ctx.log(OpContext::Warn, "the loss of the original inputs is not finite: the model gives a label probability of 0");
    std::vector<std::pair<std::string, Value>> out{
        {"summary", make_record({{"name", string_list_value(names)},
                                 {"attempts", column(attempts)},
                                 {"accuracy", column(acc)},
                                 {"worst_accuracy", column(worst)},
                                 {"flip_rate", column(flips)},
                                 {"loss", column(losses)},
                                 {"label_probability", column(probs)},
                                 {"linf", column(linf)},
                                 {"l2", column(l2)}})},
        {"correct", make_record(correct)}};
    if (batch > 0)
      out.emplace_back("batches", make_record({{"name", string_list_value(b_names)},
                                               {"batch", column(b_index)},
                                               {"accuracy", column(b_acc)},
                                               {"worst_accuracy", column(b_worst)},
                                               {"loss", column(b_loss)}}));
    return make_record(out);
  });
}

// Inputs perturbed with one parameter value: perturb(indices, value) -> the
// inputs at those indices, perturbed.
using Perturb = std::function<at::Tensor(const at::Tensor& index, double value)>;

Perturb perturbation(const std::string& kind, AttackCase& c, const OpArgs& a, OpContext& ctx) {
  auto bound = [&c](at::Tensor t) {
    if (!std::isinf(c.spec.lower)) t = t.clamp_min(c.spec.lower);
    if (!std::isinf(c.spec.upper)) t = t.clamp_max(c.spec.upper);
    return t;
  };
  if (kind == "fgsm") {
    // FGSM's direction does not depend on eps: one gradient serves every value.
    const int64_t per_chunk = items_per_chunk(ctx, kGradientBytesFactor * example_bytes(c.x), std::max<int64_t>(1, c.x.size(0)));
    const double threshold = c.spec.zero_threshold;
    at::Tensor dir = map_chunks(
        ctx, c.x, per_chunk,
        [&](const at::Tensor& xb, int64_t i) {
          at::Tensor g = attack_gradient(c.model, xb, c.target.slice(0, i, i + xb.size(0)), c.spec.loss);
          at::Tensor d = g.sign() * (c.spec.targeted ? -1.0 : 1.0);
          return threshold > 0 ? at::where(g.abs() > threshold, d, at::zeros_like(d)) : d;
        },
        ChunkProgress::Quiet);
    return [&c, dir, bound](const at::Tensor& idx, double v) {
      return bound(c.x.index_select(0, idx) + v * dir.index_select(0, idx));
    };
  }
  if (kind == "pgd") {
    PgdSpec p;
    p.norm = a.string("norm") == "l2" ? AttackNorm::L2 : AttackNorm::Linf;
    p.steps = a.int_("steps");
    p.random_start = a.bool_("random_start");
    p.l2_sign_steps = a.string("l2_step") == "sign";
    return [&c, &ctx, p](const at::Tensor& idx, double v) {
      if (v == 0) return c.x.index_select(0, idx);
      PgdSpec q = p;
      q.radius = v;
      q.step = 2.5 * v / static_cast<double>(q.steps);
      return pgd(c.model, c.x.index_select(0, idx), c.target.index_select(0, idx), c.spec, q, ctx);
    };
  }
  if (kind == "noise") {
    at::Generator gen = ctx.generator();
    at::Tensor z = at::randn(c.x.sizes(), gen, c.x.options().device(at::kCPU)).to(c.x.device());
    return [&c, z, bound](const at::Tensor& idx, double v) {
      return bound(c.x.index_select(0, idx) + v * z.index_select(0, idx));
    };
  }
  // blur
  return [&c](const at::Tensor& idx, double v) {
    at::Tensor xs = c.x.index_select(0, idx);
    return v <= 0 ? xs : gaussian_blur(xs, v, "kind=\"blur\"");
  };
}

void define_min_perturbation(OpLibrary& lib) {
  OpSignature s("attack.min_perturbation",
                "The smallest parameter of a perturbation that changes each input's prediction away from its label, "
                "as Captum's MinParamPerturbation but per input: the parameter walks a grid from min to max in "
                "steps of `step` (mode=\"linear\": every value in order) or is found by bisection over the grid "
                "(mode=\"binary\", for perturbations whose effect grows with the parameter). Kinds: fgsm (eps), "
                "pgd (radius; steps and norm as attack.pgd, step 2.5 * radius / steps), noise (the standard "
                "deviation of one seeded Gaussian draw per input, scaled) and blur (a Gaussian's sigma in pixels).");
  attack_params(s)
      .param("kind", "string", Operand::string("fgsm"), "The perturbation whose parameter is searched")
      .choices({"fgsm", "pgd", "noise", "blur"})
      .param("min", "float", Operand::real(0.0), "The grid's first value")
      .range(0.0)
      .param("max", "float", Operand::real(0.1), "The grid's last value at most")
      .range(0.0)
      .param("step", "float", Operand::real(0.01), "The grid's spacing")
      .range(1e-12)
      .param("mode", "string", Operand::string("linear"), "Walk the grid, or bisect it")
      .choices({"linear", "binary"})
      .param("steps", "int", Operand::integer(10), "kind=\"pgd\": iterations")
      .range(1, 100000)
      .param("norm", "string", Operand::string("linf"), "kind=\"pgd\": the ball")
      .choices({"linf", "l2"})
      .param("random_start", "bool", Operand::boolean(false), "kind=\"pgd\": start from a random point of the ball")
      .param("l2_step", "string", Operand::string("gradient"), "kind=\"pgd\", norm=\"l2\": as attack.pgd")
      .choices({"gradient", "sign"})
      .stochastic()
      .may_return_nonfinite();
  s.returns("record",
            "param: [N] the smallest grid value that changes the prediction, NaN where none up to max does (a "
            "warning says how many); found: [N] booleans; perturbed: the inputs at that value (unchanged where "
            "none was found); prediction: [N] the model's class there");
  lib.define(s, [](const OpArgs& a, OpContext& ctx) {
    AttackCase c = attack_case(a, ctx);
    if (c.spec.targeted) throw OpError("attack.min_perturbation looks for a changed prediction; targeted=true is not supported");
    if (c.x.size(0) == 0) throw OpError("inputs must be a non-empty batch [N, ...]");
    const double lo = a.float_("min"), hi = a.float_("max"), dv = a.float_("step");
    if (hi < lo) throw OpError("max=" + std::to_string(hi) + " is below min=" + std::to_string(lo));
    const int64_t k_max = static_cast<int64_t>(std::floor((hi - lo) / dv + 1e-9));
    if (k_max > 100000) throw OpError("the grid from min to max in steps of `step` has more than 100000 values");
    auto value = [&](int64_t k) { return lo + static_cast<double>(k) * dv; };
    const int64_t n = c.x.size(0);
    Perturb perturb = perturbation(a.string("kind"), c, a, ctx);
    // Which of the inputs at `idx`, perturbed at grid index k each, no longer
    // predict their label; the perturbed inputs and predictions are kept for
    // the answer.
    at::Tensor found_k = at::full({n}, -1, at::kLong);
    at::Tensor best = c.x.clone();
    at::Tensor pred = at::zeros({n}, at::kLong);
    auto flips = [&](const at::Tensor& idx, const std::vector<int64_t>& ks) {
      // Group inputs by value: each distinct value is one perturbation.
      std::map<int64_t, std::vector<int64_t>> by_k;
      auto ia = idx.cpu();
      for (int64_t i = 0; i < ia.numel(); ++i) by_k[ks[static_cast<size_t>(i)]].push_back(ia[i].item<int64_t>());
      std::vector<bool> result(static_cast<size_t>(n), false);
      for (auto& [k, members] : by_k) {
        if (ctx.cancelled()) throw OpError("cancelled");
        at::Tensor ix = at::tensor(members, at::kLong).to(c.x.device());
        at::Tensor xp = perturb(ix, value(k));
        at::Tensor pr = scores(c.model, xp, ctx).argmax(1);
        at::Tensor flipped = pr.ne(c.target.index_select(0, ix)).cpu();
        for (size_t j = 0; j < members.size(); ++j)
          if (flipped[static_cast<int64_t>(j)].item<bool>()) {
            result[static_cast<size_t>(members[j])] = true;
            best[members[j]] = xp[static_cast<int64_t>(j)];
            pred[members[j]] = pr[static_cast<int64_t>(j)].item<int64_t>();
          }
      }
      return result;
    };
    if (a.string("mode") == "linear") {
      std::vector<int64_t> open(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) open[static_cast<size_t>(i)] = i;
      for (int64_t k = 0; k <= k_max && !open.empty(); ++k) {
        std::vector<bool> f = flips(at::tensor(open, at::kLong), std::vector<int64_t>(open.size(), k));
        std::vector<int64_t> still;
        for (int64_t i : open) {
          if (f[static_cast<size_t>(i)])
            found_k[i] = k;
          else
            still.push_back(i);
        }
        open = still;
        ctx.progress(static_cast<uint64_t>(k + 1), static_cast<uint64_t>(k_max + 1));
      }
    } else {
      // Bisection per input over grid indices [0, k_max]: first, whether max flips at all.
      std::vector<int64_t> all(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = i;
      std::vector<bool> top = flips(at::tensor(all, at::kLong), std::vector<int64_t>(all.size(), k_max));
      std::vector<int64_t> lo_k(static_cast<size_t>(n), 0), hi_k(static_cast<size_t>(n), k_max);
      std::vector<int64_t> open;
      for (int64_t i = 0; i < n; ++i)
        if (top[static_cast<size_t>(i)]) open.push_back(i);
      while (!open.empty()) {
        std::vector<int64_t> mids, next;
        for (int64_t i : open) mids.push_back((lo_k[static_cast<size_t>(i)] + hi_k[static_cast<size_t>(i)]) / 2);
        std::vector<bool> f = flips(at::tensor(open, at::kLong), mids);
        for (size_t j = 0; j < open.size(); ++j) {
          int64_t i = open[j];
          auto si = static_cast<size_t>(i);
          if (f[si]) {
            hi_k[si] = mids[j];
          } else {
            lo_k[si] = mids[j] + 1;
          }
          if (lo_k[si] < hi_k[si]) next.push_back(i);
        }
        open = next;
      }
      // An input's last flipping evaluation was at its final hi_k (each one
      // lowers hi_k to the value it tried), so `best` and `pred` hold that one.
      for (int64_t i = 0; i < n; ++i)
        if (top[static_cast<size_t>(i)]) found_k[i] = hi_k[static_cast<size_t>(i)];
    }
    at::Tensor found = found_k.ge(0);
    at::Tensor param = at::where(found, lo + found_k.to(at::kDouble) * dv,
                                 at::full({n}, std::numeric_limits<double>::quiet_NaN(), at::kDouble));
    // Where nothing flipped, the prediction is the model's on the inputs.
    at::Tensor base_pred = scores(c.model, c.x, ctx).argmax(1).cpu();
    pred = at::where(found, pred, base_pred);
    int64_t missing = n - found.sum().item<int64_t>();
    if (missing > 0)
      ctx.log(OpContext::Warn, std::to_string(missing) + " of " + std::to_string(n) +
                                   " inputs keep their label up to max=" + std::to_string(value(k_max)) +
                                   ": their param is NaN (found = false)");
    return make_record({{"param", Value(param)},
                        {"found", Value(found)},
                        {"perturbed", Value(best)},
                        {"prediction", Value(pred)}});
  });
}

}  // namespace

void register_attack_evaluation(OpLibrary& lib) {
  define_compare(lib);
  define_min_perturbation(lib);
}

}  // namespace pipette::stdlib
