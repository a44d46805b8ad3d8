// PRIME's search at scale: thousands of tags x 100,000 images, with planted
// failure modes. Times pipette's bitset search (support and error-count
// pruning, up to 3 tags) and, for tag pairs, a dense peer in the same process
// and thread count: every pair's support and correct count from two LibTorch
// matrix products per class (T^T T and T^T diag(correct) T), the way one would
// write it in PyTorch. Both must find the same modes.
//
//   prime_bench [--samples N] [--tags T] [--threads K] [--max-tags M]
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>

#include "search.hpp"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

struct Data {
  at::Tensor tags, labels, correct;
};

// Tag densities log-uniform in [0.2 %, 30 %] (most tags of a real tagger are
// rare); 8 % of images wrong at random, and 80 % wrong in five planted groups
// (a class and a pair of common tags).
Data make_data(int64_t n, int64_t t, int64_t classes) {
  at::Generator gen = at::detail::createCPUGenerator(5);
  Data d;
  d.labels = at::randint(classes, {n}, gen, at::kLong);
  at::Tensor density = (at::rand({1, t}, gen, at::kDouble) * std::log(0.3 / 0.002)).exp() * 0.002;
  density.narrow(1, 0, 10).fill_(0.3);
  d.tags = at::rand({n, t}, gen, at::kFloat) < density.to(at::kFloat);
  at::Tensor p_wrong = at::full({n}, 0.08, at::kDouble);
  for (int64_t m = 0; m < 5; ++m) {
    at::Tensor in = d.labels.eq(m) & d.tags.select(1, 2 * m) & d.tags.select(1, 2 * m + 1);
    p_wrong = at::where(in, at::full_like(p_wrong, 0.8), p_wrong);
  }
  d.correct = at::rand({n}, gen, at::kDouble) >= p_wrong;
  return d;
}

using ModeKey = std::tuple<int64_t, int64_t, int64_t>;  // class, tag, tag (-1 for singles)

std::set<ModeKey> keys_of(const std::vector<prime::Mode>& modes) {
  std::set<ModeKey> out;
  for (const auto& m : modes) out.insert({m.cls, m.tags[0], m.tags.size() > 1 ? m.tags[1] : -1});
  return out;
}

// The dense peer for max_tags = 2: all pairs' counts at once, then the same rules.
std::set<ModeKey> dense_pairs(const Data& d, int64_t classes, const prime::SearchOptions& o) {
  std::set<ModeKey> out;
  for (int64_t c = 0; c < classes; ++c) {
    at::Tensor idx = d.labels.eq(c).nonzero().view(-1);
    at::Tensor t = d.tags.index_select(0, idx).to(at::kFloat);
    at::Tensor ok = d.correct.index_select(0, idx).to(at::kFloat);
    double n = static_cast<double>(idx.size(0)), class_acc = ok.sum().item<double>() / n;
    at::Tensor support = t.t().matmul(t).to(at::kDouble);
    at::Tensor right = t.t().matmul(t * ok.unsqueeze(1)).to(at::kDouble);
    at::Tensor acc = right / support.clamp_min(1);
    at::Tensor single = acc.diagonal();
    at::Tensor is_single = support.diagonal().ge(o.min_support) & (class_acc - single).ge(o.min_drop - 1e-12) &
                           (class_acc - single).ge(o.margin - 1e-12);
    at::Tensor pair = support.ge(o.min_support) & (class_acc - acc).ge(o.min_drop - 1e-12) &
                      (single.unsqueeze(0) - acc).ge(o.margin - 1e-12) &
                      (single.unsqueeze(1) - acc).ge(o.margin - 1e-12);
    pair = pair.triu(1);
    at::Tensor s = is_single.nonzero();
    for (int64_t i = 0; i < s.size(0); ++i) out.insert({c, s[i][0].item<int64_t>(), -1});
    at::Tensor p = pair.nonzero();
    for (int64_t i = 0; i < p.size(0); ++i) out.insert({c, p[i][0].item<int64_t>(), p[i][1].item<int64_t>()});
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t n = 100000, t = 2000, threads = 2, max_tags = 3, classes = 10;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int64_t v = std::atoll(argv[i + 1]);
    if (a == "--samples") n = v;
    else if (a == "--tags") t = v;
    else if (a == "--threads") threads = v;
    else if (a == "--max-tags") max_tags = v;
    else {
      std::fprintf(stderr, "usage: prime_bench [--samples N] [--tags T] [--threads K] [--max-tags M]\n");
      return 2;
    }
  }
  at::set_num_threads(static_cast<int>(threads));
  Data d = make_data(n, t, classes);
  std::printf("PRIME search: %lld images x %lld tags, %lld classes, %lld threads\n", (long long)n, (long long)t,
              (long long)classes, (long long)threads);
  prime::SearchOptions o;
  double pipette_pairs = 0;
  std::set<ModeKey> pairs_found;
  for (int64_t k = 1; k <= max_tags; ++k) {
    o.max_tags = static_cast<int>(k);
    double best = 1e9;
    prime::SearchStats stats;
    std::vector<prime::Mode> modes;
    for (int r = 0; r < (k < 3 ? 3 : 1); ++r) {
      auto start = std::chrono::steady_clock::now();
      modes = prime::search(d.tags, d.labels, d.correct, classes, o, &stats);
      best = std::min(best, seconds_since(start));
    }
    std::printf("  pipette max_tags=%lld: %8.3f s  %zu modes, %lld groups scored, %lld pruned (support), %lld pruned "
                "(errors)\n",
                (long long)k, best, modes.size(), (long long)stats.groups_scored, (long long)stats.pruned_support,
                (long long)stats.pruned_errors);
    if (k == 2) pipette_pairs = best, pairs_found = keys_of(modes);
  }
  if (max_tags >= 2) {
    o.max_tags = 2;
    double best = 1e9;
    std::set<ModeKey> dense;
    for (int r = 0; r < 3; ++r) {
      auto start = std::chrono::steady_clock::now();
      dense = dense_pairs(d, classes, o);
      best = std::min(best, seconds_since(start));
    }
    std::printf("  dense peer (matmul) max_tags=2: %8.3f s  %zu modes (%s)\n", best, dense.size(),
                dense == pairs_found ? "the same modes" : "DIFFERENT modes");
    std::printf("  ratio dense / pipette at max_tags=2: %.1fx\n", best / pipette_pairs);
    if (dense != pairs_found) return 1;
  }
  return 0;
}
