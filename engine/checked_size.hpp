// Sizes and offsets read from files, with arithmetic that cannot wrap. Every
// reader of a file format (safetensors, .npy, idx, cache entries, images) checks
// a declared size with these before it allocates or indexes: a header that
// claims offsets near 2^64 must be refused, not wrapped into a small number.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace pipette {

// a + b and a * b, or nullopt when they do not fit in 64 bits.
inline std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) return std::nullopt;
  return r;
}
inline std::optional<uint64_t> checked_mul(uint64_t a, uint64_t b) {
  uint64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}
inline std::optional<int64_t> checked_mul(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) return std::nullopt;
  return r;
}

// The bytes of a tensor of this shape: nullopt for a negative size or when the
// product does not fit. Also refuses more than 2^62 bytes (no machine has them;
// a larger claim is a damaged or hostile header).
inline std::optional<uint64_t> checked_tensor_bytes(const std::vector<int64_t>& shape, uint64_t element_size) {
  uint64_t n = element_size;
  for (int64_t d : shape) {
    if (d < 0) return std::nullopt;
    auto m = checked_mul(n, static_cast<uint64_t>(d));
    if (!m) return std::nullopt;
    n = *m;
  }
  if (n > (uint64_t{1} << 62)) return std::nullopt;
  return n;
}

// Whether [offset, offset + length) lies inside [0, size).
inline bool checked_range_inside(uint64_t offset, uint64_t length, uint64_t size) {
  auto end = checked_add(offset, length);
  return end && *end <= size;
}

}  // namespace pipette
