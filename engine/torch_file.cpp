// What torch.save writes and LibTorch's own unpickler cannot read: a
// state_dict (an OrderedDict, which LibTorch turns into None), nested dicts and
// lists of tensors, and the legacy (pre-1.6, non-zip) format. A small pickle
// machine for the opcodes torch.save emits (protocols 2 to 5), with bounded
// stacks and every size checked against the file; Python classes other than
// the few torch.save uses are refused by name. Nothing is executed.
#include "engine/torch_file.hpp"

#include <caffe2/serialize/inline_container.h>

#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <variant>

#include "engine/checked_size.hpp"
#include "engine/op_impl.hpp"

namespace pipette {

namespace {

struct Global {
  std::string module, name;
  std::string qualified() const { return module + "." + name; }
};
struct Mark {};
// Lists, tuples and dicts live in the machine's arena and are named by their
// index there, as Python names objects: a memoized list that is appended to
// later is the same list when recalled (a copy would be stale), nothing
// recurses when the machine is destroyed however deep or cyclic a hostile
// file nests them, and a recall costs nothing.
struct ListRef {
  size_t id;
};
struct DictRef {
  size_t id;
};
// A storage named by a persistent id: its dtype, key and element count.
struct Storage {
  at::ScalarType dtype = at::kFloat;
  std::string key;
  int64_t numel = 0;
};
// What the machine's stack holds: Python values as far as torch.save uses them.
// Value holds only leaves: none, bools, numbers, strings, tensors.
struct Item {
  std::variant<std::monostate, Mark, Global, ListRef, DictRef, Storage, Value> v;
};
using Items = std::vector<Item>;
struct Dict {
  std::vector<std::pair<std::string, Item>> entries;  // in insertion order, as Python keeps them
  std::map<std::string, size_t> index;
};

// Limits far beyond anything torch.save writes for tensors and their dicts,
// and far below what would exhaust a stack or memory.
constexpr size_t kMaxDepth = 100;           // nesting of lists and dicts in the result
constexpr size_t kMaxValues = 1ull << 22;   // values in the result, counting shared ones each time

[[noreturn]] void bad(const std::string& file, const std::string& why) {
  throw OpError("'" + file + "' is not a file pipette can read as torch.save wrote it: " + why);
}

std::optional<at::ScalarType> storage_dtype(const std::string& name) {
  static const std::map<std::string, at::ScalarType> types = {
      {"FloatStorage", at::kFloat},     {"DoubleStorage", at::kDouble}, {"HalfStorage", at::kHalf},
      {"BFloat16Storage", at::kBFloat16}, {"LongStorage", at::kLong},   {"IntStorage", at::kInt},
      {"ShortStorage", at::kShort},     {"CharStorage", at::kChar},     {"ByteStorage", at::kByte},
      {"BoolStorage", at::kBool},       {"UntypedStorage", at::kByte}};
  auto it = types.find(name);
  if (it == types.end()) return std::nullopt;
  return it->second;
}

class Machine {
 public:
  using StorageLoader = std::function<at::Tensor(const Storage&)>;
  // `materialise` bounds the bytes of the tensors it builds (from the file's size).
  Machine(std::string_view bytes, std::string file, StorageLoader load, uint64_t materialise)
      : s_(bytes), file_(std::move(file)), load_(std::move(load)), materialise_left_(materialise) {}

