// restor.evaluate and restor.recovery: what a language model knows of the
// facts (RESTOR's generation and logit evaluations, open-unlearning's
// metrics), and how far an unlearned model forgot the corruption and
// recovered the clean knowledge, measured against the clean and corrupted
// models' evaluations.
#include <ATen/ATen.h>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "engine/language_model.hpp"
#include "engine/model_arg.hpp"
#include "metrics.hpp"
#include "ops.hpp"

namespace restor {

using namespace pipette;

namespace {

std::vector<double> doubles(const at::Tensor& t) {
  at::Tensor c = t.to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

at::Tensor tensor_of(const std::vector<double>& v) { return at::tensor(v, at::kDouble); }

// One model's reading of a list of facts: generation accuracy (exact and
// prefix match) and the rate of a given wrong answer, over SAMPLES samples
// of each few-shot prompt.
struct Generated {
  std::vector<double> exact, prefix, wrong;  // per fact, the share of samples
};

Generated generate_answers(OpContext& ctx, LanguageModel& lm, const std::vector<Fact>& all,
                           const std::vector<size_t>& which, const std::vector<std::string>* wrong, int64_t shots,
                           int64_t samples, double temperature, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> prompts;
  for (int64_t s = 0; s < samples; ++s)
    for (size_t i : which) prompts.push_back(few_shot_prompt(all, i, shots, rng));
  Generation g;
  g.max_tokens = 8;
  g.temperature = temperature;
  g.stop = {"\n"};
  at::Generator gen = ctx.generator();
  std::vector<std::string> out = generate_texts(ctx, lm, prompts, g, gen, "facts");
  Generated r;
  r.exact.assign(which.size(), 0);
  r.prefix.assign(which.size(), 0);
  r.wrong.assign(which.size(), 0);
  for (int64_t s = 0; s < samples; ++s)
    for (size_t j = 0; j < which.size(); ++j) {
      const std::string& text = out[static_cast<size_t>(s) * which.size() + j];
      const Fact& f = all[which[j]];
      r.exact[j] += exact_match(text, f.answers) / static_cast<double>(samples);
      r.prefix[j] += prefix_match(text, f.answers) / static_cast<double>(samples);
      if (wrong) r.wrong[j] += exact_match(text, {(*wrong)[j]}) / static_cast<double>(samples);
    }
  return r;
}

}  // namespace

void register_evaluate_ops(OpLibrary& lib) {
  lib.define(
      OpSignature(
          "restor.evaluate",
          "What a language model knows of facts. Generation (RESTOR's): per fact a prompt of SHOTS question-answer "
          "lines of other entities for the same relation and the fact's question, SAMPLES sampled continuations "
          "(TEMPERATURE; 0 = greedy) cut at the newline; accepted when, normalised (lower case, punctuation and "
          "articles dropped), it equals an acceptable answer (exact) or starts with one (prefix). RESTOR asks GPT "
          "to judge instead: there is no judge here. With CORRUPTION (restor.corrupt's record) the corrupted facts "
          "are scored apart: their accuracy, the rate of the wrong object, the logit evaluation (mean token "
          "log-prob of the correct, corrupted and a random other answer after the prompt), truth ratios "
          "(P(wrong)/P(right) per token), exact memorisation and extraction strength of the wrong answers, and "
          "membership inference on the forget documents against HOLDOUT documents (LOSS, zlib, Min-K% AUCs). The "
          "untouched facts give utility; HELDOUT texts a perplexity.")
          .input("model", "model", "A language model (train.lm's)")
          .input("facts", kFactsType, "restor.facts (every fact; with CORRUPTION the untouched ones give utility)")
          .optional("corruption", "record", "restor.corrupt's record")
          .param("shots", "int", Operand::integer(5), "Question-answer lines before the question")
          .range(0)
          .param("samples", "int", Operand::integer(3), "Sampled answers per fact (RESTOR averages 3 runs)")
          .range(1)
          .param("temperature", "float", Operand::real(0.6), "Sampling temperature (0 = greedy)")
          .range(0)
          .param("min_k", "float", Operand::real(0.4), "Min-K%'s share of lowest-probability tokens")
          .range(0.0, 1.0)
          .param("heldout", "list<string>", Operand::list({}), "Texts for a perplexity (none: not reported)")
          .optional("seed", "int", "Overrides the derived seed (prompts, samples)")
          .stochastic()
          .returns("record",
                   "facts (how many), accuracy (exact, over every fact, or the corrupted ones with CORRUPTION), accuracy_prefix; with "
                   "CORRUPTION: corrupted_rate, utility (exact accuracy on untouched facts), logprob_correct, "
                   "logprob_corrupted, logprob_random, truth_ratio (forget aggregate), truth_ratio_retain, "
                   "truth_ratios [facts], exact_memorisation, extraction_strength, mia_loss_auc, mia_zlib_auc, "
                   "mia_min_k_auc, per_entity (table: entity, accuracy); perplexity with HELDOUT"),
      [](const OpArgs& a, OpContext& ctx) {
        LanguageModel lm(model_arg(a, "model", ctx.device));
        std::vector<Fact> facts = facts_arg(a, "facts");
        int64_t shots = a.int_("shots"), samples = a.int_("samples");
        double temperature = a.float_("temperature");
        std::vector<std::pair<std::string, Value>> out;
        out.push_back({"facts", Value(static_cast<int64_t>(facts.size()))});
        auto index_of = [&](const std::string& e, const std::string& r) -> size_t {
          for (size_t i = 0; i < facts.size(); ++i)
            if (facts[i].entity == e && facts[i].relation == r) return i;
          throw OpError(fmt::format("corruption: the fact ({}, {}) is not in facts", e, r));
        };
        if (a.is_none("corruption")) {
          std::vector<size_t> all(facts.size());
          for (size_t i = 0; i < all.size(); ++i) all[i] = i;
          Generated g = generate_answers(ctx, lm, facts, all, nullptr, shots, samples, temperature, ctx.seed);
          out.push_back({"accuracy", Value(mean(g.exact))});
          out.push_back({"accuracy_prefix", Value(mean(g.prefix))});
        } else {
          auto rec = a["corruption"].toGenericDict();
          for (const char* key : {"corrupted", "documents", "holdout"})
            if (!rec.contains(key))
              throw OpError(fmt::format("corruption has no field '{}': give restor.corrupt's record", key));
          auto table = rec.at("corrupted").toGenericDict();
          std::vector<std::string> ce = string_list(table.at("entity"), "corruption.corrupted.entity"),
                                   cr = string_list(table.at("relation"), "corruption.corrupted.relation"),
                                   cw = string_list(table.at("wrong"), "corruption.corrupted.wrong");
          std::vector<size_t> hit, rest;
          std::set<size_t> hit_set;
          for (size_t j = 0; j < ce.size(); ++j) {
            hit.push_back(index_of(ce[j], cr[j]));
            hit_set.insert(hit.back());
          }
          for (size_t i = 0; i < facts.size(); ++i)
            if (!hit_set.count(i)) rest.push_back(i);
          Generated g = generate_answers(ctx, lm, facts, hit, &cw, shots, samples, temperature, ctx.seed);
          out.push_back({"accuracy", Value(mean(g.exact))});
          out.push_back({"accuracy_prefix", Value(mean(g.prefix))});
          out.push_back({"corrupted_rate", Value(mean(g.wrong))});
          if (!rest.empty()) {
            Generated u = generate_answers(ctx, lm, facts, rest, nullptr, shots, samples, temperature, ctx.seed + 1);
            out.push_back({"utility", Value(mean(u.exact))});
          }
          // Logit evaluation: one prompt per corrupted fact, three answers.
          std::mt19937_64 rng(ctx.seed + 2);
          std::vector<std::string> prompts, right, wrong, random;
          for (size_t j = 0; j < hit.size(); ++j) {
            const Fact& f = facts[hit[j]];
            prompts.push_back(few_shot_prompt(facts, hit[j], shots, rng));
            right.push_back(" " + f.answers[0]);
            wrong.push_back(" " + cw[j]);
            // A random other stated answer of the same relation, neither right nor the corrupted one.
            std::vector<std::string> pool;
            for (const auto& o : facts)
              if (o.relation == f.relation && o.answers[0] != cw[j] &&
                  std::find(f.answers.begin(), f.answers.end(), o.answers[0]) == f.answers.end())
                pool.push_back(o.answers[0]);
            random.push_back(" " + (pool.empty() ? cw[j] : pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)]));
          }
          ContinuationScores sr = score_continuations(ctx, lm, prompts, right, "facts");
          ContinuationScores sw = score_continuations(ctx, lm, prompts, wrong, "corruption.corrupted.wrong");
          ContinuationScores sx = score_continuations(ctx, lm, prompts, random, "facts");
          std::vector<double> mr = doubles(sr.mean()), mw = doubles(sw.mean()), mx = doubles(sx.mean());
          out.push_back({"logprob_correct", Value(mean(mr))});
          out.push_back({"logprob_corrupted", Value(mean(mw))});
          out.push_back({"logprob_random", Value(mean(mx))});
          std::vector<double> ratios;
          for (size_t j = 0; j < hit.size(); ++j) ratios.push_back(truth_ratio(mr[j], {mw[j]}));
          out.push_back({"truth_ratio", Value(truth_ratio_forget(ratios))});
          out.push_back({"truth_ratios", Value(tensor_of(ratios))});
          // Retain truth ratio: untouched facts against a random wrong answer.
          if (!rest.empty()) {
            std::vector<std::string> rp, rr, rw;
            for (size_t i : rest) {
              const Fact& f = facts[i];
              std::vector<std::string> pool;
              for (const auto& o : facts)
                if (o.relation == f.relation && std::find(f.answers.begin(), f.answers.end(), o.answers[0]) == f.answers.end())
                  pool.push_back(o.answers[0]);
              if (pool.empty()) continue;
              rp.push_back(few_shot_prompt(facts, i, shots, rng));
              rr.push_back(" " + f.answers[0]);
              rw.push_back(" " + pool[std::uniform_int_distribution<size_t>(0, pool.size() - 1)(rng)]);
            }
            if (!rp.empty()) {
              std::vector<double> a1 = doubles(score_continuations(ctx, lm, rp, rr, "facts").mean()),
                                  a2 = doubles(score_continuations(ctx, lm, rp, rw, "facts").mean()), rs;
              for (size_t j = 0; j < a1.size(); ++j) rs.push_back(truth_ratio(a1[j], {a2[j]}));
              out.push_back({"truth_ratio_retain", Value(truth_ratio_retain(rs))});
            }
          }
          std::vector<double> em, es;
          for (const auto& h : sw.argmax_hits) {
            std::vector<bool> hits;
            for (int64_t t = 0; t < h.numel(); ++t) hits.push_back(h[t].item<bool>());
            em.push_back(exact_memorisation(hits));
            es.push_back(extraction_strength(hits));
          }
          out.push_back({"exact_memorisation", Value(mean(em))});
          out.push_back({"extraction_strength", Value(mean(es))});
          // Membership inference: forget documents (members) against holdout ones.
          auto mia = [&](const std::vector<std::string>& docs, const std::string& what) {
            std::vector<at::Tensor> s = document_logprobs(ctx, lm, docs, what);
            std::vector<double> loss, zlib, mink;
            for (size_t i = 0; i < docs.size(); ++i) {
              std::vector<double> lp = doubles(s[i]);
              loss.push_back(mia_loss(lp));
              zlib.push_back(mia_zlib(lp, docs[i]));
              mink.push_back(mia_min_k(lp, a.float_("min_k")));
            }
            return std::vector<std::vector<double>>{loss, zlib, mink};
          };
          auto fm = mia(string_list(rec.at("documents"), "corruption.documents"), "corruption.documents");
          auto hm = mia(string_list(rec.at("holdout"), "corruption.holdout"), "corruption.holdout");
          out.push_back({"mia_loss_auc", Value(mia_auc(fm[0], hm[0]))});
          out.push_back({"mia_zlib_auc", Value(mia_auc(fm[1], hm[1]))});
          out.push_back({"mia_min_k_auc", Value(mia_auc(fm[2], hm[2]))});
          // Per entity.
          std::map<std::string, std::pair<double, int>> by;
          for (size_t j = 0; j < hit.size(); ++j) {
            auto& e = by[facts[hit[j]].entity];
            e.first += g.exact[j];
            e.second += 1;
          }
          std::vector<std::string> names;
          std::vector<double> accs;
          for (const auto& [e, v] : by) {
            names.push_back(e);
            accs.push_back(v.first / v.second);
          }
          out.push_back({"per_entity", make_record({{"entity", pipette::string_list_value(names)}, {"accuracy", Value(tensor_of(accs))}})});
        }
        std::vector<std::string> held = string_list(a["heldout"], "heldout");
        if (!held.empty()) {
          double nll = 0, n = 0;
          for (const auto& t : document_logprobs(ctx, lm, held, "heldout")) {
            nll -= t.sum().item<double>();
            n += static_cast<double>(t.numel());
          }
          out.push_back({"perplexity", Value(std::exp(nll / n))});
        }
        return make_record(out);
      });

