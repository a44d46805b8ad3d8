#include "engine/cache.hpp"

#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/script.h>
#include <xxhash.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/op_impl.hpp"
#include "engine/value_io.hpp"

namespace pipette {

namespace {

// Entry layout: magic (8 bytes), payload kind (1: pickled value, 2: TorchScript
// module archive), payload size (8), payload xxh3 (8), payload.
constexpr char kMagic[8] = {'P', 'I', 'P', 'E', 'C', 'A', '0', '1'};
constexpr size_t kHeader = 8 + 1 + 8 + 8;

}  // namespace

std::filesystem::path Cache::entry_path(const NodeKey& key) const {
  std::string hex = key.hex();
  return dir_ / hex.substr(0, 2) / (hex + ".entry");
}

bool Cache::contains(const NodeKey& key) const { return std::filesystem::exists(entry_path(key)); }

void Cache::store(const NodeKey& key, const Value& v) const {
  std::string payload;
  char kind = 1;
  if (v.isObject()) {
    kind = 2;
    std::ostringstream ss;
    torch::jit::Module(v.toObject()).save(ss);
    payload = ss.str();
  } else {
    Value cpu = v.isTensor() ? Value(v.toTensor().detach().to(at::kCPU)) : v;
    std::vector<char> bytes = torch::jit::pickle_save(cpu);
    payload.assign(bytes.begin(), bytes.end());
  }
  uint64_t size = payload.size();
  uint64_t sum = XXH3_64bits(payload.data(), payload.size());
  std::string entry(kMagic, 8);
  entry += kind;
  entry.append(reinterpret_cast<const char*>(&size), 8);
  entry.append(reinterpret_cast<const char*>(&sum), 8);
  entry += payload;
  write_file_atomically(entry_path(key), entry);
}

std::optional<Value> Cache::load(const NodeKey& key, std::string* damage) const {
  auto path = entry_path(key);
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string entry((std::istreambuf_iterator<char>(in)), {});
  in.close();
  auto damaged = [&](const std::string& why) -> std::optional<Value> {
    if (damage) *damage = "cache entry " + path.string() + " is damaged (" + why + "); recomputing";
    std::error_code ec;
    std::filesystem::remove(path, ec);
    return std::nullopt;
  };
  if (entry.size() < kHeader || std::memcmp(entry.data(), kMagic, 8) != 0) return damaged("bad header");
  char kind = entry[8];
  uint64_t size = 0, sum = 0;
  std::memcpy(&size, entry.data() + 9, 8);
  std::memcpy(&sum, entry.data() + 17, 8);
  if (entry.size() - kHeader != size) return damaged("truncated");
  const char* payload = entry.data() + kHeader;
  if (XXH3_64bits(payload, size) != sum) return damaged("checksum mismatch");
  try {
    if (kind == 2) {
      std::istringstream ss(std::string(payload, size));
      torch::jit::Module m = torch::jit::load(ss);
      m.eval();
      return Value(m._ivalue());
    }
    if (kind == 1) return torch::jit::pickle_load(std::vector<char>(payload, payload + size));
  } catch (const c10::Error& e) {
    return damaged(std::string("unreadable: ") + e.what_without_backtrace());
  }
  return damaged("unknown payload kind");
}

Cache::Stats Cache::stats() const {
  Stats s;
  std::error_code ec;
  if (!std::filesystem::exists(dir_, ec)) return s;
  for (auto& e : std::filesystem::recursive_directory_iterator(dir_, ec)) {
    if (!e.is_regular_file() || e.path().extension() != ".entry") continue;
    ++s.entries;
    s.bytes += e.file_size();
  }
  return s;
}

size_t Cache::clean() const {
  size_t n = stats().entries;
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
  return n;
}

}  // namespace pipette
