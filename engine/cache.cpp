#include "engine/cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "engine/atomic_file.hpp"
#include "engine/checked_size.hpp"
#include "engine/op_impl.hpp"

namespace pipette {

namespace fs = std::filesystem;

namespace {

// Entry layout, version 02: magic (8 bytes), the entry's own key (8), payload
// kind (1, always 1 so far), 7 reserved bytes, payload size (8), payload xxh3
// (8), then the payload:
//   u64 size, the value pickled with its tensors and models taken out
//   u64 count, per tensor: i32 dtype, i32 dims, i64 sizes[dims], u64 bytes, its bytes
//   u64 count, per model: u64 size, its TorchScript archive
// Tensors are written from and read into their own memory, so an entry costs
// no copy of them. Version 01 entries (one pickle in memory) are misses.
constexpr char kMagic[8] = {'P', 'I', 'P', 'E', 'C', 'A', '0', '2'};
constexpr char kOldMagic[7] = {'P', 'I', 'P', 'E', 'C', 'A', '0'};
constexpr size_t kHeader = 40;
constexpr char kModelPlaceholder[] = "\x01pipette-model-";
constexpr const char* kTagText =
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file is a cache directory tag created by pipette: its result cache.\n"
    "# pipette cache clean removes only the entries it wrote here.\n"
    "# For information about cache directory tags see https://bford.info/cachedir/\n";

bool is_fanout_name(const std::string& s) {
  return s.size() == 2 && std::isxdigit(static_cast<unsigned char>(s[0])) &&
         std::isxdigit(static_cast<unsigned char>(s[1])) && !std::isupper(static_cast<unsigned char>(s[0])) &&
         !std::isupper(static_cast<unsigned char>(s[1]));
}

bool is_entry_name(const std::string& s) {
  if (s.size() != 16 + 6 || s.compare(16, 6, ".entry") != 0) return false;
  for (size_t i = 0; i < 16; ++i)
    if (!std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// A file that starts like a pipette cache entry of any version.
bool has_entry_magic(const fs::path& p) {
  char head[7] = {};
  std::ifstream in(p, std::ios::binary);
  return in.read(head, 7) && std::memcmp(head, kOldMagic, 7) == 0;
}

bool tagged_by_pipette(const fs::path& dir) {
  std::ifstream in(dir / Cache::kTagFile);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return text.rfind("Signature: 8a477f597d28d172789f06886806bc55", 0) == 0 && text.find("pipette") != std::string::npos;
}

Value module_value(torch::jit::Module m) {
  m.eval();
  return Value(m._ivalue());
}

// Writes the payload through a running checksum.
class PayloadWriter {
 public:
  explicit PayloadWriter(AtomicFile& f) : f_(f), state_(XXH3_createState()) { XXH3_64bits_reset(state_); }
  ~PayloadWriter() { XXH3_freeState(state_); }
  void bytes(const void* p, size_t n) {
    XXH3_64bits_update(state_, p, n);
    f_.write(p, n);
    size_ += n;
  }
  template <class T>
  void pod(T v) {
    bytes(&v, sizeof v);
  }
  uint64_t size() const { return size_; }
  uint64_t digest() const { return XXH3_64bits_digest(state_); }

 private:
  AtomicFile& f_;
  XXH3_state_t* state_;
  uint64_t size_ = 0;
};

struct Damaged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Reads the payload through a running checksum; never past its declared end.
class PayloadReader {
 public:
  PayloadReader(int fd, uint64_t size) : fd_(fd), left_(size), state_(XXH3_createState()) { XXH3_64bits_reset(state_); }
  ~PayloadReader() { XXH3_freeState(state_); }
  void bytes(void* p, uint64_t n) {
    if (n > left_) throw Damaged("a section runs past the end");
    char* out = static_cast<char*>(p);
    uint64_t want = n;
    while (want > 0) {
      ssize_t got = ::read(fd_, out, std::min<uint64_t>(want, uint64_t{1} << 30));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) throw Damaged("truncated");
      out += got;
      want -= static_cast<uint64_t>(got);
    }
    XXH3_64bits_update(state_, p, n);
    left_ -= n;
  }
  template <class T>
  T pod() {
    T v{};
    bytes(&v, sizeof v);
    return v;
  }
  // A size read from the entry, checked against what is left before anything is allocated for it.
  uint64_t size_field() {
    uint64_t n = pod<uint64_t>();
    if (n > left_) throw Damaged("a section runs past the end");
    return n;
  }
  std::string string(uint64_t n) {
    std::string s(n, '\0');
    bytes(s.data(), n);
    return s;
  }
  uint64_t left() const { return left_; }
  uint64_t digest() const { return XXH3_64bits_digest(state_); }
  // Reads what is left into the checksum only: after a section that does not
  // add up, whether the bytes were damaged or pipette wrote them so.
  bool drain() {
    std::vector<char> buf(1 << 20);
    while (left_ > 0) {
      uint64_t n = std::min<uint64_t>(left_, buf.size());
      try {
        bytes(buf.data(), n);
      } catch (const Damaged&) {
        return false;
      }
    }
    return true;
  }

 private:
  int fd_;
  uint64_t left_;
  XXH3_state_t* state_;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

fs::path Cache::entry_path(const NodeKey& key) const {
  std::string hex = key.hex();
  return dir_ / hex.substr(0, 2) / (hex + ".entry");
}

bool Cache::contains(const NodeKey& key) const { return fs::exists(entry_path(key)); }

void Cache::prepare() const {
  std::call_once(prepared_, [this] {
    std::error_code ec;
    if (fs::exists(dir_ / kTagFile, ec) && tagged_by_pipette(dir_)) return;
    if (fs::exists(dir_, ec) && !fs::is_directory(dir_, ec))
      throw CacheError("the cache '" + dir_.string() + "' is not a directory");
    for (auto& e : fs::directory_iterator(dir_, ec)) {
      std::string name = e.path().filename().string();
      // Another pipette making the same fresh cache at this moment: its tag
      // (written by rename) or the temporary file it renames from.
      if (name == kTagFile && tagged_by_pipette(dir_)) continue;
      if (name.rfind(std::string(kTagFile) + ".tmp", 0) == 0) continue;
      if (name == kTagFile) {
        throw CacheError("'" + dir_.string() + "' has a CACHEDIR.TAG that pipette did not write: another tool's "
                         "cache; give pipette a directory of its own (--cache DIR)");
      }
      if (!is_fanout_name(name) || !e.is_directory())
        throw CacheError("'" + dir_.string() + "' is not a pipette cache: it holds '" + name +
                         "', which pipette did not write; give an empty or new directory (--cache DIR)");
    }
    DirHandle dir = open_or_create_dir(dir_);
    write_inside(dir, kTagFile, kTagText);
  });
}

void Cache::store(const NodeKey& key, const Value& v) const {
  prepare();
  // The value without its tensors and models: those follow the pickle, each
  // written from its own memory.
  std::vector<std::string> archives;
  Value skeleton = map_leaves(v, [&](const Value& x) {
    if (!x.isObject()) return x;
    std::ostringstream ss;
    torch::jit::Module(x.toObject()).save(ss);
    archives.push_back(ss.str());
    return Value(kModelPlaceholder + std::to_string(archives.size() - 1));
  });
  std::vector<at::Tensor> tensors;
  std::string pickled;
  torch::jit::pickle([&](const char* p, size_t n) { pickled.append(p, n); }, skeleton, &tensors);

  std::string hex = key.hex();
  DirHandle fan = open_or_create_dir(dir_ / hex.substr(0, 2));
  AtomicFile file(fan, hex + ".entry");
  char header[kHeader] = {};
  file.write(header, kHeader);
  PayloadWriter out(file);
  out.pod<uint64_t>(pickled.size());
  out.bytes(pickled.data(), pickled.size());
  out.pod<uint64_t>(tensors.size());
  for (auto& t0 : tensors) {
    if (t0.layout() != at::kStrided || t0.is_quantized())
      throw OpError("cannot cache a " + std::string(c10::toString(t0.layout())) + " tensor; only dense tensors are cached");
    at::Tensor t = t0.detach().to(at::kCPU).contiguous();
    out.pod<int32_t>(static_cast<int32_t>(t.scalar_type()));
    out.pod<int32_t>(static_cast<int32_t>(t.dim()));
    for (int64_t d = 0; d < t.dim(); ++d) out.pod<int64_t>(t.size(d));
    uint64_t nbytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    out.pod<uint64_t>(nbytes);
    if (nbytes) out.bytes(t.data_ptr(), nbytes);
  }
  out.pod<uint64_t>(archives.size());
  for (auto& a : archives) {
    out.pod<uint64_t>(a.size());
    out.bytes(a.data(), a.size());
  }
  std::memcpy(header, kMagic, 8);
  std::memcpy(header + 8, &key.hash, 8);
  header[16] = 1;
  uint64_t size = out.size(), sum = out.digest();
  std::memcpy(header + 24, &size, 8);
  std::memcpy(header + 32, &sum, 8);
  file.patch(0, header, kHeader);
  file.commit();
}

std::optional<Value> Cache::load(const NodeKey& key, std::string* damage) const {
  auto path = entry_path(key);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return std::nullopt;
  auto damaged = [&](const std::string& why) -> std::optional<Value> {
    if (damage) *damage = "cache entry " + path.string() + " is damaged (" + why + "); recomputing";
    std::error_code ec;
    fs::remove(path, ec);
    return std::nullopt;
  };
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return std::nullopt;
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  char header[kHeader] = {};
  size_t got = 0;
  while (got < kHeader) {
    ssize_t n = ::read(fd.get(), header + got, kHeader - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got < 7 || std::memcmp(header, kOldMagic, 7) != 0) return damaged("bad header");
  if (header[7] != kMagic[7]) return std::nullopt;  // an earlier format: a miss, rewritten by the next store
  if (got < kHeader) return damaged("truncated");
  uint64_t owner = 0, size = 0, sum = 0;
  std::memcpy(&owner, header + 8, 8);
  std::memcpy(&size, header + 24, 8);
  std::memcpy(&sum, header + 32, 8);
  if (owner != key.hash)
    return damaged("it holds the result of key " + NodeKey{owner}.hex() + ", not " + key.hex() +
                   ": copied or renamed from another entry");
  if (file_size - kHeader != size) return damaged("truncated");
  if (header[16] != 1) return damaged("unknown payload kind");
  PayloadReader in(fd.get(), size);
  try {
    std::string pickled = in.string(in.size_field());
    uint64_t count = in.pod<uint64_t>();
    if (count > in.left()) throw Damaged("a section runs past the end");
    std::vector<at::Tensor> tensors;
    tensors.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
      int32_t code = in.pod<int32_t>();
      if (code < 0 || code >= static_cast<int32_t>(at::ScalarType::NumOptions)) throw Damaged("a tensor has an unknown dtype");
      auto type = static_cast<at::ScalarType>(code);
      int32_t dims = in.pod<int32_t>();
      if (dims < 0 || dims > 64) throw Damaged("a tensor has " + std::to_string(dims) + " dimensions");
      std::vector<int64_t> sizes(static_cast<size_t>(dims));
      for (auto& s : sizes) s = in.pod<int64_t>();
      uint64_t nbytes = in.size_field();
      auto expected = checked_tensor_bytes(sizes, c10::elementSize(type));
      if (!expected || *expected != nbytes) throw Damaged("a tensor's size does not match its shape");
      at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(type));
      if (nbytes) in.bytes(t.data_ptr(), nbytes);
      tensors.push_back(std::move(t));
    }
    uint64_t models = in.pod<uint64_t>();
    if (models > in.left()) throw Damaged("a section runs past the end");
    std::vector<std::string> archives;
    for (uint64_t i = 0; i < models; ++i) archives.push_back(in.string(in.size_field()));
    if (in.left() != 0) throw Damaged("bytes after the last section");
    if (in.digest() != sum) return damaged("checksum mismatch");
    // Only now, with every byte checked, is anything decoded.
    Value skeleton = torch::jit::unpickle(pickled.data(), pickled.size(), nullptr, tensors);
    std::vector<Value> loaded;
    for (auto& a : archives) {
      std::istringstream ss(a);
      loaded.push_back(module_value(torch::jit::load(ss)));
    }
    return map_leaves(skeleton, [&](const Value& x) {
      if (!x.isString() || x.toStringRef().rfind(kModelPlaceholder, 0) != 0) return x;
      size_t i = std::stoul(x.toStringRef().substr(sizeof(kModelPlaceholder) - 1));
      if (i >= loaded.size()) throw Damaged("a model placeholder has no archive");
      return loaded[i];
    });
  } catch (const Damaged& e) {
    if (!in.drain() || in.digest() != sum) return damaged("checksum mismatch");
    return damaged(e.what());
  } catch (const c10::Error& e) {
    return damaged(std::string("unreadable: ") + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return damaged(std::string("unreadable: ") + e.what());
  }
}

namespace {

// Every file in the fan-out directories, classified; symbolic links and
// anything else pipette would not have written are `foreign`.
template <class Fn>
void for_each_cache_file(const fs::path& dir, Fn&& fn) {
  std::error_code ec;
  for (auto& top : fs::directory_iterator(dir, ec)) {
    std::string name = top.path().filename().string();
    if (name == Cache::kTagFile) continue;
    if (!is_fanout_name(name) || top.is_symlink() || !top.is_directory()) {
      fn(top.path(), 'f');
      continue;
    }
    std::error_code ec2;
    for (auto& e : fs::directory_iterator(top.path(), ec2)) {
      std::string file = e.path().filename().string();
      bool regular = !e.is_symlink() && e.is_regular_file();
      if (regular && is_entry_name(file) && has_entry_magic(e.path())) fn(e.path(), 'e');
      else if (regular && is_temp_file_name(file) && file.rfind(".entry.tmp") != std::string::npos)
        fn(e.path(), is_stale_temp_file(e.path()) ? 's' : 'l');
      else fn(e.path(), 'f');
    }
  }
}

}  // namespace

Cache::Stats Cache::stats() const {
  Stats s;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return s;
  for_each_cache_file(dir_, [&](const fs::path& p, char kind) {
    std::error_code e2;
    uint64_t bytes = fs::is_regular_file(p, e2) ? fs::file_size(p, e2) : 0;
    if (kind == 'e') ++s.entries, s.bytes += bytes;
    if (kind == 's') ++s.stale_temp_files, s.stale_temp_bytes += bytes;
    if (kind == 'l') ++s.live_temp_files;
  });
  return s;
}

Cache::Cleaned Cache::clean() const {
  Cleaned c;
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return c;
  if (!fs::is_directory(dir_, ec)) throw CacheError("'" + dir_.string() + "' is not a directory, let alone a cache");
  if (!tagged_by_pipette(dir_))
    throw CacheError("refusing to clean '" + dir_.string() + "': it is not marked as a pipette cache (no " +
                     std::string(kTagFile) + " written by pipette); nothing was removed");
  for_each_cache_file(dir_, [&](const fs::path& p, char kind) {
    if (kind == 'f') {
      c.foreign.push_back(p);
      return;
    }
    if (kind == 'l') return;  // a writer at work
    std::error_code e2;
    uint64_t bytes = fs::file_size(p, e2);
    if (!fs::remove(p, e2)) return;
    c.bytes += bytes;
    (kind == 'e' ? c.entries : c.temp_files) += 1;
  });
  for (auto& top : fs::directory_iterator(dir_, ec)) {
    std::error_code e2;
    if (is_fanout_name(top.path().filename().string()) && !top.is_symlink() && top.is_directory() &&
        fs::is_empty(top.path(), e2))
      fs::remove(top.path(), e2);
  }
  return c;
}

}  // namespace pipette