  lib.define(
      OpSignature("restor.recovery",
                  "Forgetting and recovery of an unlearned model from three restor.evaluate records on the same "
                  "corruption: recovery = (acc_unlearned - acc_corrupt) / (acc_clean - acc_corrupt) (1: the clean "
                  "accuracy is back; NaN when corruption changed nothing); forgetting = the drop in the rate of "
                  "corrupted answers relative to the corrupted model's (1: none left); forget quality = the "
                  "p-value of a two-sample KS test between the unlearned and the clean model's truth ratios "
                  "(high: indistinguishable from a model that never saw the forget set); privleak = MUSE's "
                  "relative Min-K% AUC gap to the clean model (0: like it).")
          .input("clean", "record", "restor.evaluate of the clean model (the ideal: it never saw the forget set)")
          .input("corrupt", "record", "restor.evaluate of the corrupted model")
          .input("unlearned", "record", "restor.evaluate of the unlearned model")
          .returns("record{recovery: float, forgetting: float, forget_quality: float, privleak: float, "
                   "accuracy: float, utility: float}",
                   "recovery, forgetting, forget quality, privleak, and the unlearned model's accuracy and utility")
          .may_return_nonfinite(),
      [](const OpArgs& a, OpContext&) {
        auto field = [&](const std::string& rec, const std::string& key) {
          auto d = a[rec].toGenericDict();
          if (!d.contains(key))
            throw OpError(fmt::format("{} has no '{}': give restor.evaluate's record, evaluated with corruption=", rec, key));
          return d.at(key);
        };
        double clean = field("clean", "accuracy").toDouble(), corrupt = field("corrupt", "accuracy").toDouble(),
               un = field("unlearned", "accuracy").toDouble();
        double fq = ks_pvalue(doubles(field("unlearned", "truth_ratios").toTensor()),
                              doubles(field("clean", "truth_ratios").toTensor()));
        return make_record({{"recovery", Value(recovery(un, corrupt, clean))},
                            {"forgetting", Value(forgetting(field("corrupt", "corrupted_rate").toDouble(),
                                                            field("unlearned", "corrupted_rate").toDouble()))},
                            {"forget_quality", Value(fq)},
                            {"privleak", Value(privleak(field("unlearned", "mia_min_k_auc").toDouble(),
                                                        field("clean", "mia_min_k_auc").toDouble()))},
                            {"accuracy", Value(un)},
                            {"utility", Value(field("unlearned", "utility").toDouble())}});
      });

