// The one piece of shared mutable state DESIGN.md allows: which ops exist.
// Built-ins and plugins register the same way; lookups are by full name.
#pragma once

#include "engine/api.hpp"

#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "engine/op_signature.hpp"

namespace pipette {

class PIPETTE_API RegistryError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PIPETTE_API OpRegistry {
 public:
  // Throws RegistryError when the name is taken (saying who holds it) or malformed.
  void add(OpSignature sig);

  const OpSignature* find(std::string_view name) const;
  // For a library that declares a property of many of its ops at once (the
  // standard library's light ops); nullptr when there is no such op.
  OpSignature* find_mutable(std::string_view name);
  std::vector<const OpSignature*> ops() const;  // sorted by name
  std::vector<const OpSignature*> ops_in(std::string_view ns) const;
  // Namespaces are the parts before the last dot: "attr" for "attr.saliency".
  std::vector<std::string> namespaces() const;
  bool is_namespace(std::string_view name) const;
  size_t size() const { return ops_.size(); }

 private:
  std::map<std::string, OpSignature, std::less<>> ops_;
};

// "a.b.c" -> "a.b"; "save" -> "".
PIPETTE_API std::string_view op_namespace(std::string_view op_name);

}  // namespace pipette
