// Which plugins exist and what ops they offer, without running their code in
// this process (GStreamer's registry, in XML). Each plugin file is scanned once
// by a helper process (`pipette __scan-plugin FILE`) that loads it and prints its
// signatures; the result is cached keyed by the file's size, mtime, inode,
// ctime and content hash, so `pipette check` type checks scripts that use plugins from the cache.
// A plugin that crashed, hung or failed to load is remembered as such until its
// file changes.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/api.hpp"
#include "engine/op_signature.hpp"

namespace pipette {

struct PluginRecord {
  enum class Status { Ok, Failed, Crashed, Hung };
  std::filesystem::path file;  // absolute
  // The file's identity when it was scanned. size and mtime alone could be kept
  // by a swap (cp -p, rsync -t, install -p preserve mtime); a new file has a new
  // inode or ctime, which nobody can set, so the record is trusted only while
  // all of these match (else the content hash decides).
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  uint64_t device = 0, inode = 0;
  int64_t ctime_ns = 0;
  uint64_t hash = 0;  // xxh3 of the file's bytes
  Status status = Status::Ok;
  std::string reason;  // why not Ok
  std::string name, version, description;
  std::vector<OpSignature> ops;
};

PIPETTE_API const char* plugin_status_name(PluginRecord::Status s);

struct PluginScanner {
  std::vector<std::string> command;  // the helper's argv; the plugin's path is appended
  double timeout_s = 30;             // a plugin still loading after this is "hung"
};

// The directories searched, in order: `explicit_dirs` (--plugin-path, each may be
// a colon-separated list), then $PIPETTE_PLUGIN_PATH, then `installed_dir`.
PIPETTE_API std::vector<std::filesystem::path> plugin_search_dirs(const std::vector<std::string>& explicit_dirs,
                                                                  const std::filesystem::path& installed_dir);

// Where the registry cache lives: $PIPETTE_REGISTRY, else
// $XDG_CACHE_HOME/pipette/registry.xml, else ~/.cache/pipette/registry.xml.
// Empty when none of these can be formed (then the cache is memory only).
PIPETTE_API std::filesystem::path default_registry_file();

class PIPETTE_API PluginRegistry {
 public:
  // `fingerprint` identifies the host build: a cache written by another build is
  // discarded whole. An empty `cache_file` keeps everything in memory.
  PluginRegistry(std::filesystem::path cache_file, std::string fingerprint, PluginScanner scanner);

  // Brings the records of every plugin file in `dirs` up to date (scanning new
  // and changed files) and saves the cache if anything changed.
  void update(const std::vector<std::filesystem::path>& dirs);

  // The plugin files found by the last update(), in search order.
  const std::vector<PluginRecord>& plugins() const { return visible_; }
  // The first loadable plugin called `name`.
  const PluginRecord* find(const std::string& name) const;
  // Refused directories and files, shadowed duplicates, failed scans.
  const std::vector<std::string>& warnings() const { return warnings_; }
  size_t scans() const { return scans_; }  // helper processes started by the last update()

 private:
  void load_cache();
  void save_cache() const;
  PluginRecord scan(const std::filesystem::path& file) const;

  std::filesystem::path cache_file_;
  std::string fingerprint_;
  PluginScanner scanner_;
  std::map<std::string, PluginRecord> known_;  // by absolute path
  std::vector<PluginRecord> visible_;
  std::vector<std::string> warnings_;
  size_t scans_ = 0;
};

// Why a plugin at `path` must not be loaded, or nullopt: anyone may write to
// the file or to a directory above it, resolved through symbolic links (a
// world-writable directory without the sticky bit lets anyone rename what is
// in it). `is_search_dir`: the directory plugins are listed from may not be
// world-writable even with the sticky bit (anyone could add a plugin to /tmp).
PIPETTE_API std::optional<std::string> unsafe_plugin_location(const std::filesystem::path& path, bool is_search_dir);

// Whether `file` is still the file `rec` describes (device, inode, size, mtime
// and ctime): checked again right before it is loaded into the process.
PIPETTE_API bool same_file_as_scanned(const PluginRecord& rec, const std::filesystem::path& file);

// Reads the helper's output (a <plugin> element) into `rec`; throws on malformed input.
PIPETTE_API void read_scan_output(const std::string& xml, PluginRecord& rec);

}  // namespace pipette
