// Word-level vocabularies (data.captioned's and the text-to-image models'):
// id 0 is padding, every other id one word. Looking a word up is one rule
// for every op that takes words: an unknown word is an error that names it
// and the nearest known words.
#pragma once

#include "engine/api.hpp"

#include <string>
#include <vector>

#include "engine/op_impl.hpp"

namespace pipette {

// The vocabulary argument `name` (a list<string>, padding first).
PIPETTE_API std::vector<std::string> vocabulary_arg(const OpArgs& a, const std::string& name);

// "'dress', 'dresses', 'red'": the k words of `vocab` nearest `word` by edit
// distance (ties in vocabulary order), padding left out.
PIPETTE_API std::string nearest_words(const std::string& word, const std::vector<std::string>& vocab, size_t k = 3);

// The id of `word`; an OpError "WHAT: 'crimson' is not a word of the
// vocabulary (nearest: 'green', 'cyan', 'coat'; 24 words)" otherwise.
// Padding is not a word.
PIPETTE_API int64_t word_id(const std::vector<std::string>& vocab, const std::string& word, const std::string& what);

}  // namespace pipette