  // Runs to STOP; returns the value on top, converted. `end` is where the
  // pickle ended.
  Value run(size_t* end = nullptr) {
    constexpr size_t kMaxStack = 1 << 20;
    for (;;) {
      if (stack_.size() > kMaxStack || memo_.size() > kMaxStack) fail("too deeply nested");
      uint8_t op = byte();
      switch (op) {
        case 0x80: byte(); break;                    // PROTO
        case 0x95: take(8); break;                   // FRAME: a size hint
        case '(': push(Item{Mark{}}); break;         // MARK
        case '.': {                                  // STOP
          if (stack_.empty()) fail("nothing to return");
          if (end) *end = i_;
          size_t budget = kMaxValues;
          return to_value(stack_.back(), 0, budget);
        }
        case 'N': push(value(Value())); break;
        case 0x88: push(value(Value(true))); break;
        case 0x89: push(value(Value(false))); break;
        case 'K': push(value(Value(static_cast<int64_t>(byte())))); break;
        case 'M': push(value(Value(static_cast<int64_t>(le(2))))); break;
        case 'J': push(value(Value(static_cast<int64_t>(static_cast<int32_t>(le(4)))))); break;
        case 0x8a: push(value(long_int(byte()))); break;  // LONG1
        case 0x8b: push(value(long_int(le(4)))); break;   // LONG4
        case 'G': {                                              // BINFLOAT, big-endian
          std::string_view b = take(8);
          uint64_t bits = 0;
          for (char c : b) bits = (bits << 8) | static_cast<uint8_t>(c);
          double d;
          std::memcpy(&d, &bits, 8);
          push(value(Value(d)));
          break;
        }
        case 'X': push(value(Value(std::string(take(le(4)))))); break;   // BINUNICODE
        case 0x8c: push(value(Value(std::string(take(byte()))))); break; // SHORT_BINUNICODE
        case 0x8d: push(value(Value(std::string(take(le(8)))))); break;  // BINUNICODE8
        case 'U': push(value(Value(std::string(take(byte()))))); break;  // SHORT_BINSTRING
        case 'T': push(value(Value(std::string(take(le(4)))))); break;   // BINSTRING
        case 'C': push(value(Value(std::string(take(byte()))))); break;  // SHORT_BINBYTES
        case 'B': push(value(Value(std::string(take(le(4)))))); break;   // BINBYTES
        case '}': push(new_dict()); break;
        case ']': push(new_list({})); break;  // EMPTY_LIST; a tuple is a list nobody appends to
        case ')': push(new_list({})); break;
        case 't': push(new_list(pop_to_mark())); break;
        case 0x85: case 0x86: case 0x87: {
          size_t n = op - 0x84;
          if (stack_.size() < n) fail("a tuple of missing items");
          for (size_t j = stack_.size() - n; j < stack_.size(); ++j)
            if (std::holds_alternative<Mark>(stack_[j].v)) fail("a tuple of missing items");
          Items t(std::make_move_iterator(stack_.end() - static_cast<std::ptrdiff_t>(n)),
                  std::make_move_iterator(stack_.end()));
          stack_.resize(stack_.size() - n);
          push(new_list(std::move(t)));
          break;
        }
        case 'c': {  // GLOBAL module\nname\n
          std::string module = line(), name = line();
          push(Item{Global{module, name}});
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          Item name = pop(), module = pop();
          push(Item{Global{text(module), text(name)}});
          break;
        }
        case 'q': memo(byte()); break;
        case 'r': memo(le(4)); break;
        case 0x94: memo(memo_next_); break;
        case 'h': recall(byte()); break;
        case 'j': recall(le(4)); break;
        case 'Q': {  // BINPERSID: a storage
          Item pid = pop();
          push(Item{storage_of(pid)});
          break;
        }
        case 'R': {  // REDUCE
          Item args = pop(), callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: case 0x92: {  // NEWOBJ, NEWOBJ_EX: an instance of a Python class
          if (op == 0x92) pop();
          pop();
          Item cls = pop();
          auto* g = std::get_if<Global>(&cls.v);
          fail("it holds an object of the Python class " + (g ? g->qualified() : std::string("?")) +
               " (a pickled nn.Module?); pipette reads tensors and dicts and lists of them: save "
               "model.state_dict(), or export the model with torch.jit.script or trace for model.load");
        }
        case 'b': pop(); break;  // BUILD: the state of an OrderedDict (_metadata) or a tensor: not needed
        case 's': {
          Item v = pop(), k = pop();
          set_item(k, v);
          break;
        }
        case 'u': {
          Items kv = pop_to_mark();
          if (kv.size() % 2) fail("SETITEMS with an odd count");
          for (size_t j = 0; j < kv.size(); j += 2) set_item(kv[j], kv[j + 1]);
          break;
        }
        case 'a': {
          Items one;
          one.push_back(pop());
          append(std::move(one));
          break;
        }
        case 'e': append(pop_to_mark()); break;
        default:
          fail("pickle opcode 0x" + hex(op) + " at byte " + std::to_string(i_ - 1) + " is not one torch.save writes");
      }
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) { bad(file_, why); }

  Item new_list(Items items) {
    lists_.push_back(std::move(items));
    return Item{ListRef{lists_.size() - 1}};
  }
  Item new_dict() {
    dicts_.emplace_back();
    return Item{DictRef{dicts_.size() - 1}};
  }
  // The result as pipette values: lists and tuples become lists, dicts records.
  // Depth and size are bounded, so a cycle (a dict holding itself) or a list
  // shared a billion times over is an error, not a crash or an exhausted memory.
  Value to_value(const Item& it, size_t depth, size_t& budget) {
    if (budget-- == 0) fail("more than " + std::to_string(kMaxValues) + " values");
    if (auto* v = std::get_if<Value>(&it.v)) return *v;
    if (depth >= kMaxDepth) fail("lists or dicts nested more than " + std::to_string(kMaxDepth) + " deep (or holding themselves)");
    if (auto* l = std::get_if<ListRef>(&it.v)) {
      c10::impl::GenericList list(c10::AnyType::get());
      for (size_t j = 0; j < lists_[l->id].size(); ++j) list.push_back(to_value(lists_[l->id][j], depth + 1, budget));
      return Value(list);
    }
    if (auto* d = std::get_if<DictRef>(&it.v)) {
      c10::impl::GenericDict dict(c10::StringType::get(), c10::AnyType::get());
      for (size_t j = 0; j < dicts_[d->id].entries.size(); ++j) {
        const auto& [k, v] = dicts_[d->id].entries[j];
        dict.insert_or_assign(k, to_value(v, depth + 1, budget));
      }
      return Value(dict);
    }
    if (auto* g = std::get_if<Global>(&it.v))
      fail("it holds the Python object " + g->qualified() + "; pipette reads tensors, numbers, strings and dicts "
           "and lists of them (save model.state_dict(), or a TorchScript module for model.load)");
    fail("a value of an unexpected kind");
  }
  static std::string hex(uint8_t b) {
    const char* d = "0123456789abcdef";
    return std::string{d[b >> 4], d[b & 15]};
  }
  uint8_t byte() { return static_cast<uint8_t>(take(1)[0]); }
  uint64_t le(int n) {
    std::string_view b = take(static_cast<size_t>(n));
    uint64_t v = 0;
    for (int j = n - 1; j >= 0; --j) v = (v << 8) | static_cast<uint8_t>(b[static_cast<size_t>(j)]);
    return v;
  }
  // An integer of up to 64 bits; a longer one (the legacy format's magic
  // number) is kept as none: nothing pipette reads needs its value.
  Value long_int(uint64_t n) {
    std::string_view b = take(n);
    if (n > 8) return Value();
    uint64_t v = 0;
    for (size_t j = n; j-- > 0;) v = (v << 8) | static_cast<uint8_t>(b[j]);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);  // sign
    return Value(static_cast<int64_t>(v));
  }
  std::string_view take(uint64_t n) {
    if (!checked_range_inside(i_, n, s_.size())) fail("it ends in the middle of a value");
    std::string_view out = s_.substr(i_, n);
    i_ += n;
    return out;
  }
  std::string line() {
    size_t nl = s_.find('\n', i_);
    if (nl == std::string_view::npos || nl - i_ > 256) fail("a malformed class name");
    std::string out(s_.substr(i_, nl - i_));
    i_ = nl + 1;
    return out;
  }
  static Item value(Value v) { return Item{std::move(v)}; }
  void push(Item it) { stack_.push_back(std::move(it)); }
  Item pop() {
    if (stack_.empty() || std::holds_alternative<Mark>(stack_.back().v)) fail("an opcode without its operands");
    Item it = std::move(stack_.back());
    stack_.pop_back();
    return it;
  }
  Items pop_to_mark() {
    size_t mark = stack_.size();
    while (mark > 0 && !std::holds_alternative<Mark>(stack_[mark - 1].v)) --mark;
    if (mark == 0) fail("MARK missing");
    Items out(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(mark)),
              std::make_move_iterator(stack_.end()));
    stack_.resize(mark - 1);
    return out;
  }
  std::string text(const Item& it) {
    auto* v = std::get_if<Value>(&it.v);
    if (!v || !v->isString()) fail("a class name that is not a string");
    return v->toStringRef();
  }
  void memo(uint64_t k) {
    if (stack_.empty()) fail("MEMO of nothing");
    if (k > (1u << 24)) fail("a memo index too large");
    memo_[k] = stack_.back();
    memo_next_ = std::max<uint64_t>(memo_next_, k + 1);
  }
  void recall(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) fail("a reference to an unknown memo entry");
    push(it->second);
  }
  void set_item(const Item& k, const Item& v) {
    if (stack_.empty()) fail("SETITEM without a dict");
    auto* d = std::get_if<DictRef>(&stack_.back().v);
    if (!d) fail("SETITEM on something that is not a dict");
    auto* key = std::get_if<Value>(&k.v);
    if (!key || !key->isString()) fail("a dict key that is not a string (pipette reads string-keyed dicts)");
    Dict& dict = dicts_[d->id];
    auto [it, fresh] = dict.index.emplace(key->toStringRef(), dict.entries.size());
    if (fresh) dict.entries.emplace_back(key->toStringRef(), v);
    else dict.entries[it->second].second = v;
  }
  void append(Items xs) {
    if (stack_.empty()) fail("APPEND without a list");
    auto* l = std::get_if<ListRef>(&stack_.back().v);
    if (!l) fail("APPEND to something that is not a list");
    Items& list = lists_[l->id];
    list.insert(list.end(), std::make_move_iterator(xs.begin()), std::make_move_iterator(xs.end()));
  }
  const Items* list_of(const Item& it) {
    auto* l = std::get_if<ListRef>(&it.v);
    return l ? &lists_[l->id] : nullptr;
  }
  Storage storage_of(const Item& pid) {
    const Items* t = list_of(pid);
    if (!t || t->size() < 5) fail("a persistent id that is not a storage");
    auto* kind = std::get_if<Value>(&(*t)[0].v);
    auto* type = std::get_if<Global>(&(*t)[1].v);
    auto* key = std::get_if<Value>(&(*t)[2].v);
    auto* numel = std::get_if<Value>(&(*t)[4].v);
    if (!kind || !kind->isString() || kind->toStringRef() != "storage" || !type || !key || !key->isString() || !numel ||
        !numel->isInt() || numel->toInt() < 0)
      fail("a malformed storage reference");
    auto dtype = storage_dtype(type->name);
    if (!dtype) fail("a storage of type " + type->qualified() + ", which pipette does not read");
    return Storage{*dtype, key->toStringRef(), numel->toInt()};
  }
  Item reduce(const Item& callable, const Item& args_item) {
    auto* g = std::get_if<Global>(&callable.v);
    const Items* args = list_of(args_item);
    if (!g || !args) fail("a call of something that is not a class");
    std::string f = g->qualified();
    if (f == "collections.OrderedDict") return new_dict();
    if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor")
      return value(Value(rebuild_tensor(*args)));
    if (f == "torch._utils._rebuild_parameter") {
      if (args->empty()) fail("_rebuild_parameter without data");
      return (*args)[0];
    }
    if (f == "torch.Size") return args->empty() ? new_list({}) : (*args)[0];
    fail("it holds the Python object " + f + "; pipette reads tensors, numbers, strings and dicts and lists of "
         "them (save model.state_dict(), or a TorchScript module for model.load)");
  }
  std::vector<int64_t> ints(const Item& it, const char* what) {
    const Items* t = list_of(it);
    if (!t || t->size() > 64) fail(std::string("a tensor's ") + what + " is not a tuple of sizes");
    std::vector<int64_t> out;
    for (auto& x : *t) {
      auto* v = std::get_if<Value>(&x.v);
      if (!v || !v->isInt()) fail(std::string("a tensor's ") + what + " holds a non-integer");
      out.push_back(v->toInt());
    }
    return out;
  }
  at::Tensor rebuild_tensor(const Items& a) {
    if (a.size() < 4) fail("a tensor without its storage, offset, size and stride");
    auto* st = std::get_if<Storage>(&a[0].v);
    auto* off = std::get_if<Value>(&a[1].v);
    if (!st || !off || !off->isInt()) fail("a malformed tensor");
    std::vector<int64_t> size = ints(a[2], "size"), stride = ints(a[3], "stride");
    if (size.size() != stride.size()) fail("a tensor whose size and stride differ in length");
    at::Tensor storage = storage_tensor(*st);
    if (!storage.defined()) return at::Tensor();  // a first pass that only looks for the end
    // The view must lie inside the storage: offset + sum((size - 1) * stride) < numel.
    int64_t last = off->toInt(), numel = 1;
    if (last < 0) fail("a negative storage offset");
    for (size_t d = 0; d < size.size(); ++d) {
      if (size[d] < 0 || stride[d] < 0) fail("a negative size or stride");
      auto n = checked_mul(numel, size[d]);
      if (!n) fail("a tensor larger than any machine");
      numel = *n;
      if (size[d] > 0) {
        auto reach = checked_mul(size[d] - 1, stride[d]);
        if (!reach || *reach > INT64_MAX - last) fail("a view outside its storage");
        last += *reach;
      }
    }
    if (numel > 0 && last >= storage.numel()) fail("a view outside its storage");
    if (numel == 0) return at::empty(size, storage.options());
    // A view may repeat its storage (stride 0, as expand() saves): what it
    // materialises is bounded by the file's own size, so a few bytes cannot
    // ask for gigabytes.
    auto bytes = checked_tensor_bytes({numel}, storage.element_size());
    if (!bytes || *bytes > materialise_left_) fail("a tensor that repeats its storage to more bytes than the file could hold");
    materialise_left_ -= *bytes;
    return storage.as_strided(size, stride, off->toInt()).clone();
  }
  at::Tensor storage_tensor(const Storage& s) {
    auto it = storages_.find(s.key);
    if (it != storages_.end()) return it->second;
    at::Tensor t = load_(s);
    storages_[s.key] = t;
    return t;
  }

