#include "engine/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <vector>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace pipette {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// Large enough that streaming a tensor costs few system calls, small enough to
// be a constant next to any value worth caching.
constexpr size_t kBufferBytes = size_t{1} << 20;

}  // namespace

DirHandle& DirHandle::operator=(DirHandle&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    shown_ = std::move(o.shown_);
    o.fd_ = -1;
  }
  return *this;
}

DirHandle::~DirHandle() {
  if (fd_ >= 0) ::close(fd_);
}

DirHandle open_or_create_dir(const fs::path& dir) {
  fs::path p = dir.empty() ? fs::path(".") : dir;
  int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(p, ec);
    if (ec) throw FileWriteError("cannot create the directory '" + p.string() + "': " + ec.message());
    fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  }
  if (fd < 0) {
    int err = errno;
    if (err == ENOTDIR) throw FileWriteError("'" + p.string() + "' is not a directory");
    throw FileWriteError("cannot open the directory '" + p.string() + "': " + errno_text(err));
  }
  return DirHandle(fd, p);
}

DirHandle open_parent_inside(const DirHandle& root, const std::string& rel, std::string* leaf) {
  fs::path path(rel);
  if (rel.empty() || path.is_absolute())
    throw FileWriteError("'" + rel + "' must be a path relative to " + root.path().string());
  std::vector<std::string> parts;
  for (auto& part : path) {
    std::string s = part.string();
    if (s == "..") throw FileWriteError("'" + rel + "' leaves " + root.path().string() + " ('..')");
    if (!s.empty() && s != ".") parts.push_back(s);
  }
  if (parts.empty()) throw FileWriteError("'" + rel + "' names no file");
  *leaf = parts.back();
  parts.pop_back();
  int fd = ::dup(root.fd());
  if (fd < 0) throw FileWriteError("cannot open " + root.path().string() + ": " + errno_text(errno));
  DirHandle current(fd, root.path());
  fs::path shown = root.path();
  for (auto& part : parts) {
    shown /= part;
    if (::mkdirat(current.fd(), part.c_str(), 0777) != 0 && errno != EEXIST)
      throw FileWriteError("cannot create the directory '" + shown.string() + "': " + errno_text(errno));
    int next = ::openat(current.fd(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      int err = errno;
      struct stat st {};
      bool link = ::fstatat(current.fd(), part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
      if (link || err == ELOOP)
        throw FileWriteError("refusing to write '" + rel + "': '" + shown.string() +
                             "' is a symbolic link, and pipette writes only inside " + root.path().string());
      if (err == ENOTDIR) throw FileWriteError("cannot write '" + rel + "': '" + shown.string() + "' is not a directory");
      throw FileWriteError("cannot open the directory '" + shown.string() + "': " + errno_text(err));
    }
    current = DirHandle(next, shown);
  }
  return current;
}

AtomicFile::AtomicFile(const DirHandle& dir, std::string name)
    : dir_fd_(dir.fd()), name_(std::move(name)), shown_(dir.path() / name_) {
  static std::atomic<uint64_t> counter{0};
  tmp_ = name_ + ".tmp" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  fd_ = ::openat(dir_fd_, tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
  if (fd_ < 0) throw FileWriteError("cannot write '" + shown_.string() + "': " + errno_text(errno));
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlinkat(dir_fd_, tmp_.c_str(), 0);
}

void AtomicFile::fail(const std::string& what) {
  int err = errno;
  throw FileWriteError("cannot write '" + shown_.string() + "': " + what + (err ? ": " + errno_text(err) : ""));
}

void AtomicFile::write_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("write failed");
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::flush() {
  write_all(buffer_.data(), buffer_.size());
  buffer_.clear();
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  written_ += n;
  if (buffer_.size() + n <= kBufferBytes) {
    buffer_.append(p, n);
    return;
  }
  flush();
  if (n < kBufferBytes) {
    buffer_.append(p, n);
    return;
  }
  // A large block (a tensor's storage) goes straight from its memory to the file.
  write_all(p, n);
}

void AtomicFile::patch(uint64_t offset, const void* data, size_t n) {
  flush();
  if (::pwrite(fd_, data, n, static_cast<off_t>(offset)) != static_cast<ssize_t>(n)) fail("write failed");
}

void AtomicFile::commit() {
  flush();
  int fd = fd_;
  fd_ = -1;
  // Network filesystems report a full disk at close.
  if (::close(fd) != 0) fail("close failed");
  if (::renameat(dir_fd_, tmp_.c_str(), dir_fd_, name_.c_str()) != 0) {
    int err = errno;
    if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) {
      errno = 0;
      fail("a directory of that name is in the way");
    }
    errno = err;
    fail("rename failed");
  }
  committed_ = true;
}

void write_inside(const DirHandle& root, const std::string& rel, std::string_view bytes) {
  std::string leaf;
  DirHandle dir = open_parent_inside(root, rel, &leaf);
  AtomicFile f(dir, leaf);
  f.write(bytes);
  f.commit();
}

void write_inside(const fs::path& root, const std::string& rel, std::string_view bytes) {
  write_inside(open_or_create_dir(root), rel, bytes);
}

void write_file_atomically(const fs::path& path, std::string_view bytes) {
  DirHandle dir = open_or_create_dir(path.has_parent_path() ? path.parent_path() : fs::path("."));
  AtomicFile f(dir, path.filename().string());
  f.write(bytes);
  f.commit();
}

namespace {

// The writer's process id in "NAME.tmpPID" or "NAME.tmpPID-N"; -1 when `name` is not such a file.
long temp_writer_pid(const std::string& name) {
  size_t at = name.rfind(".tmp");
  if (at == std::string::npos || at == 0) return -1;
  size_t i = at + 4, digits = 0;
  long pid = 0;
  while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && digits < 10)
    pid = pid * 10 + (name[i++] - '0'), ++digits;
  if (digits == 0) return -1;
  if (i < name.size()) {
    if (name[i] != '-' || i + 1 == name.size()) return -1;
    for (++i; i < name.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(name[i]))) return -1;
  }
  return pid;
}

}  // namespace

bool is_temp_file_name(const std::string& name) { return temp_writer_pid(name) >= 0; }

bool is_stale_temp_file(const fs::path& file) {
  long pid = temp_writer_pid(file.filename().string());
  if (pid < 0) return false;
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0) return false;
  double age = std::difftime(std::time(nullptr), st.st_mtime);
  if (age > 24 * 3600) return true;
  bool alive = pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
  return !alive && age > 60;
}

}  // namespace pipette
