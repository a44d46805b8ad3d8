// The content-addressed cache: one file per node result, named by its
// provenance key. Entries carry their key and a checksum: a damaged entry, or
// one copied under another key, is reported and recomputed, never trusted.
// Writes are atomic (write, then rename), so a crash mid-write leaves no half
// entry, and streamed: storing or loading a value costs the value plus a small
// constant, not copies of it.
//
// A cache directory is marked with a CACHEDIR.TAG file (the Cache Directory
// Tagging convention backup tools honour); pipette deletes only entries and
// temporary files it recognises, and only in a directory so marked.
#pragma once

#include "engine/api.hpp"

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/provenance.hpp"
#include "engine/value.hpp"

namespace pipette {

class PIPETTE_API CacheError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PIPETTE_API Cache {
 public:
  explicit Cache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }

  // Creates and marks the directory, or checks that an existing one is a
  // cache: marked, empty, or a cache of an earlier pipette (only its
  // two-digit fan-out directories), which is marked now. Throws CacheError for
  // a directory holding anything else: it is somebody's, not a cache. store()
  // does this on its first call; `pipette run` first, to refuse early.
  void prepare() const;

  bool contains(const NodeKey& key) const;
  // nullopt on a miss. A damaged entry is deleted, `damage` says what was wrong.
  std::optional<Value> load(const NodeKey& key, std::string* damage = nullptr) const;
  // Throws (FileWriteError, CacheError, OpError) when the entry cannot be written.
  void store(const NodeKey& key, const Value& v) const;

  struct Stats {
    size_t entries = 0;
    uint64_t bytes = 0;
    size_t stale_temp_files = 0;  // left by writers that died (cleaned by clean())
    uint64_t stale_temp_bytes = 0;
    size_t live_temp_files = 0;   // being written now
  };
  Stats stats() const;

  struct Cleaned {
    size_t entries = 0, temp_files = 0;
    uint64_t bytes = 0;
    std::vector<std::filesystem::path> foreign;  // files pipette did not write: left alone
  };
  // Removes every entry and every stale temporary file, and the fan-out
  // directories that become empty; leaves anything else. Throws CacheError when
  // the directory is not marked as a pipette cache.
  Cleaned clean() const;

  std::filesystem::path entry_path(const NodeKey& key) const;

  static constexpr const char* kTagFile = "CACHEDIR.TAG";

 private:
  std::filesystem::path dir_;
  mutable std::once_flag prepared_;
};

}  // namespace pipette
