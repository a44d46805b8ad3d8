// Source files and spans. Every AST node records byte offsets into its file; the
// SourceManager turns them into line/column only when a diagnostic needs them.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/source_loc.hpp"

namespace pipette::lang {

using FileId = uint32_t;

struct Span {
  FileId file = 0;
  uint32_t begin = 0;  // byte offsets, [begin, end)
  uint32_t end = 0;
};

class SourceFile {
 public:
  SourceFile(std::string path, std::string text);
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }
  // 1-based line and byte column of an offset.
  std::pair<uint32_t, uint32_t> line_col(uint32_t offset) const;
  std::string_view line_text(uint32_t line) const;  // without the newline

 private:
  std::string path_;
  std::string text_;
  std::vector<uint32_t> line_starts_;
};

class SourceManager {
 public:
  // Reads a file; nullopt (and `error` set) when it cannot be read.
  std::optional<FileId> load(const std::string& path, std::string* error);
  FileId add(std::string path, std::string text);  // in-memory buffers (tests, --set values)
  const SourceFile& file(FileId id) const { return *files_.at(id); }
  size_t size() const { return files_.size(); }
  // Resolved position for the graph IR. A span over several lines is cut at the first.
  SourceLoc resolve(const Span& span) const;

 private:
  std::vector<std::unique_ptr<SourceFile>> files_;
};

}  // namespace pipette::lang
