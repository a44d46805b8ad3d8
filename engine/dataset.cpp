#include "engine/dataset.hpp"

#include <algorithm>

#include <ATen/ATen.h>

#include "engine/op_impl.hpp"

namespace pipette {

Dataset::~Dataset() = default;

Value Dataset::gather(const at::Tensor& indices) const {
  at::Tensor idx = indices.to(at::kCPU, at::kLong).reshape({-1});
  if (idx.numel() > 0) {
    int64_t lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
    if (lo < 0 || hi >= size())
      throw OpError("example index " + std::to_string(lo < 0 ? lo : hi) + " is out of range for " + summary());
  }
  return read(idx);
}

Value Dataset::slice(int64_t begin, int64_t end) const {
  begin = std::clamp<int64_t>(begin, 0, size());
  end = std::clamp<int64_t>(end, begin, size());
  return read(at::arange(begin, end, at::kLong));
}

bool Dataset::has_field(const std::string& name) const {
  auto names = fields();
  return std::find(names.begin(), names.end(), name) != names.end();
}

at::Tensor Dataset::column(const std::string& field) const {
  if (!has_field(field))
    throw OpError("the dataset " + summary() + " has no field '" + field + "'");
  std::lock_guard lock(mu_);  // one reader at a time; every consumer shares the result
  auto it = columns_.find(field);
  if (it != columns_.end()) return it->second;
  Value all = slice(0, size());
  for (const auto& kv : all.toGenericDict()) columns_[kv.key().toStringRef()] = kv.value().toTensor();
  return columns_.at(field);
}

Value Dataset::materialize() const {
  std::vector<std::pair<std::string, Value>> out;
  for (auto& f : fields()) out.emplace_back(f, Value(column(f)));
  return make_record(out);
}

Value make_dataset(DatasetPtr d) { return Value::make_capsule(std::move(d)); }

bool is_dataset(const Value& v) {
  return v.isCapsule() && dynamic_cast<const Dataset*>(v.toCapsule().get()) != nullptr;
}

DatasetPtr to_dataset(const Value& v) {
  if (!is_dataset(v)) throw OpError("expected a dataset, found " + describe(v));
  return c10::static_intrusive_pointer_cast<Dataset>(v.toCapsule());
}

bool contains_dataset(const Value& v) { return any_within(v, is_dataset); }

namespace {

class TensorDataset final : public Dataset {
 public:
  TensorDataset(std::vector<std::pair<std::string, at::Tensor>> fields, std::string summary)
      : fields_(std::move(fields)), summary_(std::move(summary)) {
    if (fields_.empty()) throw OpError("a dataset needs at least one field");
    for (auto& [name, t] : fields_) {
      if (t.dim() == 0) throw OpError("field '" + name + "' is a scalar; a dataset field needs an example axis");
      if (t.size(0) != fields_.front().second.size(0))
        throw OpError("field '" + name + "' has " + std::to_string(t.size(0)) + " examples, field '" +
                      fields_.front().first + "' has " + std::to_string(fields_.front().second.size(0)));
    }
  }
  int64_t size() const override { return fields_.front().second.size(0); }
  std::vector<std::string> fields() const override {
    std::vector<std::string> names;
    for (auto& f : fields_) names.push_back(f.first);
    return names;
  }
  std::string summary() const override { return summary_ + " (" + std::to_string(size()) + " examples)"; }

 protected:
  Value read(const at::Tensor& idx) const override {
    std::vector<std::pair<std::string, Value>> out;
    for (auto& [name, t] : fields_) out.emplace_back(name, Value(t.index_select(0, idx.to(t.device()))));
    return make_record(out);
  }

 private:
  std::vector<std::pair<std::string, at::Tensor>> fields_;
  std::string summary_;
};

class IndexDataset final : public Dataset {
 public:
  IndexDataset(DatasetPtr base, at::Tensor indices, std::string summary)
      : base_(std::move(base)), indices_(indices.to(at::kCPU, at::kLong).reshape({-1})), summary_(std::move(summary)) {}
  int64_t size() const override { return indices_.size(0); }
  std::vector<std::string> fields() const override { return base_->fields(); }
  std::string summary() const override { return summary_ + " (" + std::to_string(size()) + " examples)"; }

 protected:
  Value read(const at::Tensor& idx) const override { return base_->gather(indices_.index_select(0, idx)); }

 private:
  DatasetPtr base_;
  at::Tensor indices_;
  std::string summary_;
};

}  // namespace

DatasetPtr tensor_dataset(std::vector<std::pair<std::string, at::Tensor>> fields, std::string summary) {
  return c10::make_intrusive<TensorDataset>(std::move(fields), std::move(summary));
}

DatasetPtr index_dataset(DatasetPtr base, at::Tensor indices, std::string summary) {
  return c10::make_intrusive<IndexDataset>(std::move(base), std::move(indices), std::move(summary));
}

std::string model_input_field(const Dataset& d) {
  for (const char* name : {"images", "features"})
    if (d.has_field(name)) return name;
  std::string have;
  for (auto& x : d.fields()) have += (have.empty() ? "" : ", ") + x;
  throw OpError("the dataset " + d.summary() + " has no field 'images' or 'features' for the model to read (it has: " +
                have + ")");
}

}  // namespace pipette
