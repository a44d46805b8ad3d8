// What `pipette run` and `pipette exec-node` parse alike: sizes, seeds, the
// device, the default memory budget.
#pragma once

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace pipette::cli {

// "512M", "2G", "1.5G", "800000": bytes. An error message when malformed,
// not finite, or beyond any machine (more than 2^50 bytes, a pebibyte).
std::variant<uint64_t, std::string> parse_bytes(const std::string& text);

// A run seed: a whole number from 0 to 2^63-1 (the run store keeps it as a
// signed 64-bit integer). "-1", "1e23" and 2^64 are refused, not wrapped.
std::optional<uint64_t> parse_seed(const std::string& text);

// A quarter of physical memory.
uint64_t default_memory_budget();

// cpu, cuda or auto; nullopt for cuda without a CUDA device.
std::optional<c10::Device> choose_device(const std::string& name);

}  // namespace pipette::cli
