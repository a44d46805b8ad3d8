#include "search.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <mutex>

namespace prime {

namespace {

// One class's images as bitsets: for each tag the images that carry it, and the
// images the model got right, 64 images to a word. Every group the search
// scores is an AND of rows and two popcounts: no loop over images.
struct ClassBits {
  int64_t words = 0;
  int64_t tags = 0;
  std::vector<uint64_t> rows;     // [tags][words]
  std::vector<uint64_t> correct;  // [words]
  std::vector<uint64_t> all;      // [words]: every image of the class
  Group group;                    // the class itself
  const uint64_t* row(int64_t t) const { return rows.data() + t * words; }
};

// bool [n, k] -> k bitsets of ceil(n / 64) words, vectorised with LibTorch.
void pack(const at::Tensor& columns, int64_t words, uint64_t* out) {
  int64_t n = columns.size(0), k = columns.size(1);
  at::Tensor weights = at::bitwise_left_shift(at::ones({64}, at::kLong), at::arange(64, at::kLong));
  for (int64_t t0 = 0; t0 < k; t0 += 256) {  // bounded scratch: 256 tags at a time
    int64_t t1 = std::min(k, t0 + 256);
    at::Tensor bits = at::zeros({t1 - t0, words * 64}, at::kLong);
    bits.narrow(1, 0, n).copy_(columns.narrow(1, t0, t1 - t0).t());
    at::Tensor packed = (bits.view({t1 - t0, words, 64}) * weights).sum(-1).contiguous();
    std::memcpy(out + t0 * words, packed.data_ptr<int64_t>(), sizeof(uint64_t) * (t1 - t0) * words);
  }
}

ClassBits class_bits(const at::Tensor& tags, const at::Tensor& correct) {
  ClassBits b;
  int64_t n = tags.size(0);
  b.tags = tags.size(1);
  b.words = (n + 63) / 64;
  b.rows.resize(b.tags * b.words);
  b.correct.resize(b.words);
  b.all.assign(b.words, 0);
  if (n == 0) return b;
  pack(tags, b.words, b.rows.data());
  pack(correct.view({n, 1}), b.words, b.correct.data());
  pack(at::ones({n, 1}, at::kBool), b.words, b.all.data());
  b.group.support = n;
  b.group.correct = correct.sum().item<int64_t>();
  return b;
}

constexpr double kTie = 1e-12;  // thresholds are inclusive; this absorbs rounding

// Depth-first over tag sets in increasing tag order, Eclat style: a group's
// extensions only try the tags that survived as its siblings, since S + j + k
// is a subgroup of S + k, and a subgroup of a group with too few images or
// errors has too few as well.
class Worker {
 public:
  Worker(const ClassBits& b, const SearchOptions& o, int64_t cls) : b_(b), o_(o), cls_(cls) {
    double acc = b.group.accuracy();
    // A mode T has errors >= support(T) * (1 - acc + min_drop) >= min_support * (1 - acc + min_drop);
    // a group with fewer errors cannot be one, nor can any of its subgroups.
    min_errors_ = static_cast<int64_t>(std::ceil(o.min_support * (1.0 - acc + o.min_drop) - 1e-9));
    levels_.assign(o.max_tags + 1, std::vector<uint64_t>(b.words));
    nonzero_.assign(o.max_tags + 1, {});
    for (int64_t w = 0; w < b.words; ++w) nonzero_[0].push_back(static_cast<int32_t>(w));
    levels_[0] = b.all;
  }

  // Scores the single tags `candidates` (the class's images with each tag) and
  // returns those that can be extended.
  std::vector<int32_t> singles(const std::vector<int32_t>& candidates) { return score(0, candidates); }

  // Every tag set that starts with singles[i] and continues with later singles.
  void explore_from(const std::vector<int32_t>& singles, size_t i) {
    stack_.assign(1, singles[i]);
    descend(0, singles[i], std::vector<int32_t>(singles.begin() + static_cast<int64_t>(i) + 1, singles.end()));
    stack_.clear();
  }

  std::vector<Mode> modes;
  SearchStats stats;

 private:
  // Scores parent (levels_[depth]) & tag j for each candidate j; records the
  // modes and returns the candidates whose groups may have modes below them.
  std::vector<int32_t> score(int depth, const std::vector<int32_t>& candidates) {
    const std::vector<uint64_t>& parent = levels_[depth];
    const std::vector<int32_t>& nz = nonzero_[depth];
    std::vector<int32_t> survivors;
    for (int32_t j : candidates) {
      const uint64_t* row = b_.row(j);
      int64_t support = 0, correct = 0;
      for (int32_t w : nz) {
        uint64_t g = parent[w] & row[w];
        support += std::popcount(g);
        correct += std::popcount(g & b_.correct[w]);
      }
      if (support < o_.min_support) {
        ++stats.pruned_support;
        continue;
      }
      ++stats.groups_scored;
      if (support - correct < min_errors_) {
        ++stats.pruned_errors;
        continue;
      }
      stack_.push_back(j);
      Group g{support, correct};
      if (b_.group.accuracy() - g.accuracy() >= o_.min_drop - kTie && minimal(g)) {
        modes.push_back(Mode{cls_, std::vector<int64_t>(stack_.begin(), stack_.end()), g, b_.group});
      }
      stack_.pop_back();
      // A group the model gets entirely wrong has no minimal subgroup: removing
      // the tag added below it gives back a group at the same accuracy 0.
      if (correct > 0) survivors.push_back(j);
    }
    return survivors;
  }

