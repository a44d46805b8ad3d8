// Every file pipette writes goes through here: bytes go to a temporary file
// beside the destination, which is renamed into place when complete, so a
// reader (or a crash) sees the old file or the whole new one, never part of
// one. Writes into a run's output directory never leave it: no directory below
// the root may be a symbolic link (refused, not followed), and renaming onto a
// symbolic link replaces the link, not what it points to.
#pragma once

#include "engine/api.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace pipette {

// A write that could not be made; the message names the file and the reason
// ("No space left on device", "a symbolic link").
class PIPETTE_API FileWriteError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A directory held open, so that names below it resolve against what was
// checked, not against whatever the path names a moment later.
class PIPETTE_API DirHandle {
 public:
  DirHandle() = default;
  explicit DirHandle(int fd, std::filesystem::path shown) : fd_(fd), shown_(std::move(shown)) {}
  DirHandle(DirHandle&& o) noexcept : fd_(o.fd_), shown_(std::move(o.shown_)) { o.fd_ = -1; }
  DirHandle& operator=(DirHandle&& o) noexcept;
  DirHandle(const DirHandle&) = delete;
  DirHandle& operator=(const DirHandle&) = delete;
  ~DirHandle();
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return shown_; }  // for messages

 private:
  int fd_ = -1;
  std::filesystem::path shown_;
};

// Opens `dir`, creating it and its parents when missing. The path itself is the
// user's choice and may pass through symbolic links.
PIPETTE_API DirHandle open_or_create_dir(const std::filesystem::path& dir);

// Opens the directory that holds `rel` below `root` (creating directories as
// needed) and sets `leaf` to the file name. `rel` must be relative, without
// `..`; no directory on the way may be a symbolic link.
PIPETTE_API DirHandle open_parent_inside(const DirHandle& root, const std::string& rel, std::string* leaf);

// A file being written: streamed through a buffer into "NAME.tmpPID-N" in
// `dir`, renamed to NAME by commit(). Destroyed uncommitted (an exception on the
// way), the temporary file is removed.
class PIPETTE_API AtomicFile {
 public:
  AtomicFile(const DirHandle& dir, std::string name);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Overwrites bytes already written (a header whose sizes are known at the end).
  void patch(uint64_t offset, const void* data, size_t n);
  uint64_t size() const { return written_; }
  void commit();

 private:
  void flush();
  void write_all(const char* p, size_t n);
  [[noreturn]] void fail(const std::string& what);

  int dir_fd_;
  std::string name_, tmp_;
  std::filesystem::path shown_;
  int fd_ = -1;
  std::string buffer_;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// `bytes` to `rel` below `root` (see open_parent_inside), atomically.
PIPETTE_API void write_inside(const DirHandle& root, const std::string& rel, std::string_view bytes);
PIPETTE_API void write_inside(const std::filesystem::path& root, const std::string& rel, std::string_view bytes);

// `bytes` to `path` (anywhere; its parent directories are created), atomically.
PIPETTE_API void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Temporary files left by writers: "NAME.tmpPID" and "NAME.tmpPID-N".
PIPETTE_API bool is_temp_file_name(const std::string& name);
// A temporary file whose writer is gone: its process no longer exists on this
// machine and the file has not changed for a minute, or it is a day old (a
// writer on another machine of a shared filesystem).
PIPETTE_API bool is_stale_temp_file(const std::filesystem::path& file);

}  // namespace pipette
