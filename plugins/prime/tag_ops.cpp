// Where tags come from: the user's own (a tensor with names, or a CSV), a
// TorchScript multi-label tagger, or the images themselves.
#include "ops.hpp"

#include <torch/script.h>

#include "engine/chunks.hpp"
#include "engine/model_arg.hpp"
#include "engine/model_call.hpp"
#include "engine/vocabulary.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "image_tags.hpp"
#include "tag_set.hpp"

namespace prime {

using pipette::OpArgs;
using pipette::OpContext;
using pipette::Operand;
using pipette::OpError;
using pipette::OpSignature;
using pipette::Value;

namespace {

const char* kTagsType = "record{names: list<string>, values: tensor}";
const char* kImageTagsType = "record{names: list<string>, values: tensor, cuts: tensor, measurements: tensor}";
const char* kImageTagsDoc =
    "Tags {names, values bool [N, T]}, the thresholds `cuts` [P, 2] and the raw `measurements` [N, P]";

// prime.image_tags from float measurements [N, P]: the cuts are taken in
// double from the float values, so measuring in shards changes nothing.
Value tags_of_measurements(const at::Tensor& measurements, const OpArgs& a) {
  at::Tensor m = measurements.to(at::kDouble);
  at::Tensor cuts;
  if (!a.is_none("like")) {
    TagSet like = tag_set_arg(a, "like");
    if (!like.cuts.defined() || like.cuts.size(0) != m.size(1))
      throw OpError("'like' must be prime.image_tags of images with the same number of channels");
    cuts = like.cuts.to(at::kDouble);
  } else {
    cuts = quantile_cuts(m, a.float_("fraction"));
  }
  bool colour = m.size(1) == static_cast<int64_t>(image_properties(true).size());
  std::vector<std::string> names;
  for (const auto& p : image_properties(colour)) names.push_back(p.low), names.push_back(p.high);
  TagSet t = make_tag_set(names, cut(m, cuts), "image tags");
  t.cuts = cuts;
  Value v = to_value(t);
  v.toGenericDict().insert("measurements", measurements);
  return v;
}

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

std::vector<std::string> csv_fields(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') cur += '"', ++i;
      else if (c == '"') quoted = false;
      else cur += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(trim(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(trim(cur));
  return out;
}

// A CSV of 0/1 (or true/false) cells with a header of tag names; `skip`
// columns (e.g. an image id) are left out.
TagSet read_tag_csv(const std::filesystem::path& path, const std::vector<std::string>& skip) {
  std::ifstream in(path);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  std::string line;
  if (!std::getline(in, line)) throw OpError("'" + path.string() + "' is empty: it needs a header row of tag names");
  std::vector<std::string> header = csv_fields(line);
  std::vector<bool> take;
  std::vector<std::string> names;
  for (const auto& h : header) {
    take.push_back(std::find(skip.begin(), skip.end(), h) == skip.end());
    if (take.back()) names.push_back(h);
  }
  for (const auto& s : skip)
    if (std::find(header.begin(), header.end(), s) == header.end())
      throw OpError("'" + path.string() + "' has no column '" + s + "' to skip");
  std::vector<uint8_t> cells;
  int64_t rows = 0, line_no = 1;
  while (std::getline(in, line)) {
    ++line_no;
    if (trim(line).empty()) continue;
    std::vector<std::string> f = csv_fields(line);
    if (f.size() != header.size())
      throw OpError(fmt::format("{}:{}: {} cells, but the header has {} columns", path.string(), line_no, f.size(),
                                header.size()));
    for (size_t c = 0; c < f.size(); ++c) {
      if (!take[c]) continue;
      std::string v = f[c];
      for (char& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (v == "1" || v == "true" || v == "1.0") cells.push_back(1);
      else if (v == "0" || v == "false" || v == "0.0") cells.push_back(0);
      else
        throw OpError(fmt::format("{}:{}:{}: '{}' in column '{}' is not 0/1 or true/false", path.string(), line_no,
                                  c + 1, f[c], header[c]));
    }
    ++rows;
  }
  at::Tensor values = at::tensor(cells, at::kByte).view({rows, static_cast<int64_t>(names.size())});
  return make_tag_set(names, values, fmt::format("'{}'", path.filename().string()));
}

}  // namespace

void register_tag_ops(pipette::OpLibrary& lib) {
  lib.define(OpSignature("prime.tags",
                         "Tags you bring: a 0/1 (or bool) tensor [N, T] from any tagger, with one name per column.")
                 .input("values", "tensor", "0/1 or bool [N, T], e.g. from tensor.load")
                 .input("names", "list<string>", "One name per column")
                 .returns(kTagsType),
             [](const OpArgs& a, OpContext&) -> Value {
               return to_value(make_tag_set(strings_arg(a, "names"), a.tensor("values"), "'values'"));
             });

  lib.define(OpSignature("prime.caption_tags",
                         "Tags from captions: one tag per word of WORDS, on for the images whose caption holds it "
                         "(data.captioned's tokens and vocab).")
                 .input("tokens", "tensor", "Word ids of each image's caption [N, L] (0: padding)")
                 .input("vocab", "list<string>", "The word of each id")
                 .input("words", "list<string>", "The words to tag by, e.g. the colours and patterns")
                 .returns(kTagsType),
             [](const OpArgs& a, OpContext&) -> Value {
               std::vector<std::string> vocab = pipette::vocabulary_arg(a, "vocab"), words = strings_arg(a, "words");
               at::Tensor tokens = a.tensor("tokens").to(at::kCPU);
               if (tokens.dim() != 2 || at::isFloatingType(tokens.scalar_type()))
                 throw OpError("tokens must be word ids [N, L], found " + pipette::describe(Value(tokens)));
               tokens = tokens.to(at::kLong);
               if (tokens.numel() && (tokens.min().item<int64_t>() < 0 ||
                                      tokens.max().item<int64_t>() >= static_cast<int64_t>(vocab.size())))
                 throw OpError(fmt::format("the tokens hold word ids {} to {}, but the vocabulary has {} words",
                                           tokens.min().item<int64_t>(), tokens.max().item<int64_t>(), vocab.size()));
               if (words.empty()) throw OpError("words is empty: name the caption words to tag by");
               std::vector<at::Tensor> columns;
               for (const auto& w : words) columns.push_back(tokens.eq(pipette::word_id(vocab, w, "words")).any(1));
               return to_value(make_tag_set(words, at::stack(columns, 1), "the caption tags"));
             });

  lib.define(OpSignature("prime.read_tags",
                         "Tags from a CSV file: a header row of tag names, then one row per image of 0/1 or "
                         "true/false cells, in the images' order.")
                 .input("path", "string", "CSV file; relative paths are relative to the script")
                 .input_file()
                 .optional("skip", "list<string>", "Columns that are not tags (e.g. an image id)")
                 .returns(kTagsType),
             [](const OpArgs& a, OpContext& ctx) -> Value {
               return to_value(read_tag_csv(ctx.input_path(a.string("path")), strings_arg(a, "skip")));
             });

  lib.define(OpSignature("prime.merge_tags",
                         "Several tag sets of the same images side by side (e.g. prime.image_tags and a tagger's); "
                         "tag names must stay unique.")
                 .input("parts", "list<record>", "Tag sets {names, values}")
                 .returns(kTagsType),
             [](const OpArgs& a, OpContext&) -> Value {
               std::vector<std::string> names;
               std::vector<at::Tensor> values;
               for (const auto& part : a["parts"].toListRef()) {
                 TagSet t = tag_set_of(part, "a part of 'parts'");
                 names.insert(names.end(), t.names.begin(), t.names.end());
                 values.push_back(t.values);
                 if (values.back().size(0) != values.front().size(0))
                   throw OpError(fmt::format("tag sets describe different numbers of images: {} and {}",
                                             values.front().size(0), values.back().size(0)));
               }
               if (values.empty()) throw OpError("'parts' is empty");
               return to_value(make_tag_set(names, at::cat(values, 1), "the merged tags"));
             });

  lib.define(OpSignature("prime.image_tags",
                         "Interpretable tags computed from the images themselves, so PRIME needs no tagging model: "
                         "brightness (dark/bright), contrast (low_contrast/high_contrast), object size (small/"
                         "large), aspect (tall/wide), edge density (smooth/textured), left-right symmetry "
                         "(asymmetric/symmetric) and, for colour images, saturation (muted/colorful). Each property "
                         "is cut at its `fraction` and 1 - `fraction` quantiles: the lowest images get the first tag, "
                         "the highest the second. With shards=N the images are measured in N parts and cut once.")
                 .input("images", "tensor", "[N, C, H, W], C = 1 or 3, values in [0, 1]")
                 .images({1, 3})
                 .param("fraction", "float", Operand::real(1.0 / 3.0), "Share of images given each tag")
                 .range(0.01, 0.5)
                 .optional("like", "record", "Tags of another split: cut at its thresholds, so tags mean the same")
                 .returns(kImageTagsType, kImageTagsDoc)
                 .shardable_via("prime.image_measurements", "prime.tags_of_measurements"),
             [](const OpArgs& a, OpContext&) -> Value {
               at::Tensor images = a.tensor("images").to(at::kCPU);
               if (images.size(0) == 0) throw OpError("there are no images to tag");
               return tags_of_measurements(image_measurements(images).to(at::kFloat), a);
             });

  lib.define(OpSignature("prime.image_measurements",
                         "The properties prime.image_tags cuts, measured per image (one row per image, so "
                         "shards=N splits it): brightness, contrast, size, aspect, edges, symmetry and, for colour "
                         "images, saturation.")
                 .input("images", "tensor", "[N, C, H, W], C = 1 or 3, values in [0, 1]")
                 .images({1, 3})
                 .returns("tensor", "[N, P] float, P = 6 (grey) or 7 (colour), in prime.image_tags' order")
                 .shardable({"images"}),
             [](const OpArgs& a, OpContext&) -> Value {
               at::Tensor images = a.tensor("images").to(at::kCPU);
               if (images.size(0) == 0) throw OpError("there are no images to measure");
               // The measurements are float values widened to double: narrowing them back is exact.
               return Value(image_measurements(images).to(at::kFloat));
             });

  lib.define(OpSignature("prime.tags_of_measurements",
                         "prime.image_tags from its per-image measurements (prime.image_measurements, possibly "
                         "measured in shards and concatenated): each property cut at the `fraction` and "
                         "1 - `fraction` quantiles of all the rows, or at the cuts of `like`.")
                 .input("measurements", "tensor", "[N, P] from prime.image_measurements, P = 6 or 7")
                 .param("fraction", "float", Operand::real(1.0 / 3.0), "Share of images given each tag")
                 .range(0.01, 0.5)
                 .optional("like", "record", "Tags of another split: cut at its thresholds, so tags mean the same")
                 .returns(kImageTagsType, kImageTagsDoc)
                 .light(),
             [](const OpArgs& a, OpContext&) -> Value {
               at::Tensor m = a.tensor("measurements");
               size_t grey = image_properties(false).size(), colour = image_properties(true).size();
               if (m.dim() != 2 || m.size(0) == 0 ||
                   (m.size(1) != static_cast<int64_t>(grey) && m.size(1) != static_cast<int64_t>(colour)))
                 throw OpError(fmt::format("'measurements' must be prime.image_measurements [N, {} or {}], got {}", grey,
                                           colour, pipette::describe(Value(m))));
               return tags_of_measurements(m.to(at::kCPU, at::kFloat), a);
             });

  lib.define(OpSignature("prime.tag",
                         "Tags from a TorchScript multi-label tagger: forward(images) gives one score per tag "
                         "[N, T] (logits unless `scores` says probabilities); a tag is on when its probability "
                         "reaches `threshold`.")
                 .input("model", "model", "The tagger (torch.jit.load-able)")
                 .input("images", "tensor", "Its inputs [N, ...]")
                 .input("names", "list<string>", "One name per output column")
                 .param("threshold", "float", Operand::real(0.5), "Probability at which a tag is on")
                 .range(0, 1)
                 .param("scores", "string", Operand::string("logits"), "What the tagger outputs")
                 .choices({"logits", "probabilities"})
                 .param("batch", "int", Operand::integer(256), "Images per forward pass")
                 .range(1)
                 .returns(kTagsType),
             [](const OpArgs& a, OpContext& ctx) -> Value {
               torch::jit::Module m = pipette::model_arg(a, "model", ctx.device);
               at::Tensor x = a.tensor("images");
               std::vector<std::string> names = strings_arg(a, "names");
               if (x.size(0) == 0) throw OpError("there are no images to tag");
               at::NoGradGuard no_grad;
               at::Tensor s = pipette::map_chunks(ctx, x, a.int_("batch"), [&](const at::Tensor& xb, int64_t) {
                 return pipette::logits_of(m, xb.to(ctx.device)).to(at::kCPU, at::kFloat);
               });
               if (s.dim() != 2 || s.size(1) != static_cast<int64_t>(names.size()))
                 throw OpError(fmt::format("the tagger returned {} but {} tag names were given",
                                           pipette::describe(Value(s)), names.size()));
               at::Tensor p = a.string("scores") == "logits" ? s.sigmoid() : s;
               return to_value(make_tag_set(names, p >= a.float_("threshold"), "the tagger's tags"));
             });
}

}  // namespace prime
