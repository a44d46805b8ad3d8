#include "engine/vocabulary.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "engine/suggest.hpp"

namespace pipette {

std::vector<std::string> vocabulary_arg(const OpArgs& a, const std::string& name) {
  std::vector<std::string> vocab;
  for (const auto& w : a[name].toListRef()) vocab.push_back(w.toStringRef());
  if (vocab.empty()) throw OpError(name + " is empty: a vocabulary holds padding (id 0) and its words");
  return vocab;
}

std::string nearest_words(const std::string& word, const std::vector<std::string>& vocab, size_t k) {
  std::vector<std::pair<size_t, size_t>> near;  // distance, id
  for (size_t i = 1; i < vocab.size(); ++i) near.emplace_back(edit_distance(word, vocab[i]), i);
  std::stable_sort(near.begin(), near.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::string list;
  for (size_t j = 0; j < std::min(k, near.size()); ++j) list += fmt::format("{}'{}'", j ? ", " : "", vocab[near[j].second]);
  return list;
}

int64_t word_id(const std::vector<std::string>& vocab, const std::string& word, const std::string& what) {
  auto it = vocab.empty() ? vocab.end() : std::find(vocab.begin() + 1, vocab.end(), word);
  if (it == vocab.end())
    throw OpError(fmt::format("{}: '{}' is not a word of the vocabulary (nearest: {}; {} words)", what,
                              word.size() > 40 ? word.substr(0, 40) + "..." : word, nearest_words(word, vocab),
                              vocab.empty() ? 0 : vocab.size() - 1));
  return it - vocab.begin();
}

}  // namespace pipette
