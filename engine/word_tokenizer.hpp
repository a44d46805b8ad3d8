// The word-level tokenizer of pipette's language models (lm.*, the restor
// plugin): a vocabulary built from a corpus and saved with the model, so that a
// model file carries the one mapping between its ids and text. Words are runs
// of letters, digits, apostrophes and hyphens; each punctuation mark and each
// newline is a token of its own (a question-answer prompt ends its answer at
// "\n", which generation stops at). Case is kept. A word outside the
// vocabulary is an error that names it and the nearest known words: a
// language model never silently reads <unk>.
#pragma once

#include "engine/api.hpp"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/op_impl.hpp"

namespace pipette {

class PIPETTE_API WordTokenizer {
 public:
  // Ids 0, 1, 2 are padding, beginning and end of a document.
  static constexpr int64_t kPad = 0, kBos = 1, kEos = 2;
  static const char* const kSpecial[3];  // "<pad>", "<bos>", "<eos>"

  // The vocabulary of `texts`: the special tokens, then every token in order
  // of first appearance (so the same corpus gives the same ids).
  static WordTokenizer from_corpus(const std::vector<std::string>& texts);
  // A saved vocabulary (the model's `vocab` attribute); its first three
  // entries must be the special tokens.
  explicit WordTokenizer(std::vector<std::string> vocab);
  WordTokenizer() = default;

  // The tokens of `text`, as strings: what encode() looks up.
  static std::vector<std::string> split(const std::string& text);
  // The ids of `text`; an unknown token is an OpError naming `what`, the token
  // and its nearest words.
  std::vector<int64_t> encode(const std::string& text, const std::string& what) const;
  // Text from ids: words separated by a space, none before punctuation or
  // around a newline; special tokens left out.
  std::string decode(const std::vector<int64_t>& ids) const;
  bool has(const std::string& token) const { return index_.count(token) > 0; }
  int64_t id(const std::string& token) const;  // -1 when unknown

  const std::vector<std::string>& vocab() const { return vocab_; }
  int64_t size() const { return static_cast<int64_t>(vocab_.size()); }

 private:
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace pipette
