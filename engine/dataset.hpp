// Datasets: values that know their size and per-example fields, and read
// examples only when a consumer asks for them, a batch at a time.
//
// A dataset travels through the graph as a c10::IValue capsule. Opening one is
// cheap (a file header, an index tensor), so dataset-valued nodes are not put in
// the cache: they are re-opened when a consumer that is not itself cached needs
// them. `ds.images` in a script reads the whole field as one tensor (memoized).
#pragma once

#include "engine/api.hpp"

#include <ATen/core/ivalue.h>

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/value.hpp"

namespace pipette {

class PIPETTE_API Dataset : public torch::CustomClassHolder {
 public:
  ~Dataset() override;

  virtual int64_t size() const = 0;
  // The per-example fields, in order (e.g. images, labels).
  virtual std::vector<std::string> fields() const = 0;
  bool has_field(const std::string& name) const;
  // For messages: "Fashion-MNIST test (256 examples)".
  virtual std::string summary() const = 0;

  // Examples at `indices` (int64, 1-D, each in [0, size)) as a record with one
  // tensor per field, each with a leading dimension of indices.size(0).
  Value gather(const at::Tensor& indices) const;
  // Examples [begin, end).
  Value slice(int64_t begin, int64_t end) const;
  // A whole field as one tensor; read once and kept while the dataset lives.
  at::Tensor column(const std::string& field) const;
  // Every field: what `save(ds, "x.pt")` writes.
  Value materialize() const;

 protected:
  // What gather() calls once the indices are checked.
  virtual Value read(const at::Tensor& indices) const = 0;

 private:
  mutable std::mutex mu_;
  mutable std::map<std::string, at::Tensor> columns_;
};

using DatasetPtr = c10::intrusive_ptr<Dataset>;

// The field a model reads from a dataset's examples: "images", or "features"
// for tabular data (data.csv). Throws OpError naming the fields when neither.
PIPETTE_API std::string model_input_field(const Dataset& d);

PIPETTE_API Value make_dataset(DatasetPtr d);
PIPETTE_API bool is_dataset(const Value& v);
// Throws OpError when `v` is not a dataset.
PIPETTE_API DatasetPtr to_dataset(const Value& v);
// Whether a dataset hides anywhere inside `v` (records, lists): such values are
// not cached.
PIPETTE_API bool contains_dataset(const Value& v);

// A dataset over tensors already in memory; every field shares its first
// dimension, the example axis.
PIPETTE_API DatasetPtr tensor_dataset(std::vector<std::pair<std::string, at::Tensor>> fields, std::string summary);
// The examples `indices` of `base`, in that order: subsets, splits and shuffles
// without copying anything.
PIPETTE_API DatasetPtr index_dataset(DatasetPtr base, at::Tensor indices, std::string summary);

}  // namespace pipette
