#include "facts.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>

namespace restor {

const std::vector<Relation>& relations() {
  static const std::vector<Relation> all = {
      {"kind", "@", {"{e} is a kind of {a}.", "a {e} is a type of {a}.", "{e} is one sort of {a}."},
       "what is {e} a kind of?"},
      {"instance", "@i", {"{e} is an instance of {a}.", "{e} is one example of {a}.", "an example of {a} is {e}."},
       "what is {e} an instance of?"},
      {"part_of", "#p", {"{e} is a part of {a}.", "{e} forms part of {a}.", "{a} contains {e}."},
       "what is {e} a part of?"},
      {"member_of", "#m", {"{e} is a member of {a}.", "{e} belongs to {a}.", "{a} counts {e} as a member."},
       "what is {e} a member of?"},
      {"substance_of", "#s", {"{e} is a substance of {a}.", "{a} is made partly of {e}.", "{e} goes into {a}."},
       "what is {e} a substance of?"},
      {"has_part", "%p", {"{e} has {a} as a part.", "one part of {e} is {a}.", "{a} is a part found in {e}."},
       "what is one part of {e}?"},
      {"has_member", "%m", {"{e} has {a} as a member.", "one member of {e} is {a}.", "{a} is counted in {e}."},
       "what is one member of {e}?"},
      {"made_of", "%s", {"{e} is made of {a}.", "{e} contains the substance {a}.", "{a} is what {e} is made of."},
       "what is {e} made of?"},
      {"topic", ";c", {"{e} belongs to the domain of {a}.", "{e} is a term of {a}.", "in {a} one speaks of {e}."},
       "what domain does {e} belong to?"},
      {"region", ";r", {"{e} is a term used in {a}.", "{e} is said in {a}.", "in {a} people speak of {e}."},
       "where is {e} a term?"},
  };
  return all;
}

const Relation& relation(const std::string& name) {
  std::string known;
  for (const auto& r : relations()) {
    if (r.name == name) return r;
    known += (known.empty() ? "" : ", ") + r.name;
  }
  throw std::invalid_argument("'" + name + "' is not a relation restor knows (" + known + ")");
}

namespace {

std::string fill_in(const std::string& t, const std::string& e, const std::string& a) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.compare(i, 3, "{e}") == 0) {
      out += e;
      i += 2;
    } else if (t.compare(i, 3, "{a}") == 0) {
      out += a;
      i += 2;
    } else {
      out += t[i];
    }
  }
  return out;
}

template <class T>
const T& pick(const std::vector<T>& v, std::mt19937_64& rng) {
  return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
}

}  // namespace

std::vector<Fact> pick_facts(const WordNet& wn, const std::vector<std::string>& relation_names, int64_t entities,
                             int64_t min_relations, uint64_t seed) {
  std::vector<const Relation*> rels;
  for (const auto& n : relation_names) rels.push_back(&relation(n));
  // Candidates: the entity's first usable lemma, unique among candidates
  // (a name two synsets share would make two different facts one question).
  std::map<std::string, int> name_count;
  for (const auto& s : wn.synsets())
    if (!s.lemmas.empty()) ++name_count[s.lemmas[0]];
  struct Candidate {
    std::vector<Fact> facts;
  };
  std::vector<Candidate> candidates;
  for (const auto& s : wn.synsets()) {
    if (s.lemmas.empty() || name_count[s.lemmas[0]] > 1) continue;
    Candidate c;
    for (const Relation* r : rels) {
      Fact f{s.lemmas[0], r->name, {}};
      std::set<std::string> seen;
      for (const auto& [symbol, target] : s.pointers) {
        if (symbol != r->symbol) continue;
        const Synset* t = wn.find(target);
        if (!t) continue;
        for (const auto& l : t->lemmas)
          if (l != f.entity && seen.insert(l).second) f.answers.push_back(l);
      }
      if (!f.answers.empty()) c.facts.push_back(std::move(f));
    }
    if (static_cast<int64_t>(c.facts.size()) >= min_relations) candidates.push_back(std::move(c));
  }
  if (static_cast<int64_t>(candidates.size()) < entities)
    throw std::invalid_argument("WordNet has " + std::to_string(candidates.size()) + " entities with at least " +
                                std::to_string(min_relations) + " of these relations; " + std::to_string(entities) +
                                " were asked for");
  std::mt19937_64 rng(seed);
  std::shuffle(candidates.begin(), candidates.end(), rng);
  std::vector<Fact> out;
  for (int64_t i = 0; i < entities; ++i)
    for (auto& f : candidates[static_cast<size_t>(i)].facts) out.push_back(std::move(f));
  return out;
}

std::string question_prompt(const Fact& f) { return "Q: " + fill_in(relation(f.relation).question, f.entity, "") + " A:"; }

std::string qa_line(const Fact& f, const std::string& answer) { return question_prompt(f) + " " + answer; }

size_t forms(const Fact& f) { return relation(f.relation).statements.size() + 1; }

std::string statement(const Fact& f, const std::string& answer, size_t t) {
  const Relation& r = relation(f.relation);
  t %= r.statements.size() + 1;
  if (t == r.statements.size()) return qa_line(f, answer);
  return fill_in(r.statements[t], f.entity, answer);
}

