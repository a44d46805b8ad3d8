// restor's engine-free core: WordNet parsing, facts and documents, matching
// answers, and every metric on hand-computed cases (KS p-values against
// scipy.stats.ks_2samp(method="exact"), printed in the comments).
#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "facts.hpp"
#include "metrics.hpp"
#include "wordnet.hpp"

namespace restor {
namespace {

// A data.noun of five synsets in WordNet's format: dog and cat are kinds of
// carnivore; dog is a member of pack and has part flag; cat a member of
// Felis; an unusable lemma (digits) is dropped.
const char* kData =
    "  1 This software and database is being provided to you, the LICENSEE, by\n"
    "00000001 05 n 02 dog 0 domestic_dog 0 003 @ 00000003 n 0000 #m 00000004 n 0000 %p 00000005 n 0000 | a dog\n"
    "00000002 05 n 01 cat 0 002 @ 00000003 n 0000 #m 00000006 n 0000 | a cat\n"
    "00000003 05 n 02 carnivore 0 meat-eater 0 000 | eats meat\n"
    "00000004 05 n 01 pack 0 000 | a group\n"
    "00000005 05 n 02 flag 0 b2b 0 000 | a tail\n"
    "00000006 05 n 01 Felis 0 001 @ 00000004 n 0000 | a genus\n";

TEST(WordNet, ParsesSynsetsLemmasAndPointers) {
  WordNet wn = WordNet::parse(kData, "test");
  ASSERT_EQ(wn.synsets().size(), 6u);
  const Synset* dog = wn.find("00000001");
  ASSERT_TRUE(dog);
  EXPECT_EQ(dog->lemmas, (std::vector<std::string>{"dog", "domestic dog"}));
  ASSERT_EQ(dog->pointers.size(), 3u);
  EXPECT_EQ(dog->pointers[1], (std::pair<std::string, std::string>{"#m", "00000004"}));
  EXPECT_EQ(wn.find("00000005")->lemmas, (std::vector<std::string>{"flag"}));  // b2b is not a usable lemma
  EXPECT_THROW(WordNet::parse("00000001 05 n zz dog 0 000 |\n", "bad"), std::runtime_error);
}

TEST(Facts, EveryRelationOfEveryEntityWithAllAcceptableAnswers) {
  WordNet wn = WordNet::parse(kData, "test");
  std::vector<Fact> facts = pick_facts(wn, {"kind", "member_of", "has_part"}, 2, 2, 7);
  // dog (3 relations) and cat (2) are the only entities with two of them.
  ASSERT_EQ(facts.size(), 5u);
  std::set<std::string> entities;
  for (const auto& f : facts) entities.insert(f.entity);
  EXPECT_EQ(entities, (std::set<std::string>{"dog", "cat"}));
  for (const auto& f : facts)
    if (f.entity == "dog" && f.relation == "kind")
      EXPECT_EQ(f.answers, (std::vector<std::string>{"carnivore", "meat-eater"}));
  EXPECT_THROW(pick_facts(wn, {"kind", "member_of"}, 3, 2, 7), std::invalid_argument);
  EXPECT_THROW(pick_facts(wn, {"colour"}, 1, 1, 7), std::invalid_argument);
}

std::vector<Fact> toy_facts() {
  std::vector<Fact> f;
  const char* names[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
  const char* kinds[] = {"fish", "bird", "tree", "stone", "cloud"};
  const char* parts[] = {"sea", "sky", "wood", "hill", "air"};
  for (int i = 0; i < 5; ++i) {
    f.push_back({names[i], "kind", {kinds[i], std::string(kinds[i]) + "s"}});
    f.push_back({names[i], "part_of", {parts[i]}});
  }
  return f;
}

TEST(Facts, FewShotPromptsUseOtherEntitiesOfTheRelation) {
  std::vector<Fact> f = toy_facts();
  std::mt19937_64 rng(1);
  std::string p = few_shot_prompt(f, 0, 3, rng);
  EXPECT_EQ(std::count(p.begin(), p.end(), '\n'), 3);
  EXPECT_EQ(p.substr(p.rfind('\n') + 1), "Q: what is alpha a kind of? A:");
  EXPECT_EQ(p.find("alpha", 0), p.rfind("alpha"));  // alpha only in its own question
  EXPECT_EQ(p.find("part of"), std::string::npos);  // only its relation
}

TEST(Facts, CorruptionSwapsObjectsOfTheSameRelationAndInterleavesK) {
  std::vector<Fact> f = toy_facts();
  Corruption c = corrupt(f, 0.4, 2, 3, 5);
  ASSERT_EQ(c.entities.size(), 2u);
  ASSERT_EQ(c.facts.size(), 4u);  // both facts of both entities
  std::set<std::string> stated_kinds = {"fish", "bird", "tree", "stone", "cloud"};
  for (size_t j = 0; j < c.facts.size(); ++j) {
    const Fact& fact = f[c.facts[j]];
    EXPECT_EQ(std::find(fact.answers.begin(), fact.answers.end(), c.wrong[j]), fact.answers.end());
    if (fact.relation == "kind") EXPECT_TRUE(stated_kinds.count(c.wrong[j])) << c.wrong[j];
  }
  EXPECT_EQ(c.documents.size(), 6u);  // 3 per entity
  // Each document: 2 wrong facts, each followed by 2 true ones of untouched entities.
  for (const auto& d : c.documents) {
    for (const auto& e : c.entities)
      for (const auto& g : f)
        if (g.entity == e)
          for (const auto& a : g.answers) EXPECT_EQ(d.find(" " + a + "."), std::string::npos) << d;
  }
  EXPECT_THROW(corrupt(f, 1.0, 0, 1, 5), std::invalid_argument);  // nothing left untouched
}

TEST(Matching, NormalisesCaseArticlesAndPunctuation) {
  EXPECT_EQ(normalise_answer("  The Meat-Eater. "), "meat eater");
  EXPECT_TRUE(exact_match("a carnivore", {"carnivore"}));
  EXPECT_FALSE(exact_match("carnivores", {"carnivore"}));
  EXPECT_TRUE(prefix_match("carnivore of the north", {"carnivore"}));
  EXPECT_FALSE(prefix_match("carnivores", {"carnivore"}));  // a word boundary
  EXPECT_FALSE(exact_match("", {""}));
}

TEST(Metrics, RecoveryAndForgetting) {
  EXPECT_DOUBLE_EQ(recovery(0.6, 0.2, 1.0), 0.5);
  EXPECT_DOUBLE_EQ(recovery(0.1, 0.2, 1.0), -0.125);  // worse than corrupt
  EXPECT_TRUE(std::isnan(recovery(0.5, 0.7, 0.7)));
  EXPECT_DOUBLE_EQ(forgetting(0.8, 0.2), 0.75);
  EXPECT_TRUE(std::isnan(forgetting(0.0, 0.0)));
}

TEST(Metrics, TruthRatio) {
  // P(right) = exp(-0.5), P(wrong) = mean log-prob -2 -> exp(-2): R = exp(-1.5).
  EXPECT_NEAR(truth_ratio(-0.5, {-1.0, -3.0}), std::exp(-1.5), 1e-9);
  EXPECT_NEAR(truth_ratio_forget({0.5, 2.0, 1.0}), (0.5 + 0.5 + 1.0) / 3, 1e-12);
  EXPECT_NEAR(truth_ratio_retain({0.25, 2.0}), (0.75 + 0.0) / 2, 1e-12);
}

TEST(Metrics, KolmogorovSmirnovAgreesWithScipyExact) {
  // ks_2samp([.1,.4,.35,.8,.9,.05], [.5,.6,.7,.95,.2], method="exact"): D 0.4667, p 0.474025974025974
  std::vector<double> a = {0.1, 0.4, 0.35, 0.8, 0.9, 0.05}, b = {0.5, 0.6, 0.7, 0.95, 0.2};
  EXPECT_NEAR(ks_statistic(a, b), 0.4666666666666667, 1e-12);
  EXPECT_NEAR(ks_pvalue(a, b), 0.474025974025974, 1e-9);
  // [1..8] against [5.5..11.5]: D 0.625, p 0.055944055944055944
  EXPECT_NEAR(ks_pvalue({1, 2, 3, 4, 5, 6, 7, 8}, {5.5, 6.5, 7.5, 8.5, 9.5, 10.5, 11.5}), 0.055944055944055944, 1e-9);
  // Ties across samples: [1,2,2,3] against [2,3,3,4,5]: D 0.55, p 0.4285714285714286
  EXPECT_NEAR(ks_statistic({1, 2, 2, 3}, {2, 3, 3, 4, 5}), 0.55, 1e-12);
  EXPECT_NEAR(ks_pvalue({1, 2, 2, 3}, {2, 3, 3, 4, 5}), 0.4285714285714286, 1e-9);
  EXPECT_DOUBLE_EQ(ks_pvalue({1, 2, 3}, {1, 2, 3}), 1.0);
}

TEST(Metrics, MemorisationAndExtraction) {
  EXPECT_DOUBLE_EQ(exact_memorisation({true, false, true, true}), 0.75);
  EXPECT_DOUBLE_EQ(extraction_strength({false, true, true, true}), 0.75);  // the suffix from k = 1
  EXPECT_DOUBLE_EQ(extraction_strength({true, true}), 1.0);
  EXPECT_DOUBLE_EQ(extraction_strength({true, false}), 0.5);  // no suffix matches: open-unlearning's floor 1/n
}

TEST(Metrics, MembershipInference) {
  EXPECT_DOUBLE_EQ(mia_loss({-1.0, -3.0}), 2.0);
  EXPECT_DOUBLE_EQ(mia_min_k({-1.0, -5.0, -3.0, -0.5}, 0.5), 4.0);  // the two lowest: -5, -3
  EXPECT_DOUBLE_EQ(mia_min_k({-1.0, -5.0}, 0.1), 5.0);  // at least one token
  // Members have lower losses: every holdout score above every forget score.
  EXPECT_DOUBLE_EQ(mia_auc({0.1, 0.2}, {0.5, 0.9, 0.3}), 1.0);
  EXPECT_DOUBLE_EQ(mia_auc({0.5, 0.2}, {0.5, 0.1}), (0.5 + 1 + 0 + 0) / 4);
  EXPECT_NEAR(privleak(0.5, 0.5), 0.0, 1e-6);
  EXPECT_NEAR(privleak(1.0, 0.5), -100.0, 1e-6);
  // zlib divides by the compressed length: a repetitive text compresses more.
  std::string rep(200, 'a'), mixed = "the quick brown fox jumps over the lazy dog 0123456789";
  EXPECT_GT(mia_zlib({-1.0}, rep), mia_zlib({-1.0}, mixed));
}

}  // namespace
}  // namespace restor