  std::string_view s_;
  std::string file_;
  StorageLoader load_;
  size_t i_ = 0;
  Items stack_;
  std::vector<Items> lists_;
  std::vector<Dict> dicts_;
  uint64_t materialise_left_ = 0;
  std::map<uint64_t, Item> memo_;
  uint64_t memo_next_ = 0;
  std::map<std::string, at::Tensor> storages_;
};

// The bytes of `bytes` as a tensor of `dtype` with `numel` elements, checked.
at::Tensor storage_from(const char* data, uint64_t have, const Storage& s, const std::string& file) {
  auto need = checked_tensor_bytes({s.numel}, c10::elementSize(s.dtype));
  if (!need || *need > have) bad(file, "storage " + s.key + " is shorter than its tensor");
  at::Tensor t = at::empty({s.numel}, at::TensorOptions().dtype(s.dtype));
  if (*need) std::memcpy(t.data_ptr(), data, *need);
  return t;
}

// What a file of `size` bytes may materialise: an expanded view repeats its
// storage, but not without bound.
uint64_t materialise_limit(uint64_t size) { return 16 * size + (256ull << 20); }

// One entry of a torch.save zip, found by LibTorch's reader but read here:
// the central directory must say the entry is stored (torch.save compresses
// nothing), so no claimed size is ever allocated or inflated (a zip bomb), and
// the bytes are read straight from the file, checked against its end.
// (torch.save's local headers carry no sizes: they follow the data, as the
// central directory repeats them.)
class ZipEntries {
 public:
  explicit ZipEntries(const std::filesystem::path& path)
      : file_(path.string()), reader_(file_), in_(path, std::ios::binary) {
    std::error_code ec;
    size_ = std::filesystem::file_size(path, ec);
    if (ec || !in_) bad(file_, "it cannot be read");
    read_central_directory();
  }
  uint64_t size() const { return size_; }
  bool has(const std::string& name) { return reader_.hasRecord(name); }
  // `want` bytes of the entry (all of it when unset).
  std::string read(const std::string& name, std::optional<uint64_t> want = std::nullopt) {
    auto it = sizes_.find(name);
    if (it == sizes_.end()) bad(file_, "entry " + name + " is not in the zip's directory");
    uint64_t n = want.value_or(it->second);
    if (n > it->second) bad(file_, "entry " + name + " is shorter than its tensor");
    uint64_t offset = reader_.getRecordOffset(name);
    if (!checked_range_inside(offset, n, size_)) bad(file_, "entry " + name + " runs past the end of the file");
    return bytes(offset, n);
  }

