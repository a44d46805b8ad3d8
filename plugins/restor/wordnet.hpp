// Princeton WordNet's noun database (Debian's wordnet-base, data.noun) read
// into memory: each synset's lemmas and its pointers to other synsets, the
// raw material of restor's facts. Engine-free: the unit tests read a small
// data file of their own.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace restor {

struct Synset {
  std::string offset;                 // the synset's id in data.noun
  std::vector<std::string> lemmas;    // "Canis familiaris" (underscores as spaces), usable ones only
  std::vector<std::pair<std::string, std::string>> pointers;  // (symbol "@", "#p", ...; target offset)
};

class WordNet {
 public:
  // data.noun under `dir`; std::runtime_error naming the file and the line
  // when it is missing or malformed.
  static WordNet load(const std::string& dir);
  // The synsets of data.noun-formatted text (the tests' own).
  static WordNet parse(const std::string& text, const std::string& source);

  const std::vector<Synset>& synsets() const { return synsets_; }
  const Synset* find(const std::string& offset) const;

 private:
  std::vector<Synset> synsets_;
  std::unordered_map<std::string, size_t> by_offset_;
};

// Whether a lemma is usable as a word of a fact: letters (any case), spaces,
// hyphens and apostrophes, at most three words.
bool usable_lemma(const std::string& lemma);

}  // namespace restor
