// OpenMP threads that sleep when idle, for runs with more than one intra-op
// thread. LibTorch's intra-op pool is libgomp's, whose idle threads spin by
// default (OMP_WAIT_POLICY unset: GOMP_SPINCOUNT 300000); between a training
// step's many small ops the spinning threads take the cores from the thread
// with work. On this project's 2-core machines `pipette run --jobs 1` (two
// intra-op threads) trained train.lm 3x slower (17.0 s against 6.1 s for 42
// steps, bench/lm/run.sh) and a text-to-image model 2.7x. libgomp reads its
// environment once, in its constructor, before main(); a variable set later
// (or from .preinit_array, which glibc's start-up then replaces with the
// original environment) is never seen. So the run re-executes itself once
// with OMP_WAIT_POLICY=PASSIVE, and only when it would use several intra-op
// threads (one thread has no pool to spin, and a re-exec costs a second
// start-up of LibTorch, about 0.5 s). A user's own setting is kept.
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "commands.hpp"

namespace pipette::cli {

void relaunch_with_passive_openmp(int jobs, char** argv) {
  int hw = std::max(1u, std::thread::hardware_concurrency());
  int intra = std::max(1, hw / (jobs > 0 ? jobs : hw));  // as engine/executor.cpp divides the cores
  if (intra <= 1 || std::getenv("OMP_WAIT_POLICY") || std::getenv("GOMP_SPINCOUNT")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  execv("/proc/self/exe", argv);  // returns only on failure: then run as we are
}

}  // namespace pipette::cli
