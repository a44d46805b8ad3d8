// prime.extract, prime.evaluate, prime.group, prime.mode_images and
// prime.mode_prompts: failure modes found as minimal tag sets, checked on
// held-out data, shown, and said as prompts for a text-to-image model.
#include "ops.hpp"

#include <fmt/format.h>

#include <chrono>

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

const char* kModesType =
    "record{class: list<int>, class_name: list<string>, tags: list<string>, size: list<int>, support: list<int>, "
    "accuracy: list<float>, class_accuracy: list<float>, drop: list<float>, description: list<string>}";

std::string percent(double x) { return fmt::format("{:.0f} %", 100.0 * x); }

std::string describe_mode(const std::string& cls, const std::vector<std::string>& tags, const Group& g,
                          const Group& of_class) {
  std::string who = cls.empty() ? "Images" : cls + " images";
  return fmt::format("{} that are {}: {} images, accuracy {} vs {}", who, spoken(tags), g.support,
                     percent(g.accuracy()), percent(of_class.accuracy()));
}

// The modes table as the rows of its columns.
struct ModeRows {
  std::vector<int64_t> cls;
  std::vector<std::string> class_name, tags;
  std::vector<double> drop;
};

ModeRows modes_arg(const OpArgs& a) {
  const Value& v = a["modes"];
  if (!v.isGenericDict()) throw OpError("'modes' must be the table prime.extract returns");
  auto d = v.toGenericDict();
  for (const char* col : {"class", "tags"})
    if (!d.contains(col)) throw OpError(fmt::format("'modes' has no column '{}': pass what prime.extract returns", col));
  ModeRows r;
  r.cls = ints_of(d.at("class"), "'modes.class'");
  r.tags = strings_of(d.at("tags"), "'modes.tags'");
  if (d.contains("class_name")) r.class_name = strings_of(d.at("class_name"), "'modes.class_name'");
  if (d.contains("drop")) r.drop = floats_of(d.at("drop"), "'modes.drop'");
  if (r.tags.size() != r.cls.size()) throw OpError("'modes' columns class and tags differ in length");
  r.class_name.resize(r.cls.size());
  r.drop.resize(r.cls.size(), std::nan(""));
  return r;
}


// A few images of a group, errors first, each framed red (wrong) or green (right).
at::Tensor framed_sample(const at::Tensor& images, const at::Tensor& in_group, const at::Tensor& correct,
                         int64_t max_images) {
  at::Tensor idx = in_group.nonzero().view(-1);
  if (correct.defined()) {
    at::Tensor wrong = correct.index_select(0, idx).logical_not();
    idx = at::cat({idx.masked_select(wrong), idx.masked_select(wrong.logical_not())});
  }
  idx = idx.narrow(0, 0, std::min<int64_t>(idx.size(0), max_images));
  at::Tensor x = images.index_select(0, idx.to(images.device())).to(at::kCPU, at::kFloat).clamp(0, 1);
  if (x.size(1) == 1) x = x.expand({-1, 3, -1, -1});
  x = x.contiguous();
  if (!correct.defined() || x.size(2) < 8 || x.size(3) < 8) return x;
  at::Tensor ok = correct.index_select(0, idx);
  at::Tensor colour = at::where(ok.view({-1, 1}), at::tensor({0.1f, 0.7f, 0.2f}).view({1, 3}),
                                at::tensor({0.9f, 0.1f, 0.1f}).view({1, 3}))
                          .view({-1, 3, 1, 1});
  using at::indexing::Slice;
  x.index_put_({Slice(), Slice(), 0, Slice()}, colour.squeeze(3).expand({-1, 3, x.size(3)}));
  x.index_put_({Slice(), Slice(), -1, Slice()}, colour.squeeze(3).expand({-1, 3, x.size(3)}));
  x.index_put_({Slice(), Slice(), Slice(), 0}, colour.squeeze(3).expand({-1, 3, x.size(2)}));
  x.index_put_({Slice(), Slice(), Slice(), -1}, colour.squeeze(3).expand({-1, 3, x.size(2)}));
  return x;
}

}  // namespace