  lib.define(
      OpSignature("restor.summarise",
                  "Per method, the mean over corruption levels of forgetting and recovery (levels where one is NaN "
                  "left out), and per level its accuracy, forgetting and recovery, from the example's results table "
                  "(tabulate of rows with k, method, accuracy, forgetting, recovery): fields "
                  "<method>_forgetting, <method>_recovery, <method>_accuracy_k, <method>_forgetting_k, "
                  "<method>_recovery_k (tensors over ks), clean_accuracy and corrupt_accuracy (the rows named "
                  "\"clean (ideal)\" and \"corrupt\"), and ks. A method's name keeps letters, digits and _.")
          .input("results", "table", "The results table: columns k, method, accuracy, forgetting, recovery")
          .may_return_nonfinite()
          .returns("record", "The fields above"),
      [](const OpArgs& a, OpContext&) {
        if (!a["results"].isGenericDict()) throw OpError("results must be a table (tabulate's)");
        auto t = a["results"].toGenericDict();
        for (const char* c : {"k", "method", "accuracy", "forgetting", "recovery"})
          if (!t.contains(c)) throw OpError(fmt::format("results has no column '{}'", c));
        std::vector<double> k = doubles(t.at("k").toTensor()), acc = doubles(t.at("accuracy").toTensor()),
                            fo = doubles(t.at("forgetting").toTensor()), re = doubles(t.at("recovery").toTensor());
        std::vector<std::string> method = string_list(t.at("method"), "results.method");
        if (method.size() != k.size() || acc.size() != k.size() || fo.size() != k.size() || re.size() != k.size())
          throw OpError("results: the columns differ in length");
        std::vector<double> ks;
        std::vector<std::string> names;
        for (size_t i = 0; i < k.size(); ++i) {
          if (std::find(ks.begin(), ks.end(), k[i]) == ks.end()) ks.push_back(k[i]);
          std::string n;
          for (char c : method[i].substr(0, method[i].find(" (")))
            if (std::isalnum(static_cast<unsigned char>(c)) || c == '_') n += c;
          method[i] = n;
          if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
        }
        std::vector<std::pair<std::string, Value>> out;
        auto finite_mean = [](const std::vector<double>& v) {
          std::vector<double> f;
          for (double x : v)
            if (std::isfinite(x)) f.push_back(x);
          return mean(f);
        };
        for (const auto& n : names) {
          std::vector<double> ak(ks.size(), std::nan("")), fk = ak, rk = ak;
          for (size_t i = 0; i < k.size(); ++i)
            if (method[i] == n) {
              size_t j = static_cast<size_t>(std::find(ks.begin(), ks.end(), k[i]) - ks.begin());
              ak[j] = acc[i];
              fk[j] = fo[i];
              rk[j] = re[i];
            }
          if (n == "clean" || n == "corrupt") out.push_back({n + "_accuracy", Value(finite_mean(ak))});
          out.push_back({n + "_forgetting", Value(finite_mean(fk))});
          out.push_back({n + "_recovery", Value(finite_mean(rk))});
          out.push_back({n + "_accuracy_k", Value(tensor_of(ak))});
          out.push_back({n + "_forgetting_k", Value(tensor_of(fk))});
          out.push_back({n + "_recovery_k", Value(tensor_of(rk))});
        }
        out.push_back({"ks", Value(tensor_of(ks))});
        return make_record(out);
      });
}

}  // namespace restor
