// The content-addressed cache: one file per node result, named by its
// provenance key. Entries carry a checksum; a damaged entry is reported and
// recomputed, never trusted. Writes are atomic (write, then rename), so a crash
// mid-write leaves no half entry.
#pragma once

#include "engine/api.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "engine/provenance.hpp"
#include "engine/value.hpp"

namespace pipette {

class PIPETTE_API Cache {
 public:
  explicit Cache(std::filesystem::path dir) : dir_(std::move(dir)) {}

  const std::filesystem::path& dir() const { return dir_; }
  bool contains(const NodeKey& key) const;
  // nullopt on a miss. A damaged entry is deleted, `damage` says what was wrong.
  std::optional<Value> load(const NodeKey& key, std::string* damage = nullptr) const;
  void store(const NodeKey& key, const Value& v) const;

  struct Stats {
    size_t entries = 0;
    uint64_t bytes = 0;
  };
  Stats stats() const;
  size_t clean() const;  // removes every entry; returns how many

  std::filesystem::path entry_path(const NodeKey& key) const;

 private:
  std::filesystem::path dir_;
};

}  // namespace pipette
