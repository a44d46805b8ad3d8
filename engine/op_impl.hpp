// How an op runs: a function from its arguments (every parameter of its
// signature, resolved to values) and a context to one value. Built-ins and
// plugins implement ops the same way.
#pragma once

#include "engine/api.hpp"

#include <ATen/core/Generator.h>
#include <c10/core/Device.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/graph.hpp"
#include "engine/value.hpp"

namespace pipette {

class Dataset;  // engine/dataset.hpp

// An error an op reports to the user; the engine adds the node and source line.
class PIPETTE_API OpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `text` cut to at most `max_bytes` (at a UTF-8 character boundary) with a note
// of how much was left out, control characters escaped: messages that quote a
// user's file stay short and printable, whatever the file holds.
PIPETTE_API std::string excerpt(std::string_view text, size_t max_bytes = 80);

// A file's bytes, whole. Throws OpError "cannot open 'PATH'" when it cannot be read.
PIPETTE_API std::string read_file_bytes(const std::filesystem::path& path);

// What went wrong inside a TorchScript model, without the interpreter's two
// tracebacks of serialized and original code (some 15 lines a user cannot act
// on): the final error line ("mat1 and mat2 shapes cannot be multiplied ..."),
// as "in the model's code: ...". Other messages are returned unchanged.
PIPETTE_API std::string without_torchscript_trace(const std::string& message);

struct PIPETTE_API OpContext {
  const Node& node;
  c10::Device device = c10::Device(c10::kCPU);
  // Derived from the run seed and the node's identity; an op's own `seed`
  // argument, when given (an int), replaces it.
  uint64_t seed = 0;
  std::filesystem::path out_dir;         // where `save`-like ops write
  std::filesystem::path script_dir;      // relative input paths start here
  const std::atomic<bool>* cancel = nullptr;
  // Bytes the op may use for its working set; ops that grow along an axis
  // (steps, samples, perturbations) chunk it to stay under. 0 = no limit.
  uint64_t memory_budget = 0;
  std::function<void(uint64_t done, uint64_t total)> progress_sink;  // set by the executor
  std::function<void(int level, const std::string& message)> log_sink;

  enum Level { Debug = 0, Info = 1, Warn = 2 };
  // Progress on a long loop, `done` of `total` items: drives the live progress
  // line on a terminal. Cheap; call it every iteration.
  void progress(uint64_t done, uint64_t total) const {
    if (progress_sink) progress_sink(done, total);
  }
  // A message in the run's log, attributed to this node.
  void log(Level level, const std::string& message) const {
    if (log_sink) log_sink(level, message);
  }

  bool cancelled() const { return cancel && cancel->load(std::memory_order_relaxed); }
  // A CPU generator seeded for this node: the same node gives the same numbers in
  // every run and under any thread schedule.
  at::Generator generator() const;
  // A relative input path, resolved against the script's directory.
  std::filesystem::path input_path(const std::string& p) const;
  // Writes a file at `rel` inside the run's output directory, atomically and
  // never outside it (a symbolic link on the way is refused: engine/atomic_file.hpp).
  // The one way an op writes a file; encode_value_file makes the bytes of a value.
  void write_output(const std::string& rel, std::string_view bytes) const;
};

class PIPETTE_API OpArgs {
 public:
  OpArgs(const Node& node, std::vector<Value> values) : node_(node), values_(std::move(values)) {}

  const Value& operator[](const std::string& name) const;
  bool is_none(const std::string& name) const { return (*this)[name].isNone(); }
  int64_t int_(const std::string& name) const;
  double float_(const std::string& name) const;  // accepts ints
  bool bool_(const std::string& name) const;
  const std::string& string(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;  // accepts scalars as 0-d tensors
  c10::intrusive_ptr<Dataset> dataset(const std::string& name) const;

 private:
  const Node& node_;
  std::vector<Value> values_;
};

using OpRun = std::function<Value(const OpArgs&, OpContext&)>;

// Implementations by op name (signatures live in OpRegistry).
class OpImpls {
 public:
  void add(const std::string& name, OpRun run) { impls_[name] = std::move(run); }
  const OpRun* find(const std::string& name) const {
    auto it = impls_.find(name);
    return it == impls_.end() ? nullptr : &it->second;
  }

 private:
  std::map<std::string, OpRun> impls_;
};

}  // namespace pipette
