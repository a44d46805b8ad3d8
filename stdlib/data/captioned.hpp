// Captioned images whose every caption word is known to be true of its image:
// garments (from grayscale images with class labels, Fashion-MNIST's) drawn in
// a colour, with a pattern, at a position and a scale on a small canvas, and
// captioned "a small red striped dress on the left". The knowledge a
// text-to-image model learns from them (which word makes which colour) is
// planted, so where it ends up can be checked (the localize plugin).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace pipette::stdlib {

struct CaptionedConfig {
  int64_t size = 16;                  // canvas height and width
  std::vector<std::string> classes;   // one word per label
  // The values of each attribute; a list of one is a constant that is still
  // captioned; an empty list leaves the attribute out of images and captions.
  std::vector<std::string> colours{"red", "green", "blue", "yellow"};
  std::vector<std::string> patterns{"plain", "striped", "checked"};
  std::vector<std::string> positions{"left", "right"};
  std::vector<std::string> scales{"small", "large"};
  // Word ids from this vocabulary instead of caption_vocab's ("<pad>" first),
  // so that captions of a second set read as a model trained on the first
  // reads them; every caption word must be in it. Empty = caption_vocab.
  std::vector<std::string> vocab;
};

struct Captioned {
  at::Tensor images;  // [N, 3, S, S] float in [0, 1]
  // Per image, the index of its value in the config's list (0 where the list is empty).
  at::Tensor colour, pattern, position, scale;  // [N] long
  at::Tensor tokens;                            // [N, L] long: word ids in `vocab`, 0 = padding
  std::vector<std::string> vocab;               // "<pad>" first
};

// The colours a caption may name, as RGB in [0, 1].
const std::vector<std::pair<std::string, std::array<double, 3>>>& palette();

// The vocabulary of `c`'s captions: "<pad>", the grammar's words, then every
// attribute value and class word, each once.
std::vector<std::string> caption_vocab(const CaptionedConfig& c);

// The images and captions of grayscale `garments` [N, 1, H, W] in [0, 1] with
// `labels` [N], attributes drawn uniformly and independently from `gen`.
// Throws OpError for a colour the palette lacks, a label without a class word,
// or a canvas too small to draw on.
Captioned make_captioned(const at::Tensor& garments, const at::Tensor& labels, const CaptionedConfig& c,
                         at::Generator& gen);

// Word ids of each text (lower case, split at spaces), padded with 0 to
// `length` (0 = the longest text). A word outside `vocab` is an OpError naming
// it, the text and the closest known words.
at::Tensor tokenize(const std::vector<std::string>& texts, const std::vector<std::string>& vocab, int64_t length);

// `tokens` [N, L] without the word ids `words`: the rest moved up, padding
// after, the same L (knowledge-free prompts in bulk: "a red dress" -> "a dress").
at::Tensor drop_word_ids(const at::Tensor& tokens, const std::vector<int64_t>& words);

// Texts back from word ids (padding dropped).
std::vector<std::string> detokenize(const at::Tensor& tokens, const std::vector<std::string>& vocab);

// The ten Fashion-MNIST classes as caption words.
const std::vector<std::string>& fashion_mnist_words();

}  // namespace pipette::stdlib
