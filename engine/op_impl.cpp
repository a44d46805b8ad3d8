#include "engine/op_impl.hpp"

#include "engine/atomic_file.hpp"

#include "engine/dataset.hpp"

#include <ATen/ATen.h>
#include <cstdio>
#include <fstream>
#include <ATen/CPUGeneratorImpl.h>

namespace pipette {

at::Generator OpContext::generator() const { return at::make_generator<at::CPUGeneratorImpl>(seed); }

std::filesystem::path OpContext::input_path(const std::string& p) const {
  std::filesystem::path path(p);
  return path.is_absolute() ? path : script_dir / path;
}

std::string without_torchscript_trace(const std::string& message) {
  if (message.find("Traceback of TorchScript") == std::string::npos) return message;
  size_t end = message.find_last_not_of(" \n");
  if (end == std::string::npos) return message;
  size_t begin = message.rfind('\n', end);
  std::string last = message.substr(begin == std::string::npos ? 0 : begin + 1, end + 1 - (begin == std::string::npos ? 0 : begin + 1));
  // "RuntimeError: ..." names Python's exception class, which says nothing here.
  if (size_t colon = last.find("Error: "); colon != std::string::npos && last.find(' ') > colon)
    last = last.substr(colon + 7);
  // Where in the model's source it failed: the line the original-code traceback marks.
  std::string where;
  size_t original = message.rfind("original code");
  size_t file = original == std::string::npos ? std::string::npos : message.find("File \"", original);
  if (file != std::string::npos) {
    size_t eol = message.find('\n', file);
    where = " (" + message.substr(file, eol == std::string::npos ? std::string::npos : eol - file) + ")";
  }
  return "in the model's code" + where + ": " + last;
}

std::string read_file_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw OpError("cannot open '" + path.string() + "'");
  return std::string((std::istreambuf_iterator<char>(in)), {});
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
