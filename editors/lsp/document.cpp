#include "editors/lsp/document.hpp"

#include <algorithm>
#include <cctype>
#include <variant>

#include "lang/diagnostics.hpp"
#include "lang/parser.hpp"

namespace pipette::lsp {

namespace {

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.'; }

// UTF-16 code units of a UTF-8 sequence's lead byte.
size_t utf8_length(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

class Indexer {
 public:
  Indexer(std::vector<Definition>& defs, std::vector<Import>& imports, std::vector<std::string>& plugins)
      : defs_(defs), imports_(imports), plugins_(plugins) {}

  void block(const std::vector<lang::ast::Stmt>& stmts, uint32_t scope_begin, uint32_t scope_end) {
    for (auto& s : stmts) {
      std::visit(overloaded{
                     [&](const lang::ast::LetStmt& l) { add(Definition::Kind::Let, l.name, l, scope_begin, scope_end); },
                     [&](const lang::ast::ParamStmt& p) {
                       add(Definition::Kind::Param, p.name, p, scope_begin, scope_end);
                     },
                     [&](const lang::ast::PipelineDef& p) {
                       add(Definition::Kind::Pipeline, p.header.name, p.header, scope_begin, scope_end);
                       for (auto& param : p.header.params)
                         add(Definition::Kind::PipelineParam, param.name, param, p.begin, p.end);
                       block(p.body, p.begin, p.end);
                     },
                     [&](const lang::ast::ForStmt& f) {
                       add(Definition::Kind::LoopVar, f.header.var, f.header, f.begin, f.end);
                       block(f.body, f.begin, f.end);
                     },
                     [&](const lang::ast::ImportStmt& i) {
                       imports_.push_back(Import{i.is_path, i.target, i.target_begin, i.target_end});
                     },
                     [&](const lang::ast::PluginStmt& p) { plugins_.push_back(p.name.plain()); },
                     [](const auto&) {}},
                 s.v);
    }
  }

 private:
  void add(Definition::Kind kind, const lang::ast::Identifier& id, const lang::ast::Node& stmt, uint32_t sb,
           uint32_t se) {
    if (id.name.empty()) return;
    defs_.push_back(Definition{kind, id.name, id.begin, id.end, stmt.begin, stmt.end, sb, se});
  }
  std::vector<Definition>& defs_;
  std::vector<Import>& imports_;
  std::vector<std::string>& plugins_;
};

}  // namespace

Document::Document(std::string uri, std::string path, std::string text)
    : uri_(std::move(uri)), path_(std::move(path)), text_(std::move(text)) {
  line_starts_.push_back(0);
  for (uint32_t i = 0; i < text_.size(); ++i)
    if (text_[i] == '\n') line_starts_.push_back(i + 1);
  lang::SourceManager sm;
  lang::Diagnostics diags;  // the server reports the compiler's, not these
  auto file = sm.add(path_, text_);
  auto program = lang::parse_program(sm, file, diags);
  Indexer(defs_, imports_, plugins_).block(program.stmts, 0, static_cast<uint32_t>(text_.size()) + 1);
}

uint32_t Document::offset_at(const nlohmann::json& position) const {
  size_t line = position.value("line", 0);
  size_t character = position.value("character", 0);
  if (line >= line_starts_.size()) return static_cast<uint32_t>(text_.size());
  uint32_t i = line_starts_[line];
  size_t units = 0;
  while (i < text_.size() && text_[i] != '\n' && units < character) {
    size_t n = utf8_length(static_cast<unsigned char>(text_[i]));
    units += n == 4 ? 2 : 1;
    i += static_cast<uint32_t>(n);
  }
  return std::min<uint32_t>(i, static_cast<uint32_t>(text_.size()));
}

nlohmann::json Document::position_of(uint32_t offset) const {
  offset = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin()) - 1;
  size_t units = 0;
  for (uint32_t i = line_starts_[line]; i < offset;) {
    size_t n = utf8_length(static_cast<unsigned char>(text_[i]));
    units += n == 4 ? 2 : 1;
    i += static_cast<uint32_t>(n);
  }
  return {{"line", line}, {"character", units}};
}

std::string_view Document::line_of(uint32_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  uint32_t b = *(it - 1);
  auto e = text_.find('\n', b);
  if (e == std::string::npos) e = text_.size();
  return std::string_view(text_).substr(b, e - b);
}

const Definition* Document::visible(const std::string& name, uint32_t offset) const {
  const Definition* best = nullptr;
  for (auto& d : defs_) {
    if (d.name != name || offset < d.scope_begin || offset >= d.scope_end) continue;
    bool before = d.kind == Definition::Kind::Pipeline || d.kind == Definition::Kind::PipelineParam ||
                  d.kind == Definition::Kind::LoopVar || d.begin <= offset;
    if (!before) continue;
    // Innermost scope wins; within one scope, the later definition.
    if (!best || d.scope_begin > best->scope_begin || (d.scope_begin == best->scope_begin && d.begin > best->begin))
      best = &d;
  }
  return best;
}

std::vector<const Definition*> Document::all_visible(uint32_t offset) const {
  std::vector<const Definition*> out;
  for (auto& d : defs_)
    if (visible(d.name, offset) == &d) out.push_back(&d);
  return out;
}

std::optional<Document::Word> Document::word_at(uint32_t offset) const {
  uint32_t b = std::min<uint32_t>(offset, static_cast<uint32_t>(text_.size()));
  uint32_t e = b;
  while (b > 0 && name_char(text_[b - 1])) --b;
  while (e < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[e])) || text_[e] == '_')) ++e;
  while (b < e && text_[b] == '.') ++b;
  if (b >= e) return std::nullopt;
  return Word{text_.substr(b, e - b), b, e};
}

std::string path_from_uri(const std::string& uri) {
  std::string s = uri.rfind("file://", 0) == 0 ? uri.substr(7) : uri;
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string uri_from_path(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : path) {
    if (std::isalnum(c) || std::string_view("/-_.~").find(static_cast<char>(c)) != std::string_view::npos) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace pipette::lsp
