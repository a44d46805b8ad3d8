// Compiler diagnostics in the style of clang: file:line:col: severity: message,
// the source line, a caret/tilde span, then notes and hints.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "lang/source.hpp"

namespace pipette::lang {

enum class Severity { Error, Warning, Note };

struct Diagnostic {
  struct Note {
    std::optional<Span> span;  // a note may point elsewhere ("previous definition here")
    std::string message;
  };
  Severity severity = Severity::Error;
  std::optional<Span> span;  // none for errors about the command line itself
  std::string message;
  std::vector<Note> notes;
  std::vector<std::string> hints;  // "did you mean 'x'?"
};

class Diagnostics {
 public:
  Diagnostic& error(std::optional<Span> span, std::string message);
  Diagnostic& warning(std::optional<Span> span, std::string message);

  const std::vector<Diagnostic>& all() const { return diags_; }
  // Forgets diagnostics after the first n: for trying a reading and falling back.
  void truncate(size_t n) {
    if (n < diags_.size()) diags_.resize(n);
  }
  size_t error_count() const;
  size_t warning_count() const;
  bool has_errors() const { return error_count() > 0; }

  // Drops exact repeats (same severity, place and message): a pipeline body that is
  // inlined three times reports its error once. Then sorts by position, stably.
  void finalize(const SourceManager& sm);

 private:
  std::vector<Diagnostic> diags_;
};

struct RenderOptions {
  bool color = false;
  bool summary = true;  // "2 errors and 1 warning generated."
};

std::string render(const Diagnostics& diags, const SourceManager& sm, const RenderOptions& opts = {});
std::string render_one(const Diagnostic& d, const SourceManager& sm, bool color = false);

}  // namespace pipette::lang