 private:
  static uint64_t le(const char* p, int n) {
    uint64_t v = 0;
    for (int j = n - 1; j >= 0; --j) v = (v << 8) | static_cast<uint8_t>(p[j]);
    return v;
  }
  std::string bytes(uint64_t offset, uint64_t n) {
    if (!checked_range_inside(offset, n, size_)) bad(file_, "a zip record runs past the end of the file");
    std::string out(n, '\0');
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(offset));
    in_.read(out.data(), static_cast<std::streamsize>(n));
    if (static_cast<uint64_t>(in_.gcount()) != n) bad(file_, "it cannot be read");
    return out;
  }
  // Sizes and methods from the central directory (zip64 where torch.save
  // needed it), keyed by the name without the archive's top folder.
  void read_central_directory() {
    uint64_t tail_len = std::min<uint64_t>(size_, 22 + 65535);
    std::string tail = bytes(size_ - tail_len, tail_len);
    size_t eocd = std::string::npos;
    for (size_t at = tail.size() >= 22 ? tail.size() - 22 + 1 : 0; at-- > 0;)
      if (std::memcmp(tail.data() + at, "PK\x05\x06", 4) == 0) {
        eocd = at;
        break;
      }
    if (eocd == std::string::npos) bad(file_, "a zip without its directory");
    uint64_t count = le(tail.data() + eocd + 10, 2), dir_size = le(tail.data() + eocd + 12, 4),
             dir_offset = le(tail.data() + eocd + 16, 4);
    if ((count == 0xffff || dir_size == 0xffffffff || dir_offset == 0xffffffff) && eocd >= 20 &&
        std::memcmp(tail.data() + eocd - 20, "PK\x06\x07", 4) == 0) {
      std::string z = bytes(le(tail.data() + eocd - 20 + 8, 8), 56);
      if (std::memcmp(z.data(), "PK\x06\x06", 4) != 0) bad(file_, "a zip64 directory that is not one");
      count = le(z.data() + 32, 8), dir_size = le(z.data() + 40, 8), dir_offset = le(z.data() + 48, 8);
    }
    if (count > (1u << 20) || !checked_range_inside(dir_offset, dir_size, size_))
      bad(file_, "a zip directory that does not fit the file");
    std::string dir = bytes(dir_offset, dir_size);
    size_t at = 0;
    for (uint64_t k = 0; k < count; ++k) {
      if (at + 46 > dir.size() || std::memcmp(dir.data() + at, "PK\x01\x02", 4) != 0)
        bad(file_, "a damaged zip directory");
      const char* h = dir.data() + at;
      uint64_t method = le(h + 10, 2), plain = le(h + 24, 4), compressed = le(h + 20, 4);
      size_t name_len = le(h + 28, 2), extra_len = le(h + 30, 2), comment_len = le(h + 32, 2);
      if (at + 46 + name_len + extra_len + comment_len > dir.size()) bad(file_, "a damaged zip directory");
      std::string name(h + 46, name_len);
      // Zip64: the sizes that do not fit 32 bits follow in extra field 0x0001.
      for (size_t e = 0; e + 4 <= extra_len;) {
        const char* x = h + 46 + name_len + e;
        size_t id = le(x, 2), len = le(x + 2, 2);
        if (e + 4 + len > extra_len) break;
        if (id == 1) {
          size_t f = 4;
          if (plain == 0xffffffff && f + 8 <= 4 + len) plain = le(x + f, 8), f += 8;
          if (compressed == 0xffffffff && f + 8 <= 4 + len) compressed = le(x + f, 8), f += 8;
        }
        e += 4 + len;
      }
      size_t slash = name.find('/');
      std::string key = slash == std::string::npos ? name : name.substr(slash + 1);
      if (method != 0 && key.rfind("data", 0) == 0)
        bad(file_, "entry " + key + " is compressed, which torch.save never does");
      if (method == 0 && compressed != plain) bad(file_, "entry " + key + " claims two sizes");
      sizes_[key] = plain;
      at += 46 + name_len + extra_len + comment_len;
    }
  }