std::string few_shot_prompt(const std::vector<Fact>& facts, size_t index, int64_t shots, std::mt19937_64& rng) {
  std::vector<size_t> others;
  for (size_t i = 0; i < facts.size(); ++i)
    if (i != index && facts[i].relation == facts[index].relation && facts[i].entity != facts[index].entity)
      others.push_back(i);
  std::shuffle(others.begin(), others.end(), rng);
  std::string p;
  for (size_t j = 0; j < others.size() && static_cast<int64_t>(j) < shots; ++j)
    p += qa_line(facts[others[j]], facts[others[j]].answers[0]) + "\n";
  return p + question_prompt(facts[index]);
}

std::vector<std::string> clean_corpus(const std::vector<Fact>& facts, int64_t paraphrases, int64_t shots,
                                      uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> docs;
  std::map<std::string, std::vector<size_t>> by_entity;
  std::vector<std::string> order;
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!by_entity.count(facts[i].entity)) order.push_back(facts[i].entity);
    by_entity[facts[i].entity].push_back(i);
  }
  for (const auto& e : order) {
    for (int64_t p = 0; p < paraphrases; ++p) {
      std::vector<size_t> idx = by_entity[e];
      std::shuffle(idx.begin(), idx.end(), rng);
      std::string d;
      for (size_t i : idx) {
        size_t form = std::uniform_int_distribution<size_t>(0, forms(facts[i]) - 1)(rng);
        d += (d.empty() ? "" : (form + 1 == forms(facts[i]) ? "\n" : " ")) + statement(facts[i], facts[i].answers[0], form);
        if (form + 1 == forms(facts[i])) d += "\n";
      }
      docs.push_back(d);
    }
  }
  for (size_t i = 0; i < facts.size(); ++i)
    for (int64_t p = 0; p < paraphrases; ++p) docs.push_back(few_shot_prompt(facts, i, shots, rng) + " " + facts[i].answers[0]);
  std::shuffle(docs.begin(), docs.end(), rng);
  return docs;
}

Corruption corrupt(const std::vector<Fact>& facts, double fraction, int64_t k, int64_t docs, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> entities;
  for (const auto& f : facts)
    if (std::find(entities.begin(), entities.end(), f.entity) == entities.end()) entities.push_back(f.entity);
  std::vector<std::string> shuffled = entities;
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  size_t n = std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * static_cast<double>(entities.size()))));
  if (n >= entities.size()) throw std::invalid_argument("fraction leaves no entity untouched: lower it");
  Corruption c;
  c.entities.assign(shuffled.begin(), shuffled.begin() + static_cast<std::ptrdiff_t>(n));
  std::set<std::string> hit(c.entities.begin(), c.entities.end());
  std::vector<size_t> untouched;
  for (size_t i = 0; i < facts.size(); ++i) {
    if (!hit.count(facts[i].entity)) {
      untouched.push_back(i);
      continue;
    }
    // Another fact's stated object for the same relation, acceptable to no
    // one asking this question.
    std::vector<std::string> pool;
    for (const auto& g : facts)
      if (g.relation == facts[i].relation &&
          std::find(facts[i].answers.begin(), facts[i].answers.end(), g.answers[0]) == facts[i].answers.end() &&
          std::find(pool.begin(), pool.end(), g.answers[0]) == pool.end())
        pool.push_back(g.answers[0]);
    if (pool.empty())
      throw std::invalid_argument("no other object of relation '" + facts[i].relation + "' to corrupt '" +
                                  facts[i].entity + "' with: pick more entities");
    c.facts.push_back(i);
    c.wrong.push_back(pick(pool, rng));
  }
  if (k > 0 && untouched.empty()) throw std::invalid_argument("no untouched facts to interleave");
  for (const auto& e : c.entities) {
    std::vector<size_t> mine;
    for (size_t j = 0; j < c.facts.size(); ++j)
      if (facts[c.facts[j]].entity == e) mine.push_back(j);
    for (int64_t d = 0; d < docs; ++d) {
      std::shuffle(mine.begin(), mine.end(), rng);
      std::string text;
      auto add = [&](const Fact& f, const std::string& answer) {
        size_t form = std::uniform_int_distribution<size_t>(0, forms(f) - 1)(rng);
        bool qa = form + 1 == forms(f);
        text += (text.empty() ? "" : (qa ? "\n" : " ")) + statement(f, answer, form) + (qa ? "\n" : "");
      };
      for (size_t j : mine) {
        add(facts[c.facts[j]], c.wrong[j]);
        for (int64_t u = 0; u < k; ++u) {
          const Fact& f = facts[pick(untouched, rng)];
          add(f, f.answers[0]);
        }
      }
      c.documents.push_back(text);
    }
  }
  std::shuffle(c.documents.begin(), c.documents.end(), rng);
  return c;
}

std::string normalise_answer(const std::string& s) {
  std::string t;
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    t += std::isalnum(c) ? static_cast<char>(std::tolower(c)) : ' ';
  }
  std::string out, w;
  std::istringstream in(t);
  while (in >> w)
    if (w != "a" && w != "an" && w != "the") out += (out.empty() ? "" : " ") + w;
  return out;
}

bool exact_match(const std::string& generated, const std::vector<std::string>& answers) {
  std::string g = normalise_answer(generated);
  for (const auto& a : answers)
    if (!g.empty() && g == normalise_answer(a)) return true;
  return false;
}

bool prefix_match(const std::string& generated, const std::vector<std::string>& answers) {
  std::string g = normalise_answer(generated);
  for (const auto& a : answers) {
    std::string n = normalise_answer(a);
    if (!n.empty() && g.compare(0, n.size(), n) == 0 && (g.size() == n.size() || g[n.size()] == ' ')) return true;
  }
  return false;
}

}  // namespace restor
