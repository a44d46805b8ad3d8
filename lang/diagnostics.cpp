#include "lang/diagnostics.hpp"

#include <algorithm>
#include <set>
#include <tuple>

namespace pipette::lang {

Diagnostic& Diagnostics::error(std::optional<Span> span, std::string message) {
  diags_.push_back(Diagnostic{Severity::Error, span, std::move(message), {}, {}});
  return diags_.back();
}

Diagnostic& Diagnostics::warning(std::optional<Span> span, std::string message) {
  diags_.push_back(Diagnostic{Severity::Warning, span, std::move(message), {}, {}});
  return diags_.back();
}

size_t Diagnostics::error_count() const {
  return std::count_if(diags_.begin(), diags_.end(), [](auto& d) { return d.severity == Severity::Error; });
}

size_t Diagnostics::warning_count() const {
  return std::count_if(diags_.begin(), diags_.end(), [](auto& d) { return d.severity == Severity::Warning; });
}

void Diagnostics::finalize(const SourceManager&) {
  std::set<std::tuple<int, uint32_t, uint32_t, uint32_t, std::string>> seen;
  std::vector<Diagnostic> unique;
  for (auto& d : diags_) {
    auto key = std::make_tuple(static_cast<int>(d.severity), d.span ? d.span->file : ~0u, d.span ? d.span->begin : 0u,
                               d.span ? d.span->end : 0u, d.message);
    if (seen.insert(key).second) unique.push_back(std::move(d));
  }
  // Command-line problems first, then by file (in load order) and offset.
  std::stable_sort(unique.begin(), unique.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (!a.span || !b.span) return !a.span && b.span;
    return std::tie(a.span->file, a.span->begin) < std::tie(b.span->file, b.span->begin);
  });
  diags_ = std::move(unique);
}

namespace {

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::Error: return "error";
    case Severity::Warning: return "warning";
    case Severity::Note: return "note";
  }
  return "?";
}

const char* severity_color(Severity s) {
  switch (s) {
    case Severity::Error: return "\033[1;31m";
    case Severity::Warning: return "\033[1;35m";
    case Severity::Note: return "\033[1;36m";
  }
  return "";
}

void render_located(std::string& out, Severity sev, const std::optional<Span>& span, const std::string& message,
                    const SourceManager& sm, bool color) {
  const char* bold = color ? "\033[1m" : "";
  const char* reset = color ? "\033[0m" : "";
  if (!span) {
    out += std::string(bold) + "pipette: " + reset + (color ? severity_color(sev) : "") + severity_name(sev) + ": " +
           reset + bold + message + reset + "\n";
    return;
  }
  const SourceFile& f = sm.file(span->file);
  auto [line, col] = f.line_col(span->begin);
  out += std::string(bold) + f.path() + ":" + std::to_string(line) + ":" + std::to_string(col) + ": " + reset +
         (color ? severity_color(sev) : "") + severity_name(sev) + ": " + reset + bold + message + reset + "\n";
  std::string_view text = f.line_text(line);
  std::string gutter = std::to_string(line);
  out += " " + gutter + " | ";
  // Tabs become single spaces so that the caret lines up in any terminal.
  for (char c : text) out += c == '\t' ? ' ' : c;
  out += "\n " + std::string(gutter.size(), ' ') + " | ";
  uint32_t start = col - 1;
  auto [end_line, end_col] = f.line_col(std::max(span->end, span->begin));
  uint32_t stop = end_line == line ? end_col - 1 : static_cast<uint32_t>(text.size());
  if (stop <= start) stop = start + 1;
  // Columns are bytes; the caret line counts characters, so that it lines up
  // under UTF-8 text (continuation bytes take no column on screen).
  auto width = [&](uint32_t from, uint32_t to) {
    uint32_t w = 0;
    for (uint32_t i = from; i < to && i < text.size(); ++i) w += (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
    return std::max<uint32_t>(w, to > text.size() ? to - std::max<uint32_t>(from, text.size()) : 0);
  };
  out += std::string(width(0, start), ' ');
  if (color) out += "\033[1;32m";
  out += '^';
  uint32_t span_width = std::max<uint32_t>(width(start, stop), 1);
  if (span_width > 1) out += std::string(span_width - 1, '~');
  if (color) out += reset;
  out += "\n";
}

}  // namespace

std::string render_one(const Diagnostic& d, const SourceManager& sm, bool color) {
  std::string out;
  render_located(out, d.severity, d.span, d.message, sm, color);
  for (auto& n : d.notes) {
    if (n.span) {
      render_located(out, Severity::Note, n.span, n.message, sm, color);
    } else {
      out += std::string(color ? severity_color(Severity::Note) : "") + "note: " + (color ? "\033[0m" : "") +
             n.message + "\n";
    }
  }
  for (auto& h : d.hints) out += std::string(color ? "\033[1;32m" : "") + "hint: " + (color ? "\033[0m" : "") + h + "\n";
  return out;
}

std::string render(const Diagnostics& diags, const SourceManager& sm, const RenderOptions& opts) {
  std::string out;
  for (auto& d : diags.all()) out += render_one(d, sm, opts.color);
  if (opts.summary) {
    size_t e = diags.error_count(), w = diags.warning_count();
    auto plural = [](size_t n, const char* word) { return std::to_string(n) + " " + word + (n == 1 ? "" : "s"); };
    if (e && w) out += plural(w, "warning") + " and " + plural(e, "error") + " generated.\n";
    else if (e) out += plural(e, "error") + " generated.\n";
    else if (w) out += plural(w, "warning") + " generated.\n";
  }
  return out;
}

}  // namespace pipette::lang
