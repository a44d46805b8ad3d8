#include "cli/run_options.hpp"

#include <torch/cuda.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>

#include "engine/op_impl.hpp"

namespace pipette::cli {

// "512M", "2G", "1.5G", "800000": bytes. An error message when malformed,
// not finite, or beyond any machine (more than 2^50 bytes, a pebibyte).
std::variant<uint64_t, std::string> parse_bytes(const std::string& text) {
  std::string usage = "--memory-budget expects a size such as 512M or 2G, got '";
  usage += excerpt(text);
  usage += "'";
  if (text.empty()) return usage;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || !std::isfinite(v) || v <= 0) return usage;
  std::string unit(end);
  double mul = unit.empty() || unit == "B" ? 1
               : unit == "K" || unit == "KiB" ? 1024.0
               : unit == "M" || unit == "MiB" ? 1048576.0
               : unit == "G" || unit == "GiB" ? 1073741824.0
               : unit == "T" || unit == "TiB" ? 1099511627776.0
                                              : -1;
  if (mul < 0) return usage;
  double bytes = v * mul;
  if (!(bytes < 1125899906842624.0)) {
    std::string big = "--memory-budget ";
    big += excerpt(text);
    big += " is more than a pebibyte; no machine has that";
    return big;
  }
  if (bytes < 1) return usage;
  return static_cast<uint64_t>(bytes);
}

// A run seed: a whole number from 0 to 2^63-1 (the run store keeps it as a
// signed 64-bit integer). "-1", "1e23" and 2^64 are refused, not wrapped.
std::optional<uint64_t> parse_seed(const std::string& text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return v;
}

uint64_t default_memory_budget() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) / 4 : (1ull << 30);
}

std::optional<c10::Device> choose_device(const std::string& name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  bool cuda = torch::cuda::is_available();
  if (name == "cuda") {
    if (!cuda) return std::nullopt;
    return c10::Device(c10::kCUDA, 0);
  }
  return cuda ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
}

}  // namespace pipette::cli
