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

  // Every tag set whose smallest tag is `first`.
  void explore_from(int64_t first) { visit(0, first, first + 1); }

  std::vector<Mode> modes;
  SearchStats stats;

 private:
  // Scores parent & tag j for j in [begin, end), recursing into the groups that survive.
  void visit(int depth, int64_t begin, int64_t end) {
    const std::vector<uint64_t>& parent = levels_[depth];
    const std::vector<int32_t>& nz = nonzero_[depth];
    for (int64_t j = begin; j < end; ++j) {
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
        modes.push_back(Mode{cls_, stack_, g, b_.group});
      }
      // A group the model gets entirely wrong has no minimal superset: removing
      // the added tag gives back this group, at the same accuracy 0.
      if (depth + 1 < o_.max_tags && correct > 0) {
        std::vector<uint64_t>& child = levels_[depth + 1];
        std::vector<int32_t>& child_nz = nonzero_[depth + 1];
        child_nz.clear();
        for (int32_t w : nz) {
          child[w] = parent[w] & row[w];
          if (child[w]) child_nz.push_back(w);
        }
        visit(depth + 1, j + 1, b_.tags);
      }
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
  std::vector<int64_t> stack_;
};

void search_class(const ClassBits& b, const SearchOptions& o, int64_t cls, std::vector<Mode>& out,
                  SearchStats& stats) {
  std::mutex mu;
  std::atomic<int64_t> next{0};
  // Work is handed out one first tag at a time: the sets under tag 0 far
  // outnumber those under the last tag, so fixed ranges would leave threads idle.
  int64_t threads = std::min<int64_t>(at::get_num_threads(), b.tags);
  at::parallel_for(0, std::max<int64_t>(threads, 1), 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) {
      Worker worker(b, o, cls);
      for (int64_t first = next++; first < b.tags; first = next++) worker.explore_from(first);
      std::lock_guard<std::mutex> lock(mu);
      out.insert(out.end(), worker.modes.begin(), worker.modes.end());
      stats.groups_scored += worker.stats.groups_scored;
      stats.pruned_support += worker.stats.pruned_support;
      stats.pruned_errors += worker.stats.pruned_errors;
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
