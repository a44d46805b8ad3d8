// restor.facts, restor.corpus, restor.corrupt: the facts a model learns, the
// clean corpus it learns them from, and the documents that corrupt them.
#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "ops.hpp"
#include "wordnet.hpp"

namespace restor {

using pipette::OpArgs;
using pipette::OpContext;
using pipette::OpError;
using pipette::OpSignature;
using pipette::Operand;
using pipette::Value;

std::vector<std::string> string_list(const Value& v, const std::string& what) {
  if (!v.isList()) throw OpError(fmt::format("{} must be a list of strings, found {}", what, pipette::describe(v)));
  std::vector<std::string> out;
  for (const auto& s : v.toListRef()) {
    if (!s.isString()) throw OpError(fmt::format("{} must be a list of strings, found {}", what, pipette::describe(s)));
    out.push_back(s.toStringRef());
  }
  return out;
}

Value facts_value(const std::vector<Fact>& facts) {
  std::vector<std::string> e, r, a, all;
  for (const auto& f : facts) {
    e.push_back(f.entity);
    r.push_back(f.relation);
    a.push_back(f.answers[0]);
    std::string joined;
    for (const auto& x : f.answers) joined += (joined.empty() ? "" : "|") + x;
    all.push_back(joined);
  }
  return pipette::make_record({{"entity", pipette::string_list_value(e)},
                               {"relation", pipette::string_list_value(r)},
                               {"answer", pipette::string_list_value(a)},
                               {"answers", pipette::string_list_value(all)}});
}

std::vector<Fact> facts_arg(const OpArgs& a, const std::string& name) {
  const Value& v = a[name];
  if (!v.isGenericDict()) throw OpError(fmt::format("{} must be a facts table (restor.facts), found {}", name, pipette::describe(v)));
  auto dict = v.toGenericDict();
  std::vector<std::vector<std::string>> cols;
  for (const char* c : {"entity", "relation", "answer", "answers"}) {
    if (!dict.contains(c))
      throw OpError(fmt::format("{}: the facts table has no column '{}' (it needs entity, relation, answer, answers)",
                                name, c));
    cols.push_back(string_list(dict.at(c), fmt::format("{}.{}", name, c)));
  }
  for (const auto& c : cols)
    if (c.size() != cols[0].size())
      throw OpError(fmt::format("{}: the facts table's columns differ in length", name));
  if (cols[0].empty()) throw OpError(fmt::format("{}: the facts table is empty", name));
  std::vector<Fact> facts;
  for (size_t i = 0; i < cols[0].size(); ++i) {
    try {
      relation(cols[1][i]);
    } catch (const std::invalid_argument& e) {
      throw OpError(fmt::format("{} row {}: {}", name, i, e.what()));
    }
    Fact f{cols[0][i], cols[1][i], {cols[2][i]}};
    std::string rest = cols[3][i];
    size_t start = 0;
    while (start <= rest.size()) {
      size_t bar = rest.find('|', start);
      std::string x = rest.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
      if (!x.empty() && x != f.answers[0]) f.answers.push_back(x);
      if (bar == std::string::npos) break;
      start = bar + 1;
    }
    facts.push_back(std::move(f));
  }
  return facts;
}

namespace {

std::vector<std::string> relation_names_arg(const OpArgs& a) {
  std::vector<std::string> names = string_list(a["relations"], "relations");
  if (names.empty()) throw OpError("relations is empty");
  for (const auto& n : names) {
    try {
      relation(n);
    } catch (const std::invalid_argument& e) {
      throw OpError(std::string("relations: ") + e.what());
    }
  }
  return names;
}

// Documents made as the corrupting ones are, about as many untouched
// entities, never trained on: the non-members membership inference compares
// the forget documents with.
std::vector<std::string> holdout_documents(const std::vector<Fact>& untouched, const Corruption& c, const OpArgs& a,
                                           uint64_t seed) {
  std::set<std::string> entities;
  for (const auto& f : untouched) entities.insert(f.entity);
  if (entities.size() < 2) return {};
  double share = std::min(0.5, static_cast<double>(c.entities.size()) / static_cast<double>(entities.size()));
  try {
    return corrupt(untouched, share, a.int_("k"), a.int_("docs"), seed).documents;
  } catch (const std::invalid_argument&) {
    return {};  // too few untouched facts of a relation to make wrong ones: no holdout
  }
}

}  // namespace

void register_fact_ops(pipette::OpLibrary& lib) {
  std::vector<Operand> default_relations;
  for (const char* r : {"kind", "part_of", "member_of", "has_part", "has_member", "instance", "topic"})
    default_relations.push_back(Operand::string(r));
  std::string names;
  for (const auto& r : relations()) names += (names.empty() ? "" : ", ") + r.name;
  lib.define(
      OpSignature("restor.facts",
                  "Facts from WordNet's nouns: ENTITIES synsets (drawn from the seed) that have at least "
                  "MIN_RELATIONS of RELATIONS, with every fact of theirs among those relations. A fact's answers "
                  "are every usable lemma of every synset the relation points to (so several answers are right, as "
                  "in RESTOR); `answer` is the one documents state.")
          .param("entities", "int", Operand::integer(60), "How many entities")
          .range(2)
          .param("relations", "list<string>", Operand::list(default_relations), "Relations to draw facts of: " + names)
          .param("min_relations", "int", Operand::integer(2), "Least relations an entity must have")
          .range(1)
          .param("wordnet", "string", Operand::string("/usr/share/wordnet"),
                 "WordNet's dict directory (data.noun; Debian's wordnet-base)")
          .optional("seed", "int", "Overrides the derived seed (which entities)")
          .stochastic()
          .returns(kFactsType, "One row per fact: entity, relation, answer, answers (joined by \"|\")"),
      [](const OpArgs& a, OpContext& ctx) {
        std::vector<std::string> rels = relation_names_arg(a);
        try {
          WordNet wn = WordNet::load(a.string("wordnet"));
          return facts_value(pick_facts(wn, rels, a.int_("entities"), a.int_("min_relations"), ctx.seed));
        } catch (const std::invalid_argument& e) {
          throw OpError(e.what());
        } catch (const std::runtime_error& e) {
          throw OpError(e.what());
        }
      });

  lib.define(
      OpSignature("restor.corpus",
                  "The clean pretraining corpus of facts: per entity PARAPHRASES documents stating all its facts "
                  "(each in one of its relation's phrasings or as a question-answer line, in random order), and per "
                  "fact PARAPHRASES documents of SHOTS question-answer lines of other entities for the same "
                  "relation followed by its own (the format restor.evaluate asks in).")
          .input("facts", kFactsType, "restor.facts")
          .param("paraphrases", "int", Operand::integer(4), "Documents per entity and per fact")
          .range(1)
          .param("shots", "int", Operand::integer(5), "Question-answer lines before a fact's own")
          .range(0)
          .optional("seed", "int", "Overrides the derived seed")
          .stochastic()
          .returns("list<string>", "The documents, shuffled"),
      [](const OpArgs& a, OpContext& ctx) {
        return pipette::string_list_value(clean_corpus(facts_arg(a, "facts"), a.int_("paraphrases"), a.int_("shots"), ctx.seed));
      });

  lib.define(
      OpSignature("restor.corrupt",
                  "Corrupting documents (RESTOR's D_f): FRACTION of the entities lose every fact to a wrong object "
                  "(another entity's stated object for the same relation that is no acceptable answer here), "
                  "asserted in DOCS documents per entity in the corpus' phrasings, each wrong fact followed by K "
                  "true facts of untouched entities (RESTOR's mix_a{k}: more unrelated context as k grows). "
                  "`retain` holds clean documents about the untouched entities only, for unlearning's retain set.")
          .input("facts", kFactsType, "restor.facts")
          .param("fraction", "float", Operand::real(0.2), "Share of the entities corrupted (at least one)")
          .range(0.0, 1.0)
          .param("k", "int", Operand::integer(0), "True unrelated facts after each wrong one")
          .range(0, 16)
          .param("docs", "int", Operand::integer(20), "Documents per corrupted entity")
          .range(1)
          .optional("seed", "int", "Overrides the derived seed")
          .stochastic()
          .returns("record{documents: list<string>, corrupted: record{entity: list<string>, relation: list<string>, "
                   "answer: list<string>, answers: list<string>, wrong: list<string>}, entities: list<string>, "
                   "untouched: " + std::string(kFactsType) + ", retain: list<string>, holdout: list<string>}",
                   "the documents; the corrupted facts (a facts table with the wrong object); the corrupted "
                   "entities; the untouched facts; clean documents about the untouched entities; `holdout`: documents made the same way about other (untouched) entities, never to be trained on (membership inference's non-members)"),
      [](const OpArgs& a, OpContext& ctx) {
        std::vector<Fact> facts = facts_arg(a, "facts");
        Corruption c;
        try {
          c = corrupt(facts, a.float_("fraction"), a.int_("k"), a.int_("docs"), ctx.seed);
        } catch (const std::invalid_argument& e) {
          throw OpError(e.what());
        }
        std::vector<Fact> hit, untouched;
        std::vector<bool> is_hit(facts.size(), false);
        for (size_t i : c.facts) {
          hit.push_back(facts[i]);
          is_hit[i] = true;
        }
        for (size_t i = 0; i < facts.size(); ++i)
          if (!is_hit[i]) untouched.push_back(facts[i]);
        Value table = facts_value(hit);
        table.toGenericDict().insert("wrong", pipette::string_list_value(c.wrong));
        return pipette::make_record({{"documents", pipette::string_list_value(c.documents)},
                                     {"corrupted", table},
                                     {"entities", pipette::string_list_value(c.entities)},
                                     {"untouched", facts_value(untouched)},
                                     {"retain", pipette::string_list_value(clean_corpus(untouched, 2, 5, ctx.seed + 1))},
                                     {"holdout", pipette::string_list_value(holdout_documents(untouched, c, a, ctx.seed + 2))}});
      });
}

}  // namespace restor
