#include "stdlib/signatures/builtin_signatures.hpp"

#include <pugixml.hpp>

#include <stdexcept>

#include "engine/signature_xml.hpp"

namespace pipette::stdlib {

extern const char kBuiltinSignaturesXml[];
extern const char kBuiltinLibTorchVersion[];
extern const char kBuiltinHostFingerprint[];

const OpRegistry& builtin_signatures() {
  static const OpRegistry registry = [] {
    pugi::xml_document doc;
    auto parsed = doc.load_string(kBuiltinSignaturesXml, pugi::parse_default);
    if (!parsed) throw std::runtime_error(std::string("the built-in signatures do not parse: ") + parsed.description());
    OpRegistry r;
    for (auto op : doc.child("builtins").children("op")) r.add(read_signature_xml(op));
    return r;
  }();
  return registry;
}

const char* builtin_libtorch_version() { return kBuiltinLibTorchVersion; }
const char* builtin_host_fingerprint() { return kBuiltinHostFingerprint; }

}  // namespace pipette::stdlib
