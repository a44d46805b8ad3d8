// The one chunked loop of the SDK: work over [0, total) items (examples,
// images, path points, perturbations) in chunks sized to the op's memory
// budget, stopping when the run is cancelled and reporting progress. Every op
// that loops over batches — built-in or plugin — goes through here.
#pragma once

#include "engine/api.hpp"

#include <ATen/ATen.h>

#include <cstdint>
#include <functional>

#include "engine/op_impl.hpp"

namespace pipette {

// How many items to evaluate at once so that the working set stays under the
// op's memory budget (and, on a CPU, the last-level cache): `bytes_per_item`
// is the caller's estimate for one item, `total` caps the result. At least 1.
PIPETTE_API int64_t items_per_chunk(const OpContext& ctx, int64_t bytes_per_item, int64_t total);

// Whether for_chunks reports its progress: an op whose chunks report finer
// progress of their own (a diffusion sampler's steps) says Quiet.
enum class ChunkProgress { Report, Quiet };

// fn(begin, end) for consecutive chunks of at most `per_chunk` items; an
// OpError("cancelled") before a chunk once the run is cancelled.
PIPETTE_API void for_chunks(OpContext& ctx, int64_t total, int64_t per_chunk,
                            const std::function<void(int64_t begin, int64_t end)>& fn,
                            ChunkProgress progress = ChunkProgress::Report);

// fn(chunk, begin) over chunks of `x` along its first dimension, the results
// concatenated along theirs.
PIPETTE_API at::Tensor map_chunks(OpContext& ctx, const at::Tensor& x, int64_t per_chunk,
                                  const std::function<at::Tensor(const at::Tensor& chunk, int64_t begin)>& fn,
                                  ChunkProgress progress = ChunkProgress::Report);

}  // namespace pipette
