// When pipette makes LibTorch's OpenMP threads sleep instead of spin while
// idle (openmp_policy.cpp says why). The one rule: `pipette run` applies it
// before it loads LibTorch, and the benchmarks re-execute themselves with it,
// so that they measure what `pipette run` does.
#pragma once

namespace pipette::cli {

// Whether OMP_WAIT_POLICY=PASSIVE should be set for this many intra-op
// threads: more than one, and the user set neither OMP_WAIT_POLICY nor
// GOMP_SPINCOUNT.
bool passive_openmp_wanted(int intra_threads);

// Sets OMP_WAIT_POLICY=PASSIVE when a run with `jobs` concurrent nodes would
// use several intra-op threads (as engine/executor.cpp divides the cores) and
// passive_openmp_wanted says so. Only effective before libgomp is loaded.
void prefer_passive_openmp(int jobs);

}  // namespace pipette::cli
