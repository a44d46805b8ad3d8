#include "engine/op_impl.hpp"

#include "engine/atomic_file.hpp"

#include "engine/dataset.hpp"

#include <ATen/ATen.h>
#include <cstdio>
#include <ATen/CPUGeneratorImpl.h>

namespace pipette {

at::Generator OpContext::generator() const { return at::make_generator<at::CPUGeneratorImpl>(seed); }

std::filesystem::path OpContext::input_path(const std::string& p) const {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : script_dir / path;
}

std::string excerpt(std::string_view text, size_t max_bytes) {
  size_t cut = text.size() <= max_bytes ? text.size() : max_bytes;
  while (cut > 0 && cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  std::string out;
  for (size_t i = 0; i < cut; ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n' || c == '\t' || c >= 0x20) {
      if (c != 0x7f) {
        out += static_cast<char>(c);
        continue;
      }
    }
    char buf[8];
    std::snprintf(buf, sizeof buf, "\\x%02x", c);
    out += buf;
  }
  if (cut < text.size()) {
    out += "... (";
    out += std::to_string(text.size() - cut);
    out += " more bytes)";
  }
  return out;
}

void OpContext::write_output(const std::string& rel, std::string_view bytes) const {
  try {
    write_inside(out_dir, rel, bytes);
  } catch (const FileWriteError& e) {
    throw OpError(e.what());
  }
}

const Value& OpArgs::operator[](const std::string& name) const {
  for (size_t i = 0; i < node_.args.size(); ++i)
    if (node_.args[i].first == name) return values_.at(i);
  throw OpError("internal error: op '" + node_.op + "' has no parameter '" + name + "'");
}

int64_t OpArgs::int_(const std::string& name) const {
  const Value& v = (*this)[name];
  if (!v.isInt()) throw OpError("'" + name + "' must be an int, got " + describe(v));
  return v.toInt();
}

double OpArgs::float_(const std::string& name) const {
  const Value& v = (*this)[name];
  if (v.isDouble()) return v.toDouble();
  if (v.isInt()) return static_cast<double>(v.toInt());
  throw OpError("'" + name + "' must be a float, got " + describe(v));
}

bool OpArgs::bool_(const std::string& name) const {
  const Value& v = (*this)[name];
  if (!v.isBool()) throw OpError("'" + name + "' must be a bool, got " + describe(v));
  return v.toBool();
}

const std::string& OpArgs::string(const std::string& name) const {
  const Value& v = (*this)[name];
  if (!v.isString()) throw OpError("'" + name + "' must be a string, got " + describe(v));
  return v.toStringRef();
}

at::Tensor OpArgs::tensor(const std::string& name) const {
  const Value& v = (*this)[name];
  if (v.isTensor()) return v.toTensor();
  if (v.isDouble()) return at::scalar_tensor(v.toDouble());
  if (v.isInt()) return at::scalar_tensor(static_cast<double>(v.toInt()));
  throw OpError("'" + name + "' must be a tensor, got " + describe(v));
}

}  // namespace pipette

namespace pipette {
c10::intrusive_ptr<Dataset> OpArgs::dataset(const std::string& name) const { return to_dataset((*this)[name]); }
}  // namespace pipette
