// data.captioned, data.tokenize, data.captions: captioned images with known
// attributes, and the word-level tokenizer of their captions (for text-to-image
// models and the localize plugin).
#include <ATen/ATen.h>
#include <fmt/format.h>

#include "engine/dataset.hpp"
#include "stdlib/core/arg_lists.hpp"
#include "stdlib/data/captioned.hpp"
#include "stdlib/stdlib.hpp"

namespace pipette::stdlib {

namespace {

}  // namespace

void register_data_text(OpLibrary& lib) {
  lib.define(
      OpSignature("data.captioned",
                  "Captioned images whose every caption word is true of its image: each grayscale garment is "
                  "drawn in a colour, with a pattern, at a position and a scale on a SIZE x SIZE canvas, and "
                  "captioned \"a small red striped dress on the left\" (words in that order; an attribute with an "
                  "empty list is left out of images and captions). Attributes are drawn uniformly and "
                  "independently per image. The ground truth of each word is a field of the dataset.")
          .input("data", "dataset{images: tensor, labels: tensor}",
                 "Grayscale images [N, 1, H, W] in [0, 1] with class labels (data.fashion_mnist)")
          .param("size", "int", Operand::integer(16), "Canvas height and width in pixels")
          .range(8, 256)
          .optional("classes", "list<string>",
                    "One word per label; none = Fashion-MNIST's (tshirt, trouser, pullover, dress, coat, sandal, "
                    "shirt, sneaker, bag, boot)")
          .param("colours", "list<string>", Operand::list({Operand::string("red"), Operand::string("green"),
                                                           Operand::string("blue"), Operand::string("yellow")}),
                 "Colours to draw (red, green, blue, yellow, cyan, magenta, orange, purple, white, grey)")
          .param("patterns", "list<string>",
                 Operand::list({Operand::string("plain"), Operand::string("striped"), Operand::string("checked")}),
                 "Patterns (plain, striped, checked)")
          .param("positions", "list<string>", Operand::list({Operand::string("left"), Operand::string("right")}),
                 "Positions (left, right, top, bottom, center)")
          .param("scales", "list<string>", Operand::list({Operand::string("small"), Operand::string("large")}),
                 "Scales (small, large)")
          .optional("vocab", "list<string>",
                    "Word ids from this vocabulary (another data.captioned's vocab): captions a model trained on "
                    "that set reads, e.g. a colour it has never seen drawn; every caption word must be in it")
          .optional("seed", "int", "Overrides the derived seed (the attributes drawn)")
          .stochastic()
          .returns("record{data: dataset{images: tensor, labels: tensor, tokens: tensor, colour: tensor, pattern: "
                   "tensor, position: tensor, scale: tensor}, vocab: list<string>, "
                   "classes: list<string>, colours: list<string>, patterns: list<string>, positions: list<string>, "
                   "scales: list<string>}",
                   "`data`: images [N, 3, S, S], labels, tokens [N, L] (word ids, 0 = padding), and per image the "
                   "index of its colour, pattern, position and scale in those lists; `vocab`: the word of each id"),
      [](const OpArgs& a, OpContext& ctx) {
        DatasetPtr d = a.dataset("data");
        CaptionedConfig c;
        c.size = a.int_("size");
        c.classes = a.is_none("classes") ? fashion_mnist_words() : string_list(a, "classes");
        c.colours = string_list(a, "colours");
        c.patterns = string_list(a, "patterns");
        c.positions = string_list(a, "positions");
        c.scales = string_list(a, "scales");
        if (!a.is_none("vocab")) c.vocab = string_list(a, "vocab");
        at::Generator gen = ctx.generator();
        Captioned out = make_captioned(d->column("images"), d->column("labels"), c, gen);
        DatasetPtr data = tensor_dataset({{"images", out.images},
                                          {"labels", d->column("labels").to(at::kLong)},
                                          {"tokens", out.tokens},
                                          {"colour", out.colour},
                                          {"pattern", out.pattern},
                                          {"position", out.position},
                                          {"scale", out.scale}},
                                         "captioned " + d->summary());
        return make_record({{"data", make_dataset(data)},
                            {"vocab", string_list_value(out.vocab)},
                            {"classes", string_list_value(c.classes)},
                            {"colours", string_list_value(c.colours)},
                            {"patterns", string_list_value(c.patterns)},
                            {"positions", string_list_value(c.positions)},
                            {"scales", string_list_value(c.scales)}});
      });

  lib.define(OpSignature("data.tokenize",
                         "Word ids of texts in a vocabulary (data.captioned's `vocab`): lower-cased, split at "
                         "spaces, padded with 0. A word outside the vocabulary is an error naming it and the "
                         "nearest known words.")
                 .input("texts", "string|list<string>", "One text or several (prompts)")
                 .input("vocab", "list<string>", "The vocabulary: the word of each id, padding first")
                 .param("length", "int", Operand::integer(0), "Ids per text; 0 = the longest text's word count")
                 .range(0)
                 .returns("tensor", "[T, L] int64 word ids"),
             [](const OpArgs& a, OpContext&) {
               return Value(tokenize(string_list(a, "texts"), string_list(a, "vocab"), a.int_("length")));
             });

  lib.define(OpSignature("data.drop_words",
                         "Word ids with some words taken out, the rest moved up and padding after: the "
                         "knowledge-free prompts of a whole set of captions at once (\"a red dress\" -> \"a "
                         "dress\"), as LocoGen, LocoEdit and concept ablation pair them.")
                 .input("tokens", "tensor", "[N, L] word ids (data.tokenize, or data.captioned's tokens)")
                 .input("vocab", "list<string>", "The vocabulary")
                 .input("words", "string|list<string>", "The words to take out")
                 .returns("tensor", "[N, L] int64 word ids"),
             [](const OpArgs& a, OpContext&) {
               std::vector<std::string> vocab = string_list(a, "vocab");
               std::vector<int64_t> ids;
               for (const auto& w : string_list(a, "words")) {
                 at::Tensor id = tokenize({w}, vocab, 0);
                 if (id.numel() != 1) throw OpError(fmt::format("words: '{}' is not one word", w));
                 ids.push_back(id.item<int64_t>());
               }
               at::Tensor tokens = a.tensor("tokens");
               if (tokens.numel() && tokens.max().item<int64_t>() >= static_cast<int64_t>(vocab.size()))
                 throw OpError(fmt::format("the tokens hold word id {}, but the vocabulary has {} words",
                                           tokens.max().item<int64_t>(), vocab.size()));
               return Value(drop_word_ids(tokens, ids));
             });

  lib.define(OpSignature("data.captions", "Texts back from word ids (padding dropped): the captions of tokens.")
                 .input("tokens", "tensor", "[N, L] word ids")
                 .input("vocab", "list<string>", "The vocabulary")
                 .returns("list<string>"),
             [](const OpArgs& a, OpContext&) {
               return string_list_value(detokenize(a.tensor("tokens"), string_list(a, "vocab")));
             });
}

}  // namespace pipette::stdlib