void register_extract_ops(pipette::OpLibrary& lib) {
  lib.define(
      OpSignature("prime.extract",
                  "PRIME (Rezaei et al., ICLR 2024): failure modes as minimal tag sets. Within each class, every "
                  "combination of up to max_tags tags is a group of images; a group is a failure mode when it has "
                  "at least min_support images, the model's accuracy on it is at least min_drop below its accuracy "
                  "on the class, and removing any one of its tags raises that accuracy by at least margin.")
          .input("tags", "record", "Tags {names, values [N, T]} (prime.image_tags, prime.tag, prime.tags, "
                                   "prime.read_tags)")
          .input("labels", "tensor", "True class of each image [N]")
          .input("predictions", "tensor", "The model's predicted class [N], or its scores [N, K] (arg max)")
          .param("min_support", "int", Operand::integer(30), "Fewest images a failure mode may cover")
          .range(1)
          .param("min_drop", "float", Operand::real(0.30), "Least accuracy drop below the class's accuracy")
          .range(0, 1)
          .param("margin", "float", Operand::real(0.10),
                 "Least rise in accuracy when any one tag is removed (minimality)")
          .range(0, 1)
          .param("max_tags", "int", Operand::integer(3), "Largest tag set searched")
          .range(1, 6)
          .param("per_class", "bool", Operand::boolean(true), "Search within each class (else over all images)")
          .optional("classes", "list<string>", "Class names for the table and descriptions (else 'class 3')")
          .may_return_nonfinite()  // NaN: not measured (a group without images)
          .returns(kModesType,
                   "The failure modes, one row each (a table: save as .csv), sorted by class, then drop"),
      [](const OpArgs& a, OpContext& ctx) -> Value {
        TagSet t = tag_set_arg(a, "tags");
        Outcomes o = outcomes_arg(a, t.values.size(0));
        std::vector<std::string> names = class_names(a, o.classes);
        // Constant tags cannot be part of a mode (all-zero: no support; all-one: the
        // class itself, never minimal); leaving them out is only faster.
        at::Tensor count = t.values.sum(0);
        at::Tensor keep = (count > 0).logical_and(count < t.values.size(0));
        std::vector<int64_t> kept;
        std::vector<std::string> constant;
        for (int64_t j = 0; j < t.values.size(1); ++j)
          (keep[j].item<bool>() ? kept.push_back(j) : constant.push_back(t.names[j]));
        if (!constant.empty())
          ctx.log(OpContext::Warn, fmt::format("{} tag(s) are the same for every image and cannot describe a "
                                               "failure mode; skipped: {}",
                                               constant.size(), join_tags(constant)));
        SearchOptions opt;
        opt.min_support = a.int_("min_support");
        opt.min_drop = a.float_("min_drop");
        opt.margin = a.float_("margin");
        opt.max_tags = static_cast<int>(a.int_("max_tags"));
        opt.per_class = a.bool_("per_class");
        SearchStats stats;
        auto start = std::chrono::steady_clock::now();
        std::vector<Mode> modes =
            search(t.values.index_select(1, at::tensor(kept, at::kLong)), o.labels, o.correct, o.classes, opt, &stats);
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        ctx.log(OpContext::Info,
                fmt::format("{} failure mode(s) among {} tags x {} images in {:.3f} s: {} groups scored, {} pruned "
                            "for support, {} for too few errors; {} class(es) without images or errors skipped",
                            modes.size(), kept.size(), t.values.size(0), seconds, stats.groups_scored,
                            stats.pruned_support, stats.pruned_errors, stats.classes_skipped));
        std::vector<int64_t> cls, size, support;
        std::vector<double> acc, class_acc, drop;
        std::vector<std::string> cname, tags, description;
        for (const Mode& m : modes) {
          std::vector<std::string> tn;
          for (int64_t j : m.tags) tn.push_back(t.names[kept[j]]);
          cls.push_back(m.cls);
          cname.push_back(m.cls < 0 ? "all" : names[m.cls]);
          tags.push_back(join_tags(tn));
          size.push_back(static_cast<int64_t>(tn.size()));
          support.push_back(m.group.support);
          acc.push_back(m.group.accuracy());
          class_acc.push_back(m.of_class.accuracy());
          drop.push_back(m.drop());
          description.push_back(describe_mode(m.cls < 0 ? "" : names[m.cls], tn, m.group, m.of_class));
        }
        return pipette::make_record({{"class", int_column(cls)},
                                     {"class_name", string_column(cname)},
                                     {"tags", string_column(tags)},
                                     {"size", int_column(size)},
                                     {"support", int_column(support)},
                                     {"accuracy", float_column(acc)},
                                     {"class_accuracy", float_column(class_acc)},
                                     {"drop", float_column(drop)},
                                     {"description", string_column(description)}});
      });

  lib.define(
      OpSignature("prime.evaluate",
                  "Do failure modes generalise? Each mode of prime.extract measured on another split (held-out "
                  "tags, labels and predictions): its support, accuracy and drop there, and whether it still holds.")
          .input("modes", "record", "The table prime.extract returned")
          .input("tags", "record", "Tags of the new split, with the same tag names")
          .input("labels", "tensor", "True classes of the new split [N]")
          .input("predictions", "tensor", "Predicted classes [N] or scores [N, K] on the new split")
          .param("min_support", "int", Operand::integer(10), "Fewest images for a mode to count as holding")
          .range(1)
          .param("min_drop", "float", Operand::real(0.30), "Least drop for a mode to count as holding")
          .range(0, 1)
          .may_return_nonfinite()  // NaN: not measured (a group without images)
          .returns("record{modes: record, held: float, mean_drop: float, mean_train_drop: float, coverage: float}",
                   "`modes`: per mode (a table) class, tags, support, accuracy, class_accuracy, drop, train_drop, "
                   "holds; `held`: the fraction of modes that hold; `mean_drop` and `mean_train_drop`: their mean "
                   "drop on this split and on the split they were found on; `coverage`: the fraction of this "
                   "split's errors that fall in some mode's group"),
      [](const OpArgs& a, OpContext&) -> Value {
        ModeRows rows = modes_arg(a);
        TagSet t = tag_set_arg(a, "tags");
        Outcomes o = outcomes_arg(a, t.values.size(0));
        int64_t need = a.int_("min_support");
        double min_drop = a.float_("min_drop");
        std::vector<int64_t> support;
        std::vector<double> acc, class_acc, drop;
        c10::List<bool> holds_list;
        at::Tensor covered = at::zeros({t.values.size(0)}, at::kBool);
        double sum_drop = 0, sum_train = 0, held = 0;
        int64_t measured = 0;
        for (size_t i = 0; i < rows.cls.size(); ++i) {
          std::vector<int64_t> idx = tag_indices(t, split_tags(rows.tags[i]));
          at::Tensor in = members(t.values, o.labels, rows.cls[i], idx);
          Group g{in.sum().item<int64_t>(), in.logical_and(o.correct).sum().item<int64_t>()};
          Group c = measure(t.values, o.labels, o.correct, rows.cls[i], {});
          double d = g.support && c.support ? c.accuracy() - g.accuracy() : std::nan("");
          bool ok = g.support >= need && d >= min_drop - 1e-12;
          support.push_back(g.support);
          acc.push_back(g.support ? g.accuracy() : std::nan(""));
          class_acc.push_back(c.support ? c.accuracy() : std::nan(""));
          drop.push_back(d);
          holds_list.push_back(ok);
          held += ok;
          if (!std::isnan(d)) sum_drop += d, sum_train += rows.drop[i], ++measured;
          covered = covered.logical_or(in);
        }
        int64_t errors = o.correct.logical_not().sum().item<int64_t>();
        int64_t caught = covered.logical_and(o.correct.logical_not()).sum().item<int64_t>();
        double n = static_cast<double>(rows.cls.size());
        Value table = pipette::make_record({{"class", int_column(rows.cls)},
                                            {"class_name", string_column(rows.class_name)},
                                            {"tags", string_column(rows.tags)},
                                            {"support", int_column(support)},
                                            {"accuracy", float_column(acc)},
                                            {"class_accuracy", float_column(class_acc)},
                                            {"drop", float_column(drop)},
                                            {"train_drop", float_column(rows.drop)},
                                            {"holds", Value(holds_list)}});
        return pipette::make_record({{"modes", table},
                                     {"held", Value(n ? held / n : 0.0)},
                                     {"mean_drop", Value(measured ? sum_drop / measured : std::nan(""))},
                                     {"mean_train_drop", Value(measured ? sum_train / measured : std::nan(""))},
                                     {"coverage", Value(errors ? static_cast<double>(caught) / errors : 0.0)}});
      });

  lib.define(OpSignature("prime.group",
                         "Which images belong to a group: those of class `class` (all classes when -1) that carry "
                         "every tag in `names`, as a bool mask [N]. To plant a failure mode (relabel the group "
                         "with tensor.where) or to pick its images.")
                 .input("tags", "record", "Tags {names, values [N, T]}")
                 .input("labels", "tensor", "True class of each image [N]")
                 .param("class", "int", Operand::integer(-1), "The class; -1 for all")
                 .input("names", "list<string>", "Tags every member carries")
                 .returns("tensor", "bool [N]"),
             [](const OpArgs& a, OpContext&) -> Value {
               TagSet t = tag_set_arg(a, "tags");
               at::Tensor y = a.tensor("labels").to(at::kCPU, at::kLong);
               if (y.dim() != 1 || y.size(0) != t.values.size(0))
                 throw OpError(fmt::format("the tags describe {} images but labels are {}", t.values.size(0),
                                           pipette::describe(Value(y))));
               return Value(members(t.values, y, a.int_("class"), tag_indices(t, strings_arg(a, "names"))));
             });

  lib.define(OpSignature("prime.mode_images",
                         "Sample images of each failure mode, one batch per mode (errors first), for viz.grid with "
                         "the modes' descriptions as captions. With predictions, each image is framed red when the "
                         "model got it wrong and green when right.")
                 .input("modes", "record", "The table prime.extract returned")
                 .input("tags", "record", "The tags the modes were found on")
                 .input("labels", "tensor", "True classes [N]")
                 .input("images", "tensor", "The images [N, C, H, W] in [0, 1]")
                 .optional("predictions", "tensor", "Predicted classes [N] or scores [N, K]: frames the images")
                 .param("max_images", "int", Operand::integer(12), "Images per mode")
                 .range(1)
                 .returns("list<tensor>", "One batch [k, 3, H, W] per mode"),
             [](const OpArgs& a, OpContext&) -> Value {
               ModeRows rows = modes_arg(a);
               TagSet t = tag_set_arg(a, "tags");
               at::Tensor y = a.tensor("labels").to(at::kCPU, at::kLong);
               at::Tensor images = a.tensor("images");
               if (images.dim() != 4 || images.size(0) != t.values.size(0) || y.size(0) != t.values.size(0))
                 throw OpError(fmt::format("the tags describe {} images, but images are {} and labels {}",
                                           t.values.size(0), pipette::describe(Value(images)),
                                           pipette::describe(Value(y))));
               at::Tensor correct;
               if (!a.is_none("predictions")) correct = outcomes_arg(a, t.values.size(0)).correct;
               c10::List<at::Tensor> out;
               for (size_t i = 0; i < rows.cls.size(); ++i) {
                 at::Tensor in = members(t.values, y, rows.cls[i], tag_indices(t, split_tags(rows.tags[i])));
                 out.push_back(framed_sample(images, in, correct, a.int_("max_images")));
               }
               return Value(out);
             });

  // The paper's second check of a failure mode: images generated from its
  // description should fail more often than images of the plain class.
  lib.define(OpSignature("prime.mode_prompts",
                         "Each failure mode said as a prompt for a text-to-image model, and its class alone: "
                         "TEMPLATE with <tags> the mode's tags (underscores as spaces, in the table's order) and "
                         "<class> the class word, e.g. \"a small checked dress\" and \"a dress\".")
                 .input("modes", "record", "The table prime.extract returned")
                 .input("classes", "list<string>", "The word of each class, as the text-to-image model reads it")
                 .param("template", "string", Operand::string("a <tags> <class>"), "The prompt; <tags> and <class> are filled in")
                 .returns("record{prompts: list<string>, class_prompts: list<string>, labels: list<int>}",
                          "one prompt per mode, the same without its tags, and the mode's class"),
             [](const OpArgs& a, OpContext&) -> Value {
               ModeRows rows = modes_arg(a);
               std::vector<std::string> classes = strings_arg(a, "classes");
               std::string tmpl = a.string("template");
               if (tmpl.find("<class>") == std::string::npos || tmpl.find("<tags>") == std::string::npos)
                 throw OpError(fmt::format("template \"{}\" needs both <tags> and <class>", tmpl));
               auto fill = [&](std::string tags, const std::string& cls) {
                 std::string s = tmpl;
                 s.replace(s.find("<class>"), 7, cls);
                 for (char& c : tags)
                   if (c == '_') c = ' ';
                 s.replace(s.find("<tags>"), 6, tags);
                 std::string squeezed;  // an empty <tags> leaves no double space
                 for (char c : s)
                   if (!(c == ' ' && (squeezed.empty() || squeezed.back() == ' '))) squeezed += c;
                 while (!squeezed.empty() && squeezed.back() == ' ') squeezed.pop_back();
                 return squeezed;
               };
               c10::List<std::string> prompts, plain;
               c10::List<int64_t> labels;
               for (size_t i = 0; i < rows.cls.size(); ++i) {
                 int64_t c = rows.cls[i];
                 if (c < 0)
                   throw OpError(fmt::format("mode {} is over all classes (per_class=false): it has no class word", i));
                 if (c >= static_cast<int64_t>(classes.size()))
                   throw OpError(fmt::format("mode {} is of class {}, but 'classes' names {}", i, c, classes.size()));
                 std::string tags;
                 for (const auto& t : split_tags(rows.tags[i])) tags += (tags.empty() ? "" : " ") + t;
                 prompts.push_back(fill(tags, classes[static_cast<size_t>(c)]));
                 plain.push_back(fill("", classes[static_cast<size_t>(c)]));
                 labels.push_back(c);
               }
               return pipette::make_record({{"prompts", Value(prompts)}, {"class_prompts", Value(plain)},
                                            {"labels", Value(labels)}});
             });

  // The same check for a text-to-image model that reads whole captions (a
  // prompt of a mode's words alone is out of its distribution): captions of
  // the mode's own images against captions of its class's images.
  lib.define(OpSignature("prime.mode_captions",
                         "For each failure mode, N captions of its images and N captions of its class's images, "
                         "drawn at random: prompts for a text-to-image model trained on such captions "
                         "(data.captioned), which reads whole captions better than a mode's words alone.")
                 .input("modes", "record", "The table prime.extract returned")
                 .input("tags", "record", "The tags the modes were found on")
                 .input("labels", "tensor", "True classes [N]")
                 .input("tokens", "tensor", "Each image's caption, word ids [N, L]")
                 .param("n", "int", Operand::integer(8), "Captions per mode, on each side")
                 .range(1)
                 .optional("seed", "int", "Overrides the derived seed")
                 .stochastic()
                 .returns("record{prompts: tensor, class_prompts: tensor, labels: tensor}",
                          "word ids [M x N, L] of the modes' images (mode m's are rows m x N to m x N + N - 1), "
                          "the same of their classes' images, and each row's class [M x N]"),
             [](const OpArgs& a, OpContext& ctx) -> Value {
               ModeRows rows = modes_arg(a);
               TagSet t = tag_set_arg(a, "tags");
               at::Tensor y = a.tensor("labels").to(at::kCPU, at::kLong);
               at::Tensor tokens = a.tensor("tokens").to(at::kCPU);
               if (y.dim() != 1 || y.size(0) != t.values.size(0) || tokens.dim() != 2 ||
                   tokens.size(0) != t.values.size(0))
                 throw OpError(fmt::format("the tags describe {} images, but labels are {} and tokens {}",
                                           t.values.size(0), pipette::describe(Value(y)),
                                           pipette::describe(Value(tokens))));
               int64_t n = a.int_("n");
               at::Generator gen = ctx.generator();
               // n members of a mask, drawn without replacement while there are enough.
               auto draw = [&](const at::Tensor& mask) {
                 at::Tensor idx = mask.nonzero().view(-1);
                 at::Tensor order = at::randperm(idx.size(0), gen, at::TensorOptions().dtype(at::kLong));
                 at::Tensor picks = order.repeat({(n + idx.size(0) - 1) / idx.size(0)}).narrow(0, 0, n);
                 return idx.index_select(0, picks);
               };
               std::vector<at::Tensor> mode_rows, class_rows;
               for (size_t i = 0; i < rows.cls.size(); ++i) {
                 if (rows.cls[i] < 0)
                   throw OpError(fmt::format("mode {} is over all classes (per_class=false): it has no class", i));
                 at::Tensor in = members(t.values, y, rows.cls[i], tag_indices(t, split_tags(rows.tags[i])));
                 at::Tensor of_class = y.eq(rows.cls[i]);
                 if (!in.any().item<bool>())
                   throw OpError(fmt::format("mode {} ({}) has no image among these: pass the tags and labels it "
                                             "was found on", i, rows.tags[i]));
                 mode_rows.push_back(draw(in));
                 class_rows.push_back(draw(of_class));
               }
               at::Tensor mi = mode_rows.empty() ? at::zeros({0}, at::kLong) : at::cat(mode_rows);
               at::Tensor ci = class_rows.empty() ? at::zeros({0}, at::kLong) : at::cat(class_rows);
               return pipette::make_record({{"prompts", Value(tokens.index_select(0, mi))},
                                            {"class_prompts", Value(tokens.index_select(0, ci))},
                                            {"labels", Value(y.index_select(0, mi))}});
             });
}

}  // namespace prime
