#include "engine/report_diff.hpp"

#include <fmt/format.h>

#include <functional>
#include <vector>

#include "engine/value_io.hpp"

namespace pipette {

using json = nlohmann::ordered_json;

bool is_report_tensor_file(const json& j) {
  if (!j.is_object() || j.size() != 3 || !j.contains("file") || !j.contains("shape") || !j.contains("dtype")) return false;
  const json &file = j["file"], &shape = j["shape"];
  if (!file.is_string() || !j["dtype"].is_string() || !shape.is_array()) return false;
  for (auto& d : shape)
    if (!d.is_number_integer() || d.get<int64_t>() < 0) return false;
  std::filesystem::path p(file.get<std::string>());
  if (p.is_absolute() || p.empty() || *p.begin() != "reports") return false;
  for (auto& part : p)
    if (part == "..") return false;
  return true;
}

void report_leaves(const json& j, const std::string& path, std::map<std::string, json>& out) {
  if (j.is_object() && !is_report_tensor_file(j)) {
    for (auto& [k, v] : j.items()) report_leaves(v, path + "." + k, out);
  } else if (j.is_array() && !j.empty() && (j.front().is_object() || j.front().is_array())) {
    for (size_t i = 0; i < j.size(); ++i) report_leaves(j[i], fmt::format("{}[{}]", path, i), out);
  } else {
    out[path] = j;
  }
}

namespace {

bool numbers_only(const json& j) {
  if (j.is_number()) return true;
  if (!j.is_array()) return false;
  for (auto& e : j)
    if (!numbers_only(e)) return false;
  return true;
}

}  // namespace

bool is_tensor_leaf(const json& j) { return is_report_tensor_file(j) || (j.is_array() && numbers_only(j)); }

std::optional<at::Tensor> report_tensor(const json& j, const std::filesystem::path& out_dir, std::string* why) {
  try {
    if (is_report_tensor_file(j)) {
      Value v = read_pt_file(out_dir / j["file"].get<std::string>());
      if (v.isTensor()) return v.toTensor().to(at::kDouble);
      *why = "not a tensor";
    } else if (j.is_array() && numbers_only(j)) {
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
    } else {
      *why = "neither a tensor file nor a list of numbers";
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
  at::Tensor x = ta->flatten(), y = tb->flatten();
  at::Tensor same = at::isclose(x, y, 0.0, 0.0, /*equal_nan=*/true);
  int64_t changed = x.numel() - same.sum().item<int64_t>();
  if (changed == 0) return std::nullopt;
  // The sizes of the changes among values finite in both; NaN or Inf on one side only is counted apart.
  at::Tensor finite = x.isfinite().logical_and(y.isfinite()).logical_and(same.logical_not());
  int64_t nonfinite = changed - finite.sum().item<int64_t>();
  std::string out;
  if (finite.any().item<bool>()) {
    at::Tensor d = (x - y).abs().masked_select(finite), base = x.abs().masked_select(finite);
    out = fmt::format("max |diff| {:.6g}, max relative {:.3g} ", d.max().item<double>(),
                      (d / base.clamp_min(1e-12)).max().item<double>());
  }
  out += fmt::format("({} of {} values differ", changed, x.numel());
  if (nonfinite) out += fmt::format("; {} of them NaN or infinite on one side", nonfinite);
  return out + ")";
}

}  // namespace pipette
