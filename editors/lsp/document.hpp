// One open .pipe document as the language server sees it: its text, LSP
// positions (0-based line, UTF-16 column) to byte offsets and back, and an index
// of what it defines (from the parser's AST, which survives syntax errors).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pipette::lsp {

struct Definition {
  enum class Kind { Let, Param, Pipeline, PipelineParam, LoopVar };
  Kind kind;
  std::string name;
  uint32_t begin = 0, end = 0;          // the name
  uint32_t stmt_begin = 0, stmt_end = 0;  // the defining statement (header for pipelines)
  uint32_t scope_begin = 0, scope_end = 0;  // where it is visible
};

struct Import {
  bool is_path = false;
  std::string target;
  uint32_t begin = 0, end = 0;
};

class Document {
 public:
  Document(std::string uri, std::string path, std::string text);

  const std::string& uri() const { return uri_; }
  const std::string& path() const { return path_; }
  const std::string& text() const { return text_; }

  uint32_t offset_at(const nlohmann::json& position) const;
  nlohmann::json position_of(uint32_t offset) const;
  nlohmann::json range_of(uint32_t begin, uint32_t end) const { return {{"start", position_of(begin)}, {"end", position_of(end)}}; }
  std::string_view line_of(uint32_t offset) const;

  const std::vector<Definition>& definitions() const { return defs_; }
  const std::vector<Import>& imports() const { return imports_; }
  const std::vector<std::string>& plugins() const { return plugins_; }

  // The definition of `name` visible at `offset`: the innermost scope's last
  // definition before it (pipelines are visible everywhere).
  const Definition* visible(const std::string& name, uint32_t offset) const;
  std::vector<const Definition*> all_visible(uint32_t offset) const;

  // The dotted name around `offset` ("data.fashion_mnist"), with its range;
  // `upto_cursor` cuts it at the end of the segment under the cursor.
  struct Word {
    std::string text;
    uint32_t begin = 0, end = 0;
  };
  std::optional<Word> word_at(uint32_t offset) const;

 private:
  std::string uri_, path_, text_;
  std::vector<uint32_t> line_starts_;
  std::vector<Definition> defs_;
  std::vector<Import> imports_;
  std::vector<std::string> plugins_;
};

// file:///a%20b/c.pipe -> /a b/c.pipe (and back).
std::string path_from_uri(const std::string& uri);
std::string uri_from_path(const std::string& path);

}  // namespace pipette::lsp