  std::string file_;
  caffe2::serialize::PyTorchStreamReader reader_;
  std::ifstream in_;
  uint64_t size_ = 0;
  std::map<std::string, uint64_t> sizes_;
};

Value load_zip(const std::filesystem::path& path) {
  const std::string file = path.string();
  ZipEntries zip(path);
  if (!zip.has("data.pkl")) bad(file, "a zip archive without data.pkl (a TorchScript module? use model.load)");
  std::string pkl = zip.read("data.pkl");
  Machine m(pkl, file,
            [&](const Storage& s) {
              std::string name = "data/" + s.key;
              if (!zip.has(name)) bad(file, "storage " + s.key + " is missing from the archive");
              auto need = checked_tensor_bytes({s.numel}, c10::elementSize(s.dtype));
              if (!need || *need > zip.size()) bad(file, "storage " + s.key + " is larger than the file");
              std::string data = zip.read(name, *need);
              return storage_from(data.data(), data.size(), s, file);
            },
            materialise_limit(zip.size()));
  return m.run();
}

// The legacy format: pickles of the magic number, the protocol version and
// system information, then the object, then the list of storage keys, then
// each storage as an 8-byte element count and its bytes, in that order.
Value load_legacy(const std::filesystem::path& path) {
  const std::string file = path.string();
  std::string all = read_file_bytes(path);
  std::string_view rest(all);
  auto skip_pickle = [&] {
    size_t end = 0;
    Machine(rest, file, [&](const Storage&) -> at::Tensor { bad(file, "a storage before the object"); }, 0).run(&end);
    rest.remove_prefix(end);
  };
  skip_pickle();  // magic number
  skip_pickle();  // protocol version
  skip_pickle();  // sys_info
  std::vector<Storage> wanted;
  size_t obj_end = 0;
  std::string_view obj = rest;
  // First pass: find where the object ends, collecting the storages it names.
  Machine(
      obj, file,
      [&](const Storage& s) {
        wanted.push_back(s);
        return at::Tensor();
      },
      0)
      .run(&obj_end);
  rest.remove_prefix(obj_end);
  size_t keys_end = 0;
  Value key_list =
      Machine(rest, file, [&](const Storage&) -> at::Tensor { bad(file, "a storage in the list of keys"); }, 0)
          .run(&keys_end);
  rest.remove_prefix(keys_end);
  std::map<std::string, at::Tensor> storages;
  if (!key_list.isList()) bad(file, "no list of storage keys after the object");
  std::map<std::string, Storage> by_key;
  for (auto& s : wanted) by_key[s.key] = s;
  for (const auto& k : key_list.toListRef()) {
    if (!k.isString() || !by_key.count(k.toStringRef())) bad(file, "an unknown storage key");
    if (rest.size() < 8) bad(file, "it ends before storage " + k.toStringRef());
    uint64_t n = 0;
    std::memcpy(&n, rest.data(), 8);
    rest.remove_prefix(8);
    Storage s = by_key[k.toStringRef()];
    auto bytes = checked_tensor_bytes({static_cast<int64_t>(n)}, c10::elementSize(s.dtype));
    if (!bytes || n > static_cast<uint64_t>(INT64_MAX) || *bytes > rest.size()) bad(file, "storage " + s.key + " is truncated");
    s.numel = static_cast<int64_t>(n);
    storages[s.key] = storage_from(rest.data(), rest.size(), s, file);
    rest.remove_prefix(*bytes);
  }
  Machine again(
      obj, file,
      [&](const Storage& s) {
        auto it = storages.find(s.key);
        if (it == storages.end()) bad(file, "storage " + s.key + " is missing");
        return it->second;
      },
      materialise_limit(all.size()));
  return again.run();
}

}  // namespace

Value read_torch_save_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  char head[4] = {};
  in.read(head, 4);
  bool zip = in.gcount() == 4 && std::memcmp(head, "PK\x03\x04", 4) == 0;
  bool pickle = in.gcount() >= 1 && static_cast<uint8_t>(head[0]) == 0x80;
  in.close();
  try {
    if (zip) return load_zip(path);
    if (pickle) return load_legacy(path);
  } catch (const OpError&) {
    throw;
  } catch (const c10::Error& e) {
    bad(path.string(), excerpt(e.what_without_backtrace(), 300));
  }
  throw OpError("'" + path.string() +
                "' is neither a zip archive (torch.save since PyTorch 1.6) nor a pickle (older torch.save)");
}

}  // namespace pipette
