#include "engine/word_tokenizer.hpp"

#include <fmt/format.h>

#include <cctype>

#include "engine/vocabulary.hpp"

namespace pipette {

const char* const WordTokenizer::kSpecial[3] = {"<pad>", "<bos>", "<eos>"};

namespace {

bool word_char(unsigned char c) { return std::isalnum(c) || c == '\'' || c == '-' || c == '_' || c >= 0x80; }

bool closes(const std::string& t) {  // punctuation written without a space before it
  return t == "." || t == "," || t == "?" || t == "!" || t == ":" || t == ";" || t == ")";
}

}  // namespace

std::vector<std::string> WordTokenizer::split(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      out.emplace_back("\n");
      ++i;
    } else if (std::isspace(c)) {
      ++i;
    } else if (word_char(c)) {
      size_t j = i;
      while (j < text.size() && word_char(static_cast<unsigned char>(text[j]))) ++j;
      out.push_back(text.substr(i, j - i));
      i = j;
    } else {
      out.push_back(text.substr(i, 1));
      ++i;
    }
  }
  return out;
}

WordTokenizer::WordTokenizer(std::vector<std::string> vocab) : vocab_(std::move(vocab)) {
  for (int64_t i = 0; i < 3; ++i)
    if (static_cast<int64_t>(vocab_.size()) <= i || vocab_[static_cast<size_t>(i)] != kSpecial[i])
      throw OpError(fmt::format("not a language model's vocabulary: entry {} should be '{}'", i, kSpecial[i]));
  for (size_t i = 0; i < vocab_.size(); ++i) index_.emplace(vocab_[i], static_cast<int64_t>(i));
}

WordTokenizer WordTokenizer::from_corpus(const std::vector<std::string>& texts) {
  std::vector<std::string> vocab(kSpecial, kSpecial + 3);
  std::unordered_map<std::string, int64_t> seen;
  for (const auto& s : vocab) seen.emplace(s, 0);
  for (const auto& text : texts)
    for (auto& t : split(text))
      if (seen.emplace(t, 0).second) vocab.push_back(std::move(t));
  return WordTokenizer(std::move(vocab));
}

int64_t WordTokenizer::id(const std::string& token) const {
  auto it = index_.find(token);
  return it == index_.end() ? -1 : it->second;
}

std::vector<int64_t> WordTokenizer::encode(const std::string& text, const std::string& what) const {
  std::vector<int64_t> ids;
  for (const auto& t : split(text)) {
    int64_t i = id(t);
    if (i < 0) {
      // The one message for an unknown word (engine/vocabulary.hpp), with the
      // vocabulary minus the special tokens to suggest from.
      std::vector<std::string> words(vocab_.begin() + 2, vocab_.end());
      word_id(words, t, what);
    }
    ids.push_back(i);
  }
  return ids;
}

std::string WordTokenizer::decode(const std::vector<int64_t>& ids) const {
  std::string out;
  bool after_newline = true;
  for (int64_t i : ids) {
    if (i < 3 || i >= size()) continue;
    const std::string& t = vocab_[static_cast<size_t>(i)];
    if (t == "\n") {
      out += "\n";
      after_newline = true;
      continue;
    }
    if (!after_newline && !closes(t)) out += ' ';
    out += t;
    after_newline = false;
  }
  return out;
}

}  // namespace pipette
