// prime.cluster_baseline: the approach PRIME compares itself with. Cluster the
// misclassified images in the model's embedding space first, then try to name
// each cluster by the tags over-represented in it, and report the same figures
// as prime.extract so both can be read side by side.
#include "ops.hpp"

#include <fmt/format.h>

#include "clustering.hpp"
#include "search.hpp"
#include "tag_set.hpp"

namespace prime {

using pipette::OpArgs;
using pipette::OpContext;
using pipette::Operand;
using pipette::OpError;
using pipette::OpSignature;
using pipette::Value;

namespace {

struct Rows {
  std::vector<int64_t> cls, cluster, errors, support, tag_support;
  std::vector<double> acc, class_acc, drop, tag_acc;
  std::vector<std::string> cname, tags, description;
};

std::string pct(double x) { return std::isnan(x) ? "n/a" : fmt::format("{:.0f} %", 100.0 * x); }

}  // namespace

void register_baseline_ops(pipette::OpLibrary& lib) {
  lib.define(
      OpSignature("prime.cluster_baseline",
                  "The clustering baseline PRIME is compared with: cluster each class's misclassified images in the "
                  "model's embedding space (k-means or a diagonal Gaussian mixture), give every image of the class "
                  "to its nearest cluster centre to measure the cluster's accuracy, and describe each cluster by its "
                  "most over-represented tags (lift = share of the cluster's errors with the tag / share of the "
                  "class with it), with the accuracy of the group those tags describe.")
          .input("embeddings", "tensor", "One embedding per image [N, ...] (e.g. model.activations at a hook point)")
          .input("labels", "tensor", "True class of each image [N]")
          .input("predictions", "tensor", "Predicted classes [N] or scores [N, K]")
          .optional("tags", "record", "Tags {names, values [N, T]} to describe the clusters with")
          .param("k", "int", Operand::integer(3), "Clusters per class (fewer when a class has fewer errors)")
          .range(1, 100)
          .param("method", "string", Operand::string("kmeans"), "The clusterer")
          .choices({"kmeans", "gmm"})
          .param("per_class", "bool", Operand::boolean(true), "Cluster each class's errors apart (else all)")
          .param("top_tags", "int", Operand::integer(2), "Tags describing each cluster, at most")
          .range(0, 6)
          .param("iterations", "int", Operand::integer(100), "Lloyd (k-means) or EM (mixture) iterations")
          .range(1)
          .optional("classes", "list<string>", "Class names (else 'class 3')")
          .optional("seed", "int", "Seeds k-means++ (else derived from the run seed)")
          .stochastic()
          .may_return_nonfinite()  // NaN: not measured (a group without images)
          .returns("record{class: list<int>, class_name: list<string>, cluster: list<int>, errors: list<int>, "
                   "support: list<int>, accuracy: list<float>, class_accuracy: list<float>, drop: list<float>, "
                   "tags: list<string>, tag_support: list<int>, tag_accuracy: list<float>, "
                   "description: list<string>}",
                   "One row per cluster (a table): its errors, the images nearest its centre with their accuracy "
                   "and drop, and the tags naming it with the accuracy of the group they describe"),
      [](const OpArgs& a, OpContext& ctx) -> Value {
        at::Tensor emb = a.tensor("embeddings").to(at::kCPU, at::kDouble);
        if (emb.dim() < 2) throw OpError("embeddings must be [N, D] (or [N, ...], flattened)");
        emb = emb.flatten(1);
        int64_t n = emb.size(0);
        if (emb.isnan().any().item<bool>()) throw OpError("the embeddings hold NaN");
        Outcomes o = outcomes_arg(a, n);
        std::vector<std::string> names = class_names(a, o.classes);
        TagSet t;
        if (!a.is_none("tags")) {
          t = tag_set_arg(a, "tags");
          if (t.values.size(0) != n)
            throw OpError(fmt::format("the tags describe {} images but there are {} embeddings", t.values.size(0), n));
        }
        at::Generator gen = ctx.generator();
        bool per_class = a.bool_("per_class");
        int64_t top = a.int_("top_tags");
        Rows r;
        for (int64_t c = per_class ? 0 : -1; c < (per_class ? o.classes : 0); ++c) {
          if (ctx.cancelled()) throw OpError("cancelled");
          at::Tensor in_class = c < 0 ? at::ones({n}, at::kBool) : o.labels.eq(c);
          at::Tensor wrong = in_class.logical_and(o.correct.logical_not());
          at::Tensor err_idx = wrong.nonzero().view(-1), cls_idx = in_class.nonzero().view(-1);
          int64_t e = err_idx.size(0);
          if (e == 0) continue;
          int64_t k = std::min(a.int_("k"), e);
          at::Tensor x = emb.index_select(0, err_idx);
          at::Tensor assign = a.string("method") == "gmm" ? gaussian_mixture(x, k, a.int_("iterations"), gen)
                                                          : kmeans(x, k, a.int_("iterations"), gen);
          at::Tensor onehot = at::one_hot(assign, k).to(at::kDouble);
          at::Tensor counts = onehot.sum(0);
          at::Tensor centres = onehot.t().matmul(x) / counts.clamp_min(1).unsqueeze(1);
          // Every image of the class goes to its nearest centre: the cluster's accuracy.
          at::Tensor xc = emb.index_select(0, cls_idx);
          at::Tensor nearest = at::cdist(xc, centres).argmin(1);
          at::Tensor ok_c = o.correct.index_select(0, cls_idx);
          Group whole{cls_idx.size(0), ok_c.sum().item<int64_t>()};
          for (int64_t j = 0; j < k; ++j) {
            if (counts[j].item<double>() == 0) continue;
            at::Tensor mine = nearest.eq(j);
            Group g{mine.sum().item<int64_t>(), mine.logical_and(ok_c).sum().item<int64_t>()};
            std::vector<std::string> tn;
            Group described;
            if (t.values.defined() && top > 0) {
              at::Tensor err_tags = t.values.index_select(0, err_idx.masked_select(assign.eq(j))).to(at::kDouble);
              at::Tensor share = err_tags.mean(0);
              at::Tensor base = t.values.index_select(0, cls_idx).to(at::kDouble).mean(0);
              at::Tensor lift = share / base.clamp_min(1e-12);
              // A name must cover most of the cluster and be rarer in the class.
              lift = at::where(share.ge(0.5).logical_and(lift.gt(1.0)), lift, at::zeros_like(lift));
              at::Tensor order = lift.argsort(0, true);
              std::vector<int64_t> picked;
              for (int64_t i = 0; i < std::min<int64_t>(top, order.size(0)); ++i) {
                int64_t tag = order[i].item<int64_t>();
                if (lift[tag].item<double>() <= 0) break;
                picked.push_back(tag);
                tn.push_back(t.names[tag]);
              }
              if (!picked.empty()) described = measure(t.values, o.labels, o.correct, c, picked);
            }
            std::string who = c < 0 ? "All images" : names[c];
            std::string desc = fmt::format("{} cluster {} ({} errors): nearest images {}, accuracy {} vs {}", who, j,
                                           counts[j].item<int64_t>(), g.support, pct(g.accuracy()),
                                           pct(whole.accuracy()));
            if (!tn.empty())
              desc += fmt::format("; mostly {}: those {} images, accuracy {}", spoken(tn), described.support,
                                  pct(described.accuracy()));
            r.cls.push_back(c);
            r.cname.push_back(c < 0 ? "all" : names[c]);
            r.cluster.push_back(j);
            r.errors.push_back(counts[j].item<int64_t>());
            r.support.push_back(g.support);
            r.acc.push_back(g.support ? g.accuracy() : std::nan(""));
            r.class_acc.push_back(whole.accuracy());
            r.drop.push_back(g.support ? whole.accuracy() - g.accuracy() : std::nan(""));
            r.tags.push_back(join_tags(tn));
            r.tag_support.push_back(described.support);
            r.tag_acc.push_back(described.support ? described.accuracy() : std::nan(""));
            r.description.push_back(desc);
          }
        }
        return pipette::make_record({{"class", int_column(r.cls)},
                                     {"class_name", string_column(r.cname)},
                                     {"cluster", int_column(r.cluster)},
                                     {"errors", int_column(r.errors)},
                                     {"support", int_column(r.support)},
                                     {"accuracy", float_column(r.acc)},
                                     {"class_accuracy", float_column(r.class_acc)},
                                     {"drop", float_column(r.drop)},
                                     {"tags", string_column(r.tags)},
                                     {"tag_support", int_column(r.tag_support)},
                                     {"tag_accuracy", float_column(r.tag_acc)},
                                     {"description", string_column(r.description)}});
      });
}

}  // namespace prime
