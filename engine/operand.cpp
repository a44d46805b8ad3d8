#include "engine/operand.hpp"

#include <fmt/format.h>

namespace pipette {

bool Operand::is_constant() const {
  bool constant = true;
  for_each_ref([&](const Operand&) { constant = false; });
  return constant;
}

namespace {

void quote(std::string& out, const std::string& s) {
  out += '"';
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '{': out += "{{"; break;
      case '}': out += "}}"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else out += c;
    }
  }
  out += '"';
}

// Shortest text that reads back as the same double, always with a '.' or exponent
// so that 2.0 stays a float when it is written back into a script.
std::string float_text(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

void write(std::string& out, const Operand& o, bool canonical) {
  using K = Operand::Kind;
  switch (o.kind) {
    case K::None: out += "none"; break;
    case K::Bool: out += o.b ? "true" : "false"; break;
    case K::Int: out += std::to_string(o.i); break;
    case K::Float: out += float_text(o.f); break;
    case K::String: quote(out, o.s); break;
    case K::List:
      out += '[';
      for (size_t i = 0; i < o.items.size(); ++i) {
        if (i) out += canonical ? "," : ", ";
        write(out, o.items[i], canonical);
      }
      out += ']';
      break;
    case K::Record:
      out += '{';
      for (size_t i = 0; i < o.fields.size(); ++i) {
        if (i) out += canonical ? "," : ", ";
        out += o.fields[i].first;
        out += canonical ? ":" : ": ";
        write(out, o.fields[i].second, canonical);
      }
      out += '}';
      break;
    case K::Ref:
      out += "$n" + std::to_string(o.node);
      for (auto& p : o.path) out += "." + p;
      break;
  }
}

}  // namespace

std::string Operand::canonical() const {
  std::string out;
  write(out, *this, true);
  return out;
}

std::string Operand::to_source() const {
  std::string out;
  write(out, *this, false);
  return out;
}

std::string Operand::to_display() const {
  if (kind == Kind::String) return s;
  return to_source();
}

bool operator==(const Operand& a, const Operand& b) { return a.canonical() == b.canonical(); }

}  // namespace pipette
