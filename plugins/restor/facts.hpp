// restor's facts: entities (WordNet noun synsets) with several relations
// each, their acceptable answers (every lemma of every target synset, as
// RESTOR accepts several right answers), the templates that state a fact and
// ask for it, the clean pretraining corpus (each fact in several
// paraphrases) and the corrupted documents (a fact's object swapped for
// another entity's object of the same relation, k true unrelated facts
// interleaved after each wrong one: the paper's mix_a{k}). Engine-free.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "wordnet.hpp"

namespace restor {

struct Relation {
  std::string name;     // "kind"
  std::string symbol;   // WordNet's pointer: "@"
  std::vector<std::string> statements;  // "{e} is a kind of {a}." paraphrases
  std::string question;                 // "what is {e} a kind of?"
};

// Every relation restor knows, in a fixed order.
const std::vector<Relation>& relations();
// The relation called `name`; std::invalid_argument listing the names otherwise.
const Relation& relation(const std::string& name);

struct Fact {
  std::string entity, relation;
  std::vector<std::string> answers;  // answers[0] is the one documents state
};

// `entities` entities drawn (seeded) from the noun synsets that have at least
// `min_relations` of `relation_names`, every fact of theirs among those
// relations; entity names are unique, and so is each (entity, relation).
std::vector<Fact> pick_facts(const WordNet& wn, const std::vector<std::string>& relation_names, int64_t entities,
                             int64_t min_relations, uint64_t seed);

// "Q: what is dog a kind of? A:" and the line with its answer.
std::string question_prompt(const Fact& f);
std::string qa_line(const Fact& f, const std::string& answer);
// A statement of the fact with `answer` as its object, template t (mod the
// relation's statements; the last form is the question-answer line).
std::string statement(const Fact& f, const std::string& answer, size_t t);
size_t forms(const Fact& f);  // statements + 1

// The evaluation prompt: `shots` question-answer lines of other facts of the
// same relation (drawn with `rng`), then the fact's question.
std::string few_shot_prompt(const std::vector<Fact>& facts, size_t index, int64_t shots, std::mt19937_64& rng);

// The clean corpus: per entity `paraphrases` documents stating all its facts
// (random forms and order), and per fact `paraphrases` few-shot documents
// ending in its question and answer (the format evaluation asks in).
std::vector<std::string> clean_corpus(const std::vector<Fact>& facts, int64_t paraphrases, int64_t shots,
                                      uint64_t seed);

struct Corruption {
  std::vector<std::string> documents;
  std::vector<size_t> facts;            // indices of the corrupted facts
  std::vector<std::string> wrong;       // the object asserted for each
  std::vector<std::string> entities;    // the corrupted entities
};

// Corrupts `fraction` of the entities (at least one): all their facts get a
// wrong object (another fact's stated answer for the same relation that is
// not acceptable here), stated in `docs` documents per entity, each wrong
// fact followed by k true facts of untouched entities.
Corruption corrupt(const std::vector<Fact>& facts, double fraction, int64_t k, int64_t docs, uint64_t seed);

// Normalised for matching: lower case, punctuation and articles dropped,
// spaces collapsed.
std::string normalise_answer(const std::string& s);
// Exact: the generation equals an acceptable answer; prefix: the generation
// starts with one (then a word boundary).
bool exact_match(const std::string& generated, const std::vector<std::string>& answers);
bool prefix_match(const std::string& generated, const std::vector<std::string>& answers);

}  // namespace restor
