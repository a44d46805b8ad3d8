#include "wordnet.hpp"

#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace restor {

bool usable_lemma(const std::string& lemma) {
  if (lemma.empty() || lemma.size() > 40) return false;
  int words = 1;
  for (char c : lemma) {
    if (c == ' ') ++words;
    else if (!std::isalpha(static_cast<unsigned char>(c)) && c != '-' && c != '\'') return false;
  }
  return words <= 3 && lemma.front() != ' ' && lemma.back() != ' ';
}

WordNet WordNet::parse(const std::string& text, const std::string& source) {
  WordNet wn;
  std::istringstream lines(text);
  std::string line;
  size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.empty() || line[0] == ' ') continue;  // the licence header is indented
    auto bad = [&](const std::string& why) {
      return std::runtime_error(source + ":" + std::to_string(number) + ": not a WordNet data line (" + why + ")");
    };
    std::istringstream in(line.substr(0, line.find('|')));
    Synset s;
    std::string lex, type, count_hex;
    if (!(in >> s.offset >> lex >> type >> count_hex)) throw bad("no header");
    int words = 0;
    try {
      words = std::stoi(count_hex, nullptr, 16);
    } catch (...) {
      throw bad("word count '" + count_hex + "'");
    }
    for (int i = 0; i < words; ++i) {
      std::string w, lex_id;
      if (!(in >> w >> lex_id)) throw bad("fewer words than declared");
      for (char& c : w)
        if (c == '_') c = ' ';
      if (usable_lemma(w)) s.lemmas.push_back(w);
    }
    int pointers = 0;
    if (!(in >> pointers)) throw bad("no pointer count");
    for (int i = 0; i < pointers; ++i) {
      std::string symbol, target, pos, st;
      if (!(in >> symbol >> target >> pos >> st)) throw bad("fewer pointers than declared");
      if (pos == "n") s.pointers.emplace_back(symbol, target);
    }
    wn.by_offset_.emplace(s.offset, wn.synsets_.size());
    wn.synsets_.push_back(std::move(s));
  }
  return wn;
}

WordNet WordNet::load(const std::string& dir) {
  std::string path = dir + "/data.noun";
  std::ifstream f(path, std::ios::binary);
  if (!f)
    throw std::runtime_error("WordNet's noun database is not at " + path +
                             " (Debian: apt-get install wordnet-base; or give wordnet=DIR)");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse(ss.str(), path);
}

const Synset* WordNet::find(const std::string& offset) const {
  auto it = by_offset_.find(offset);
  return it == by_offset_.end() ? nullptr : &synsets_[it->second];
}

}  // namespace restor
