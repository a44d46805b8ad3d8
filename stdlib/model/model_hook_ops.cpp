// model.hooks, model.activations, model.patch: reading and changing a model's
// values at hook points by path (engine/hook_points.hpp), as TransformerLens'
// run_with_cache and run_with_hooks, nnsight's .output.save() and pyvene's
// interventions do in Python.
#include <ATen/ATen.h>
#include <torch/script.h>

#include <map>

#include "engine/hook_plan.hpp"
#include "stdlib/attr/attribution.hpp"
#include "stdlib/model/model_hooks.hpp"
#include "stdlib/model/model_util.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

// The `at` argument: one path or a list of them, each checked against the
// model's sites (did-you-mean on a miss).
std::vector<HookSite> sites_of(const OpArgs& a, const HookedModel& h, const std::string& name) {
  std::vector<std::string> names;
  const Value& v = a[name];
  if (v.isString()) {
    names.push_back(v.toStringRef());
  } else {
    for (const auto& item : v.toListRef()) names.push_back(item.toStringRef());
    if (names.empty()) throw OpError("'" + name + "' lists no hook points");
  }
  std::vector<HookSite> sites;
  for (const std::string& n : names) sites.push_back(h.find(n).site);
  return sites;
}

// The values at `sites` in one forward pass of `x` (the model's outputs
// unused). A site the pass does not reach is an error, or with `unreached_ok`
// an undefined tensor.
std::vector<at::Tensor> values_at(HookedModel& h, const std::vector<HookSite>& sites, const at::Tensor& x,
                                  bool unreached_ok = false) {
  std::vector<Intervention> capture;
  for (const HookSite& s : sites) capture.push_back(Intervention{s});
  InterventionPlan plan(capture);
  {
    ActivePlan active(plan);
    logits_of(h.module, x);
  }
  std::vector<at::Tensor> out;
  for (const HookSite& s : sites) {
    try {
      out.push_back(plan.captured(s));
    } catch (const OpError&) {
      if (!unreached_ok) throw;
      out.emplace_back();
    }
  }
  return out;
}

}  // namespace

std::string hook_kind(const std::string& path, bool input, const std::string& module_type) {
  if (input) return "input";
  if (module_type == "method") return "method";
  size_t dot = path.rfind('.');
  return path.compare(dot == std::string::npos ? 0 : dot + 1, 5, "hook_") == 0 ? "named" : "output";
}

std::vector<HookRow> hook_table(const torch::jit::Module& m, const at::Tensor& inputs) {
  HookedModel h = hooked(m);
  std::map<std::string, std::string> shapes;
  if (inputs.defined()) {
    at::Tensor x = inputs.slice(0, 0, std::min<int64_t>(2, inputs.size(0)));
    // A site the pass does not reach (a branch not taken) says so.
    std::vector<HookSite> all;
    for (const HookSiteInfo& s : h.sites)
      if (s.tensor) all.push_back(s.site);
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> v = values_at(h, all, x, /*unreached_ok=*/true);
    for (size_t k = 0; k < all.size(); ++k)
      shapes[all[k].name()] = v[k].defined() ? per_example_shape(v[k]) : std::string("not reached");
  }
  std::vector<HookRow> rows;
  for (const HookSiteInfo& s : h.sites)
    rows.push_back(HookRow{s.site.name(), hook_kind(s.site.path, s.site.input, s.module_type), s.module_type,
                           s.value_type, s.calls,
                           shapes.count(s.site.name()) ? shapes[s.site.name()] : std::string()});
  return rows;
}

