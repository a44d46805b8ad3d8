#include "lang/syntax.hpp"

#include <algorithm>

#include "engine/types.hpp"
#include "lang/grammar.hpp"

namespace pipette::lang::syntax {

const std::vector<std::string>& constants() {
  static const std::vector<std::string> words = {"true", "false", "none"};
  return words;
}

const std::vector<std::string>& keywords() {
  static const std::vector<std::string> words = [] {
    std::vector<std::string> out;
    auto& lit = constants();
    for (auto& w : grammar::keywords())
      if (std::find(lit.begin(), lit.end(), w) == lit.end()) out.push_back(w);
    return out;
  }();
  return words;
}

const std::vector<std::string>& type_names() { return pipette::type_names(); }

const std::vector<std::pair<char, char>>& brackets() {
  static const std::vector<std::pair<char, char>> pairs = {{'(', ')'}, {'[', ']'}, {'{', '}'}};
  return pairs;
}

}  // namespace pipette::lang::syntax
