// Op signatures as XML, for the plugin registry cache: written by the scanner
// helper process, read by `pipette check` without running any plugin code.
#pragma once

#include <string>

#include "engine/api.hpp"
#include "engine/op_signature.hpp"

namespace pugi {
class xml_node;
}

namespace pipette {

PIPETTE_API void write_signature_xml(const OpSignature& sig, pugi::xml_node parent);
// Throws std::runtime_error naming what is malformed.
PIPETTE_API OpSignature read_signature_xml(const pugi::xml_node& op);

}  // namespace pipette
