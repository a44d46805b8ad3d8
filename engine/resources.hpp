// What a node asks of a cluster when it runs as a job (issue 25): CPUs,
// memory, GPUs, wall time, partition. Defaults come from the op's signature,
// a call's `resources={...}` overrides them, and the command line overrides
// both. Placement, not identity: not part of a node's provenance key.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/api.hpp"

namespace pipette {

struct Resources {
  std::optional<int64_t> cpus;      // --cpus-per-task
  std::optional<int64_t> mem_mb;    // --mem, in MiB (Slurm's unit)
  std::optional<int64_t> gpus;      // --gres=gpu:N
  std::optional<int64_t> minutes;   // --time
  std::optional<std::string> partition;

  bool empty() const { return !cpus && !mem_mb && !gpus && !minutes && !partition; }
  // This request where it says something, `base` elsewhere.
  PIPETTE_API Resources over(const Resources& base) const;
  bool operator==(const Resources& o) const {
    return cpus == o.cpus && mem_mb == o.mem_mb && gpus == o.gpus && minutes == o.minutes && partition == o.partition;
  }
  // "cpus=4 mem=16G gpus=1 time=2:00:00 partition=gpu", the keys set.
  PIPETTE_API std::string to_string() const;
};

// The keys a request may name, for messages and completion.
PIPETTE_API const std::vector<std::string>& resource_keys();

// Sets one key from its text ("16G", "2h", "4"); an error message when the
// key is unknown or the value malformed. Integers for cpus and gpus may come
// as text too, so the command line and the language share this.
PIPETTE_API std::optional<std::string> set_resource(Resources& r, const std::string& key, const std::string& value);

// "512M", "16G", "1.5T", "800" (MiB, as Slurm reads a bare number) -> MiB.
PIPETTE_API std::optional<int64_t> parse_memory_mib(const std::string& text);
// "90" (minutes, as Slurm), "30m", "2h", "1d", "1:30:00", "2-12", "2-12:00:00" -> minutes (rounded up).
PIPETTE_API std::optional<int64_t> parse_minutes(const std::string& text);
// Minutes as Slurm's --time: "D-HH:MM:SS" or "HH:MM:SS".
PIPETTE_API std::string slurm_time(int64_t minutes);

}  // namespace pipette
