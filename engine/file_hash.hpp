// Content hashes of files (xxh3, streamed): provenance keys of nodes that read
// files, and the plugin registry's record of each plugin file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "engine/api.hpp"

namespace pipette {

// nullopt when the file cannot be read.
PIPETTE_API std::optional<uint64_t> hash_file(const std::filesystem::path& p);

}  // namespace pipette
