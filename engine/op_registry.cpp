#include "engine/op_registry.hpp"

#include <cctype>
#include <set>

namespace pipette {

std::string_view op_namespace(std::string_view op_name) {
  auto dot = op_name.rfind('.');
  return dot == std::string_view::npos ? std::string_view{} : op_name.substr(0, dot);
}

namespace {
bool valid_op_name(std::string_view name) {
  if (name.empty() || name.front() == '.' || name.back() == '.') return false;
  char prev = '.';
  for (char c : name) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_') ||
               (prev == '.' && std::isdigit(static_cast<unsigned char>(c)))) {
      return false;
    }
    prev = c;
  }
  return true;
}
}  // namespace

void OpRegistry::add(OpSignature sig) {
  if (!valid_op_name(sig.name()))
    throw RegistryError("invalid op name '" + sig.name() + "' (want identifiers joined by dots)");
  auto it = ops_.find(sig.name());
  if (it != ops_.end()) {
    auto who = [](const OpSignature& s) {
      return s.plugin().empty() ? std::string("the standard library") : "plugin '" + s.plugin() + "'";
    };
    throw RegistryError("op '" + sig.name() + "' from " + who(sig) + " is already registered by " + who(it->second));
  }
  std::string name = sig.name();
  ops_.emplace(std::move(name), std::move(sig));
}

const OpSignature* OpRegistry::find(std::string_view name) const {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

OpSignature* OpRegistry::find_mutable(std::string_view name) {
  auto it = ops_.find(name);
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<const OpSignature*> OpRegistry::ops() const {
  std::vector<const OpSignature*> out;
  for (auto& [k, v] : ops_) out.push_back(&v);
  return out;
}

std::vector<const OpSignature*> OpRegistry::ops_in(std::string_view ns) const {
  std::vector<const OpSignature*> out;
  for (auto& [k, v] : ops_) {
    auto own = op_namespace(k);
    // "attr" lists attr.saliency and attr.layer.gradcam alike.
    if (own == ns || (own.size() > ns.size() && own.substr(0, ns.size()) == ns && own[ns.size()] == '.'))
      out.push_back(&v);
  }
  return out;
}

std::vector<std::string> OpRegistry::namespaces() const {
  std::set<std::string> out;
  for (auto& [k, v] : ops_) {
    std::string_view ns = op_namespace(k);
    while (!ns.empty()) {
      out.emplace(ns);
      ns = op_namespace(ns);
    }
  }
  return {out.begin(), out.end()};
}

bool OpRegistry::is_namespace(std::string_view name) const {
  for (auto& [k, v] : ops_) {
    if (k.size() > name.size() && k.compare(0, name.size(), name) == 0 && k[name.size()] == '.') return true;
  }
  return false;
}

}  // namespace pipette
