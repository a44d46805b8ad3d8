#include "engine/trained_params.hpp"

#include "engine/hook_points.hpp"

namespace pipette {

namespace {

bool glob_from(const std::string& pattern, const std::string& s, size_t p, size_t i) {
  for (; p < pattern.size(); ++p, ++i) {
    if (pattern[p] == '*') {
      for (size_t k = i; k <= s.size(); ++k)
        if (glob_from(pattern, s, p + 1, k)) return true;
      return false;
    }
    if (i >= s.size() || pattern[p] != s[i]) return false;
  }
  return i == s.size();
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& s) { return glob_from(pattern, s, 0, 0); }

std::set<std::string> parameters_matching(const torch::jit::Module& m, const std::vector<std::string>& patterns,
                                          const std::string& what) {
  std::set<std::string> chosen;
  auto named = parameters_by_path(m);
  for (const auto& pattern : patterns) {
    bool any = false;
    for (const auto& p : named)
      if (glob_match(pattern, p.first)) {
        chosen.insert(p.first);
        any = true;
      }
    if (!any) {
      std::string names;
      for (size_t i = 0; i < named.size() && i < 8; ++i) names += (i ? ", " : "") + named[i].first;
      if (named.size() > 8) names += ", ... (" + std::to_string(named.size()) + " in all)";
      throw OpError(what + ": the pattern '" + pattern + "' matches no parameter of the model (its parameters: " +
                    names + ")");
    }
  }
  return chosen;
}

std::set<std::string> trained_parameters(const torch::jit::Module& m, const OpArgs& a, const std::string& name) {
  if (a.is_none(name)) {
    std::set<std::string> all;
    for (const auto& p : parameters_by_path(m)) all.insert(p.first);
    return all;
  }
  std::vector<std::string> patterns;
  for (const auto& item : a[name].toListRef()) patterns.push_back(item.toStringRef());
  return parameters_matching(m, patterns, name);
}

TrainedParameters train_only(torch::jit::Module& m, const std::set<std::string>& trained) {
  m.train(true);
  TrainedParameters out;
  for (const auto& [path, p] : parameters_by_path(m)) {
    bool train = trained.count(path) > 0;
    p.requires_grad_(train);
    if (!train) continue;
    out.tensors.push_back(p);
    out.paths.push_back(path);
  }
  for (const auto& sub : m.named_modules()) {
    if (sub.name.empty()) continue;
    // Paths as parameters_by_path names them: without output='s wrapper.
    std::string path = user_path(m, sub.name);
    std::string prefix = path.empty() ? path : path + ".";
    bool has = false, any_trained = false;
    for (const auto& p : sub.value.named_parameters(/*recurse=*/true)) {
      has = true;
      if (trained.count(prefix + p.name)) any_trained = true;
    }
    if (has && !any_trained) torch::jit::Module(sub.value).train(false);
  }
  return out;
}

}  // namespace pipette
