// PRIME's search on small hand-made tables, and against a brute-force reading
// of the definition on random ones.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <functional>

#include "blocks.hpp"
#include "search.hpp"

namespace prime {
namespace {

std::vector<Mode> run(const Table& t, SearchOptions o = {}, SearchStats* s = nullptr) {
  return search(t.tags, t.labels, t.correct, t.classes, o, s);
}

std::vector<std::vector<int64_t>> tag_sets(const std::vector<Mode>& modes) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& m : modes) out.push_back(m.tags);
  return out;
}

// Class 0: 400 images; accuracy on a and b alone stays high, on a & b it collapses.
std::vector<Block> pair_blocks() {
  return {
      {0, "110", 40, 4},    // a & b: 10 % right
      {0, "111", 20, 2},    // a & b & c: 10 % right
      {0, "100", 100, 95},  // a only
      {0, "010", 100, 95},  // b only
      {0, "001", 60, 57},
      {0, "000", 80, 76},
  };
}

TEST(PrimeSearch, FindsTheMinimalPairAndNeitherItsTagsAloneNorItsSupersets) {
  Table t = table(pair_blocks());
  std::vector<Mode> modes = run(t);
  ASSERT_EQ(modes.size(), 1u);
  EXPECT_EQ(modes[0].cls, 0);
  EXPECT_EQ(modes[0].tags, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(modes[0].group.support, 60);
  EXPECT_EQ(modes[0].group.correct, 6);
  EXPECT_EQ(modes[0].of_class.support, 400);
  EXPECT_EQ(modes[0].of_class.correct, 4 + 2 + 95 + 95 + 57 + 76);
  EXPECT_NEAR(modes[0].drop(), 329.0 / 400 - 0.1, 1e-12);
}

TEST(PrimeSearch, ASupersetMustLowerAccuracyByTheMarginToCount) {
  // a & b & c at 0 % is a mode of its own only when each of its pairs is at
  // least `margin` more accurate.
  std::vector<Block> b = {
      {0, "110", 40, 12},   // a & b (without c): 30 % right
      {0, "111", 40, 0},    // a & b & c: 0 %
      {0, "100", 100, 95}, {0, "010", 100, 95}, {0, "101", 100, 95}, {0, "011", 100, 95}, {0, "001", 100, 95},
      {0, "000", 100, 95},
  };
  Table t = table(b);
  SearchOptions o;
  o.min_drop = 0.5;
  // a & b: 12/80 = 15 %; a & b & c: 0 %, and each of its pairs is at least 15 %: all three tags needed.
  std::vector<Mode> modes = run(t, o);
  ASSERT_FALSE(modes.empty());
  EXPECT_EQ(modes[0].tags, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(tag_sets(modes), (std::vector<std::vector<int64_t>>{{0, 1, 2}, {0, 1}}));
  o.margin = 0.2;  // a & b & c is only 15 points below a & b
  EXPECT_EQ(tag_sets(run(t, o)), (std::vector<std::vector<int64_t>>{{0, 1}}));
}

TEST(PrimeSearch, SupportPruningSkipsSmallGroupsAndEverySupersetOfThem) {
  Table t = table({{0, "11", 29, 0}, {0, "10", 100, 95}, {0, "01", 100, 95}, {0, "00", 100, 95}});
  SearchStats s;
  EXPECT_TRUE(run(t, {}, &s).empty());  // a & b has 29 < 30 images
  EXPECT_EQ(s.groups_scored, 2);        // a and b; a & b pruned
  EXPECT_EQ(s.pruned_support, 1);
  SearchOptions o;
  o.min_support = 29;
  EXPECT_EQ(tag_sets(run(t, o)), (std::vector<std::vector<int64_t>>{{0, 1}}));
}

TEST(PrimeSearch, ThresholdsAreInclusiveAndDuplicateTagsComeOutInTagOrder) {
  // Tags 0 and 1 are the same column: both are modes with equal figures, in tag
  // order; together they are not (removing either changes nothing).
  Table t = table({{0, "11", 50, 10}, {0, "00", 150, 150}});
  SearchOptions o;
  o.min_drop = 0.8 - 0.2;  // class 160/200 = 0.8, group 0.2: a drop of exactly 0.6
  o.margin = 0.6;
  std::vector<Mode> modes = run(t, o);
  EXPECT_EQ(tag_sets(modes), (std::vector<std::vector<int64_t>>{{0}, {1}}));
  EXPECT_EQ(modes[0].group.support, modes[1].group.support);
  o.min_drop = 0.6000001;
  EXPECT_TRUE(run(t, o).empty());
}

TEST(PrimeSearch, ClassesWithoutErrorsOrImagesAreSkipped) {
  Table t = table({{0, "1", 100, 100}, {0, "0", 100, 100}, {2, "1", 50, 5}, {2, "0", 150, 150}});
  SearchStats s;
  std::vector<Mode> modes = run(t, {}, &s);
  EXPECT_EQ(s.classes_skipped, 2);  // class 0 has no errors, class 1 no images
  ASSERT_EQ(modes.size(), 1u);
  EXPECT_EQ(modes[0].cls, 2);
  Table perfect = table({{0, "1", 100, 100}, {0, "0", 100, 100}});
  EXPECT_TRUE(run(perfect).empty());
}

TEST(PrimeSearch, MaxTagsBoundsTheSetsSearched) {
  // Only all three tags together fail; every pair is as good as the class.
  std::vector<Block> b = {{0, "111", 60, 0}};
  for (const char* tags : {"110", "101", "011", "100", "010", "001", "000"}) b.push_back({0, tags, 100, 95});
  Table t = table(b);
  SearchOptions o;
  EXPECT_EQ(tag_sets(run(t, o)), (std::vector<std::vector<int64_t>>{{0, 1, 2}}));
  o.max_tags = 2;
  EXPECT_TRUE(run(t, o).empty());
  o.max_tags = 1;
  EXPECT_TRUE(run(t, o).empty());
}

TEST(PrimeSearch, AcrossClassesComparesWithOverallAccuracy) {
  Table t = table({{0, "1", 50, 5}, {0, "0", 150, 150}, {1, "1", 50, 5}, {1, "0", 150, 150}});
  SearchOptions o;
  o.per_class = false;
  std::vector<Mode> modes = run(t, o);
  ASSERT_EQ(modes.size(), 1u);
  EXPECT_EQ(modes[0].cls, -1);
  EXPECT_EQ(modes[0].group.support, 100);
  EXPECT_EQ(modes[0].of_class.support, 400);
}

TEST(PrimeSearch, MeasureAndMembersAgreeWithTheTable) {
  Table t = table(pair_blocks());
  Group g = measure(t.tags, t.labels, t.correct, 0, {0, 1});
  EXPECT_EQ(g.support, 60);
  EXPECT_EQ(g.correct, 6);
  EXPECT_EQ(members(t.tags, t.labels, 0, {0, 1}).sum().item<int64_t>(), 60);
  EXPECT_EQ(members(t.tags, t.labels, 1, {0}).sum().item<int64_t>(), 0);
  EXPECT_EQ(measure(t.tags, t.labels, t.correct, -1, {}).support, 400);
}

// The definition read literally: every tag set up to max_tags, measured alone.
std::vector<std::vector<int64_t>> brute_force(const Table& t, const SearchOptions& o, int64_t cls) {
  std::vector<std::vector<int64_t>> out;
  int64_t n_tags = t.tags.size(1);
  Group whole = measure(t.tags, t.labels, t.correct, cls, {});
  std::vector<int64_t> set;
  std::function<void(int64_t)> rec = [&](int64_t from) {
    for (int64_t j = from; j < n_tags; ++j) {
      set.push_back(j);
      Group g = measure(t.tags, t.labels, t.correct, cls, set);
      bool mode = g.support >= o.min_support && whole.accuracy() - g.accuracy() >= o.min_drop - 1e-12;
      for (size_t k = 0; mode && k < set.size(); ++k) {
        std::vector<int64_t> rest = set;
        rest.erase(rest.begin() + static_cast<int64_t>(k));
        mode = measure(t.tags, t.labels, t.correct, cls, rest).accuracy() - g.accuracy() >= o.margin - 1e-12;
      }
      if (mode) out.push_back(set);
      if (static_cast<int>(set.size()) < o.max_tags) rec(j + 1);
      set.pop_back();
    }
  };
  if (whole.support) rec(0);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(PrimeSearch, AgreesWithBruteForceOnRandomTables) {
  at::Generator gen = at::detail::createCPUGenerator(7);
  int64_t total = 0;
  for (int trial = 0; trial < 12; ++trial) {
    int64_t n = 600 + 150 * trial, n_tags = 9, classes = 3;
    Table t;
    t.classes = classes;
    t.labels = at::randint(classes, {n}, gen, at::kLong);
    at::Tensor density = at::rand({1, n_tags}, gen, at::kDouble) * 0.5 + 0.2;
    t.tags = at::rand({n, n_tags}, gen, at::kDouble) < density;
    // Errors more likely where tags 1 and 3 (and, in class 2, tags 0, 4 and 5) meet.
    at::Tensor p_wrong = at::full({n}, 0.1, at::kDouble);
    p_wrong += 0.5 * (t.tags.select(1, 1) & t.tags.select(1, 3)).to(at::kDouble);
    p_wrong += 0.4 * (t.labels.eq(2) & t.tags.select(1, 0) & t.tags.select(1, 4) & t.tags.select(1, 5)).to(at::kDouble);
    t.correct = at::rand({n}, gen, at::kDouble) >= p_wrong;
    SearchOptions o;
    o.min_support = 10 + trial;
    o.min_drop = 0.15 + 0.02 * trial;
    o.margin = 0.05;
    o.max_tags = 1 + trial % 4;
    o.per_class = trial % 3 != 2;
    std::vector<std::vector<int64_t>> want;
    for (int64_t c = o.per_class ? 0 : -1; c < (o.per_class ? classes : 0); ++c) {
      auto part = brute_force(t, o, c);
      want.insert(want.end(), part.begin(), part.end());
    }
    std::vector<Mode> got = run(t, o);
    std::vector<std::vector<int64_t>> have;
    for (int64_t c = o.per_class ? 0 : -1; c < (o.per_class ? classes : 0); ++c) {
      std::vector<std::vector<int64_t>> part;
      for (const auto& m : got)
        if (m.cls == c) part.push_back(m.tags);
      std::sort(part.begin(), part.end());
      have.insert(have.end(), part.begin(), part.end());
    }
    EXPECT_EQ(have, want) << "trial " << trial;
    total += static_cast<int64_t>(want.size());
  }
  EXPECT_GE(total, 12);  // the planted structure is there to be found
}

}  // namespace
}  // namespace prime