  // Below the group stack_ (its last tag `last` at `depth`): narrows the bits,
  // scores the extensions and recurses into the survivors.
  void descend(int depth, int32_t last, const std::vector<int32_t>& candidates) {
    if (depth + 2 > o_.max_tags || candidates.empty()) return;
    const std::vector<uint64_t>& parent = levels_[depth];
    std::vector<uint64_t>& child = levels_[depth + 1];
    std::vector<int32_t>& child_nz = nonzero_[depth + 1];
    child_nz.clear();
    const uint64_t* row = b_.row(last);
    for (int32_t w : nonzero_[depth]) {
      child[w] = parent[w] & row[w];
      if (child[w]) child_nz.push_back(w);
    }
    std::vector<int32_t> next = score(depth + 1, candidates);
    for (size_t i = 0; i < next.size(); ++i) {
      stack_.push_back(next[i]);
      descend(depth + 1, next[i], std::vector<int32_t>(next.begin() + static_cast<int64_t>(i) + 1, next.end()));
      stack_.pop_back();
    }
  }

  // Whether removing any one tag of the current set raises the accuracy by margin.
  bool minimal(const Group& g) const {
    for (size_t drop = 0; drop < stack_.size(); ++drop) {
      Group rest = stack_.size() == 1 ? b_.group : Group{};
      if (stack_.size() > 1) {
        for (int64_t w = 0; w < b_.words; ++w) {
          uint64_t bits = ~uint64_t{0};
          for (size_t i = 0; i < stack_.size(); ++i)
            if (i != drop) bits &= b_.row(stack_[i])[w];
          rest.support += std::popcount(bits);
          rest.correct += std::popcount(bits & b_.correct[w]);
        }
      }
      if (rest.accuracy() - g.accuracy() < o_.margin - kTie) return false;
    }
    return true;
  }

  const ClassBits& b_;
  const SearchOptions& o_;
  int64_t cls_;
  int64_t min_errors_ = 0;
  std::vector<std::vector<uint64_t>> levels_;
  std::vector<std::vector<int32_t>> nonzero_;
  std::vector<int32_t> stack_;
};

void search_class(const ClassBits& b, const SearchOptions& o, int64_t cls, std::vector<Mode>& out,
                  SearchStats& stats) {
  std::vector<int32_t> all(b.tags);
  for (int64_t j = 0; j < b.tags; ++j) all[j] = static_cast<int32_t>(j);
  Worker first(b, o, cls);
  std::vector<int32_t> singles = first.singles(all);
  std::mutex mu;
  auto merge = [&](Worker& w) {
    std::lock_guard<std::mutex> lock(mu);
    out.insert(out.end(), w.modes.begin(), w.modes.end());
    stats.groups_scored += w.stats.groups_scored;
    stats.pruned_support += w.stats.pruned_support;
    stats.pruned_errors += w.stats.pruned_errors;
  };
  merge(first);
  std::atomic<size_t> next{0};
  // Work is handed out one first tag at a time: the sets under the first tags
  // far outnumber those under the last, so fixed ranges would leave threads idle.
  int64_t threads = std::min<int64_t>(at::get_num_threads(), static_cast<int64_t>(singles.size()));
  at::parallel_for(0, std::max<int64_t>(threads, 1), 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      Worker worker(b, o, cls);
      for (size_t i = next++; i < singles.size(); i = next++) worker.explore_from(singles, i);
      merge(worker);
    }
  });
}

at::Tensor class_mask(const at::Tensor& labels, int64_t cls) {
  return cls < 0 ? at::ones({labels.size(0)}, at::kBool) : labels.eq(cls);
}

}  // namespace

std::vector<Mode> search(const at::Tensor& tags, const at::Tensor& labels, const at::Tensor& correct,
                         int64_t classes, const SearchOptions& o, SearchStats* stats) {
  at::Tensor t = tags.to(at::kCPU, at::kBool).contiguous();
  at::Tensor y = labels.to(at::kCPU, at::kLong);
  at::Tensor ok = correct.to(at::kCPU, at::kBool);
  SearchStats local;
  std::vector<Mode> modes;
  for (int64_t c = o.per_class ? 0 : -1; c < (o.per_class ? classes : 0); ++c) {
    at::Tensor idx = class_mask(y, c).nonzero().view(-1);
    at::Tensor ok_c = ok.index_select(0, idx);
    int64_t errors = idx.size(0) - ok_c.sum().item<int64_t>();
    if (idx.size(0) == 0 || errors == 0) {
      ++local.classes_skipped;
      continue;
    }
    ClassBits b = class_bits(t.index_select(0, idx), ok_c);
    search_class(b, o, c, modes, local);
  }
  std::sort(modes.begin(), modes.end(), [](const Mode& a, const Mode& b) {
    if (a.cls != b.cls) return a.cls < b.cls;
    if (std::abs(a.drop() - b.drop()) > kTie) return a.drop() > b.drop();
    if (a.group.support != b.group.support) return a.group.support > b.group.support;
    return a.tags < b.tags;
  });
  if (stats) *stats = local;
  return modes;
}

at::Tensor members(const at::Tensor& tags, const at::Tensor& labels, int64_t cls, const std::vector<int64_t>& tag_set) {
  at::Tensor in = class_mask(labels.to(at::kCPU, at::kLong), cls);
  at::Tensor t = tags.to(at::kCPU, at::kBool);
  for (int64_t j : tag_set) in = in.logical_and(t.select(1, j));
  return in;
}

Group measure(const at::Tensor& tags, const at::Tensor& labels, const at::Tensor& correct, int64_t cls,
              const std::vector<int64_t>& tag_set) {
  at::Tensor in = members(tags, labels, cls, tag_set);
  return Group{in.sum().item<int64_t>(), in.logical_and(correct.to(at::kCPU, at::kBool)).sum().item<int64_t>()};
}

}  // namespace prime
