// How the C library's allocator treats the tensors that ops free and allocate
// again, chunk after chunk. Process-wide, so the host calls it (pipette run,
// the benchmarks), never a library on its own.
#pragma once

#include "engine/api.hpp"

namespace pipette {

// Keeps freed blocks below 32 MiB in the heap for reuse instead of returning
// them to the system: glibc's defaults unmap (or trim) such blocks on free, so
// an op that allocates a few hundred kilobytes per chunk page-faulted its
// memory in again every chunk. Measured (bench/attribution, 2 cores):
// occlusion on a tiny MLP went from ~160 ms in most runs to 21 ms, IG on the
// Fashion-MNIST CNN from 1.47 s to 0.48 s. Larger blocks are still mapped and
// unmapped one by one, and free memory above 128 MiB at the heap's top is
// still returned. A no-op on C libraries other than glibc.
PIPETTE_API void tune_malloc_for_tensors();

}  // namespace pipette
