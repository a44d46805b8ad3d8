// OpenMP threads that sleep when idle, for runs with more than one intra-op
// thread. LibTorch's intra-op pool is libgomp's, whose idle threads spin by
// default (OMP_WAIT_POLICY unset: GOMP_SPINCOUNT 300000); between a training
// step's many small ops the spinning threads take the cores from the thread
// with work. On this project's 2-core machines `pipette run --jobs 1` (two
// intra-op threads) trained train.lm 3x slower (17.0 s against 6.1 s for 42
// steps, bench/lm/run.sh) and a text-to-image model 2.7x. libgomp reads its
// environment once, in its constructor, when it is loaded. The front end does
// not link LibTorch (runtime_commands.hpp): libgomp is loaded with the runtime
// module, so setting the variable before that is enough — no re-execution.
// Only when the run would use several intra-op threads (one thread has no
// pool to spin). A user's own setting is kept.
#include <algorithm>
#include <cstdlib>
#include <thread>

#include "cli/openmp_policy.hpp"

namespace pipette::cli {

bool passive_openmp_wanted(int intra_threads) {
  return intra_threads > 1 && !std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT");
}

void prefer_passive_openmp(int jobs) {
  int hw = std::max(1u, std::thread::hardware_concurrency());
  int intra = std::max(1, hw / (jobs > 0 ? jobs : hw));  // as engine/executor.cpp divides the cores
  if (passive_openmp_wanted(intra)) setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
}

}  // namespace pipette::cli
