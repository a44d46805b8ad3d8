#include "engine/malloc_tuning.hpp"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace pipette {

void tune_malloc_for_tensors() {
#ifdef __GLIBC__
  // 32 MiB is the ceiling glibc's own adaptive threshold would climb to; setting
  // it fixes the threshold there from the first allocation. The trim threshold
  // must be above it, or each freed block at the heap's top is trimmed again.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 128 << 20);
#endif
}

}  // namespace pipette
