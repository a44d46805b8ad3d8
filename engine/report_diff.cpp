#include "engine/report_diff.hpp"

#include <fmt/format.h>

#include <functional>
#include <vector>

#include "engine/value_io.hpp"

namespace pipette {

using json = nlohmann::ordered_json;

void report_leaves(const json& j, const std::string& path, std::map<std::string, json>& out) {
  bool tensor_file = j.is_object() && j.contains("file") && j.contains("shape");
  if (j.is_object() && !tensor_file) {
    for (auto& [k, v] : j.items()) report_leaves(v, path + "." + k, out);
  } else if (j.is_array() && !j.empty() && (j.front().is_object() || j.front().is_array())) {
    for (size_t i = 0; i < j.size(); ++i) report_leaves(j[i], fmt::format("{}[{}]", path, i), out);
  } else {
    out[path] = j;
  }
}

bool is_tensor_leaf(const json& j) { return j.is_array() || (j.is_object() && j.contains("file")); }

std::optional<at::Tensor> report_tensor(const json& j, const std::filesystem::path& out_dir, std::string* why) {
  try {
    if (j.is_object() && j.contains("file")) {
      Value v = read_pt_file(out_dir / j["file"].get<std::string>());
      if (v.isTensor()) return v.toTensor().to(at::kDouble);
      *why = "not a tensor";
    } else if (j.is_array()) {
      std::vector<double> flat;
      std::function<void(const json&)> walk = [&](const json& x) {
        if (x.is_array())
          for (auto& e : x) walk(e);
        else if (x.is_number())
          flat.push_back(x.get<double>());
        else
          throw std::runtime_error("not numeric");
      };
      walk(j);
      return at::tensor(flat, at::kDouble);
    }
  } catch (const std::exception& e) {
    *why = e.what();
  }
  return std::nullopt;
}

std::optional<std::string> tensor_change(const json& a, const json& b, const std::filesystem::path& dir_a,
                                         const std::filesystem::path& dir_b) {
  std::string why;
  auto ta = report_tensor(a, dir_a, &why), tb = report_tensor(b, dir_b, &why);
  if (!ta || !tb) return a == b ? std::nullopt : std::optional<std::string>("changed (tensor files unreadable: " + why + ")");
  auto shape = [](const json& j, const at::Tensor& t) {
    return j.is_object() && j.contains("shape") ? j["shape"].dump() : fmt::format("[{}]", t.numel());
  };
  if (shape(a, *ta) != shape(b, *tb)) return "shape " + shape(a, *ta) + " -> " + shape(b, *tb);
  if (ta->equal(*tb)) return std::nullopt;
  at::Tensor d = (*ta - *tb).abs();
  double max_abs = d.max().item<double>();
  double max_rel = (d / ta->abs().clamp_min(1e-12)).max().item<double>();
  int64_t changed = d.gt(0).sum().item<int64_t>();
  return fmt::format("max |diff| {:.6g}, max relative {:.3g} ({} of {} values differ)", max_abs, max_rel, changed,
                     ta->numel());
}

}  // namespace pipette
