// Best times of several variants, run in turns (one of each per round), so
// that drift in the machine's speed during a run affects them alike. Each
// variant runs twice first: the graph executor profiles and optimises.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace pipette::bench {

inline std::vector<double> best_interleaved(int repeats, const std::vector<std::function<void()>>& fs) {
  for (const auto& f : fs) f(), f();
  std::vector<double> b(fs.size(), 1e30);
  for (int i = 0; i < repeats; ++i)
    for (size_t k = 0; k < fs.size(); ++k) {
      auto t0 = std::chrono::steady_clock::now();
      fs[k]();
      b[k] = std::min(b[k], std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
  return b;
}

}  // namespace pipette::bench