void register_model_hooks(OpLibrary& lib) {
  lib.define(OpSignature("model.hooks",
                         "Every hook point of the model, in the order a forward pass reaches them: each submodule "
                         "call's output (its path) and first tensor input (path:input), and each method call. With "
                         "inputs, the shape of the value at each on them.")
                 .input("model", "model", "The model")
                 .optional("inputs", "tensor", "Example inputs: one forward pass on the first two gives each site's shape")
                 .feeds("model")
                 .returns("table", "Columns hook (the name layer=/at= take), kind (output, input, method, or named: a "
                                   "hook_* site), module (its class), value (its "
                                   "TorchScript type), calls (per forward pass; captures keep the last) and shape "
                                   "(per example; empty without inputs)"),
             [](const OpArgs& a, OpContext& ctx) {
               at::Tensor x = a.is_none("inputs") ? at::Tensor() : a.tensor("inputs").to(ctx.device);
               std::vector<std::string> hook, kind, module, value, shape;
               c10::List<int64_t> calls;
               for (const HookRow& r : hook_table(model_arg(a, "model", ctx.device), x)) {
                 hook.push_back(r.hook);
                 kind.push_back(r.kind);
                 module.push_back(r.module);
                 value.push_back(r.value);
                 calls.push_back(r.calls);
                 shape.push_back(r.shape);
               }
               return make_record({{"hook", string_list_value(hook)},
                                   {"kind", string_list_value(kind)},
                                   {"module", string_list_value(module)},
                                   {"value", string_list_value(value)},
                                   {"calls", Value(calls)},
                                   {"shape", string_list_value(shape)}});
             });

  lib.define(
      OpSignature("model.activations",
                  "The activations at hook points for each input (embeddings for clustering, probing), in batches; "
                  "a dataset is read a batch at a time (its `images`). `at` one path gives a tensor, a list of "
                  "paths a record by path: one forward pass for all.")
          .input("model", "model", "The model")
          .input("inputs", "tensor|dataset{images: tensor}|dataset{features: tensor}",
                 "Inputs batched along the first dimension, or a dataset (its images, or features for tabular data)")
          .feeds("model")
          .param("at", "string|list<string>", Operand::string("features"),
                 "Hook point(s): paths of submodule or method calls (model.hooks lists them), path:input for inputs")
          .param("batch", "int", Operand::integer(256), "Examples per forward pass")
          .range(1)
          .returns("any", "[N, ...] for one hook point; a record from each path to its [N, ...] for a list"),
      [](const OpArgs& a, OpContext& ctx) {
        HookedModel h = hooked(model_arg(a, "model", ctx.device));
        std::vector<HookSite> sites = sites_of(a, h, "at");
        std::vector<at::Tensor> acts =
            batched_multi(a, ctx, [&](const at::Tensor& x) { return values_at(h, sites, x); });
        if (a["at"].isString()) return Value(acts[0]);
        std::vector<std::pair<std::string, Value>> fields;
        for (size_t i = 0; i < sites.size(); ++i) fields.emplace_back(sites[i].name(), Value(acts[i]));
        return make_record(fields);
      });

  lib.define(
      OpSignature("model.patch",
                  "The model's outputs with its values changed at hook points during the forward pass: replaced "
                  "by a tensor or by the value the same site had on other inputs (activation patching), "
                  "added to, scaled, zeroed or mean-ablated, everywhere or at some indices of one dimension "
                  "(channels, positions).")
          .input("model", "model", "The model")
          .input("inputs", "tensor", "Inputs [N, ...]")
          .feeds("model")
          .optional("at", "string|list<string>",
                    "Hook point(s) to change (model.hooks lists them); path:input for a module's input")
          .param("mode", "string", Operand::string("replace"), "What happens there")
          .choices({"replace", "add", "scale", "zero", "mean"})
          .optional("value", "tensor",
                    "replace/add: a tensor like the site's value [N, ...] or one example's [...], broadcast")
          .optional("source", "tensor",
                    "replace: inputs whose values at the same sites replace these inputs' (N of them, or 1 "
                    "for all): activation patching")
          .feeds("model")
          .param("factor", "float", Operand::real(0.0), "scale: the factor")
          .param("dim", "int", Operand::integer(1), "With index: the dimension (after the batch) it indexes")
          .range(1)
          .optional("index", "list<int>", "Only these indices along dim change (channels, positions); all when none")
          .param("batch", "int", Operand::integer(256), "Examples per forward pass")
          .range(1)
          .returns("tensor", "The model's outputs under the change"),
      [](const OpArgs& a, OpContext& ctx) {
        HookedModel h = hooked(model_arg(a, "model", ctx.device));
        if (a.is_none("at")) throw OpError("'at' names the hook point(s) to change (model.hooks lists them)");
        std::vector<HookSite> sites = sites_of(a, h, "at");
        // Mean ablation replaces each input's value by its mean over all the
        // inputs (not over one batch: the answer must not depend on batch=).
        const bool mean = a.string("mode") == "mean";
        Intervention::Mode mode = mean ? Intervention::Mode::Replace : intervention_mode(a.string("mode"));
        bool has_value = !a.is_none("value"), has_source = !a.is_none("source");
        if (mean && (has_value || has_source)) throw OpError("mode=\"mean\" takes neither value= nor source=");
        if (!mean && mode == Intervention::Mode::Replace && has_value == has_source)
          throw OpError("mode=\"replace\" takes value= (a tensor) or source= (inputs to patch from), one of them");
        if (mode == Intervention::Mode::Add && !has_value) throw OpError("mode=\"add\" takes value=");
        if (mode != Intervention::Mode::Replace && has_source)
          throw OpError("source= patches values in: it goes with mode=\"replace\"");
        if (mode != Intervention::Mode::Replace && mode != Intervention::Mode::Add && has_value)
          throw OpError("value= goes with mode=\"replace\" or \"add\"");
        at::Tensor x = a.tensor("inputs").to(ctx.device);
        at::Tensor source = has_source ? a.tensor("source").to(ctx.device) : at::Tensor();
        int64_t n = x.size(0);
        if (has_source && source.size(0) != n && source.size(0) != 1)
          throw OpError("source= holds " + std::to_string(source.size(0)) + " inputs for " + std::to_string(n) +
                        ": give one per input, or one for all");
        std::vector<int64_t> index;
        if (!a.is_none("index"))
          for (const auto& i : a["index"].toListRef()) index.push_back(i.toInt());
        int64_t batch = a.int_("batch");
        torch::NoGradGuard no_grad;
        std::vector<at::Tensor> means;
        if (mean) {
          std::vector<at::Tensor> sums(sites.size());
          for_chunks(ctx, n, batch, [&](int64_t i, int64_t end) {
            std::vector<at::Tensor> v = values_at(h, sites, x.slice(0, i, end));
            for (size_t k = 0; k < sites.size(); ++k) {
              at::Tensor s = v[k].to(at::kDouble).sum(0);
              sums[k] = sums[k].defined() ? sums[k] + s : s;
            }
          });
          for (auto& s : sums) means.push_back(s / static_cast<double>(n));
        }
        std::vector<at::Tensor> outs;
        for_chunks(ctx, n, batch, [&](int64_t i, int64_t end) {
          at::Tensor xb = x.slice(0, i, end);
          std::vector<Intervention> plan_items;
          std::vector<at::Tensor> patched;
          if (has_source) {
            // The source's values at the sites, from its own clean pass.
            at::Tensor sb = source.size(0) == 1 ? source : source.slice(0, i, end);
            patched = values_at(h, sites, sb);
          }
          for (size_t k = 0; k < sites.size(); ++k) {
            Intervention iv{sites[k], mode};
            iv.value = mean ? means[k] : has_source ? patched[k] : has_value ? a.tensor("value") : at::Tensor();
            if (has_source && iv.value.size(0) == 1 && xb.size(0) != 1) iv.value = iv.value[0];
            iv.factor = a.float_("factor");
            iv.dim = a.int_("dim");
            iv.index = index;
            plan_items.push_back(std::move(iv));
          }
          InterventionPlan plan(plan_items);
          at::Tensor out;
          {
            ActivePlan active(plan);
            out = logits_of(h.module, xb);
          }
          plan.check_reached();
          outs.push_back(out);
        });
        return Value(at::cat(outs, 0));
      });
}

}  // namespace pipette::stdlib
