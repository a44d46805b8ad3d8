// tune_malloc_for_tensors: blocks a chunked op frees come back from the heap,
// not from fresh mappings that must be page-faulted in again.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "engine/malloc_tuning.hpp"

namespace pipette {
namespace {

#ifdef __GLIBC__
TEST(MallocTuning, AFreedBlockOfSeveralMegabytesStaysInTheHeapForTheNextOne) {
  tune_malloc_for_tensors();
  constexpr size_t kBlock = 8u << 20;  // above glibc's default 128 KiB mmap threshold
  size_t mapped_before = mallinfo2().hblkhd;
  void* p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBlock);
  // Served from the heap, not a mapping of its own that free() would unmap.
  EXPECT_LT(mallinfo2().hblkhd, mapped_before + kBlock);
  std::free(p);
  // Freed but kept: free bytes in the heap cover it (the trim threshold is
  // far above 8 MiB), so the next block of that size faults nothing in.
  EXPECT_GE(mallinfo2().fordblks, kBlock);
  void* q = std::malloc(kBlock);
  ASSERT_NE(q, nullptr);
  EXPECT_LT(mallinfo2().hblkhd, mapped_before + kBlock);
  std::free(q);
}
#endif

}  // namespace
}  // namespace pipette
