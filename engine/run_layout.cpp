#include "engine/run_layout.hpp"

#include <xxhash.h>

#include <cctype>
#include <filesystem>

#include <fmt/format.h>

namespace pipette {

namespace {
// Well below the 255 bytes of a file name, leaving room for "_N.pt" and the
// temporary-file suffix of an atomic write.
constexpr size_t kMaxStem = 96;
}  // namespace

std::string report_file_stem(const std::string& name) {
  std::string s;
  for (char c : name) s += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') ? c : '_';
  if (s.empty() || s == "." || s == "..") s.insert(0, "report");
  if (s.size() > kMaxStem) s = s.substr(0, kMaxStem - 17) + fmt::format("-{:016x}", XXH3_64bits(name.data(), name.size()));
  return s;
}

std::string report_tensor_file(const std::string& name, size_t index, size_t count) {
  std::string stem = report_file_stem(name);
  return count == 1 ? fmt::format("reports/{}.pt", stem) : fmt::format("reports/{}/{}.pt", stem, index);
}

std::optional<std::string> normalized_output_path(const std::string& rel) {
  std::filesystem::path p(rel);
  if (rel.empty() || p.is_absolute()) return std::nullopt;
  std::string out;
  for (auto& part : p) {
    std::string s = part.string();
    if (s == "..") return std::nullopt;
    if (s.empty() || s == ".") continue;
    if (!out.empty()) out += '/';
    out += s;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> reserved_output_path(const std::string& rel) {
  if (rel == "report.json") return "report.json is the run's report, written by pipette";
  if (rel == "report.html") return "report.html is the run's report as a page, written by pipette";
  if (rel == kRunMarkerFile) return std::string(kRunMarkerFile) + " marks the directory as a pipette run";
  if (rel == "reports" || rel.rfind("reports/", 0) == 0) return "reports/ holds the tensors of the run's reports";
  return std::nullopt;
}

}  // namespace pipette
