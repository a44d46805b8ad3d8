// `pipette fmt`: rewrite scripts in the canonical layout (lang/format.hpp).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/compile_setup.hpp"
#include "lang/format.hpp"
#include "lang/parser.hpp"

namespace pipette::cli {

namespace fs = std::filesystem;

namespace {

// 0 unchanged, 1 changed (or would change), 2 cannot read or write, 3 the
// script has syntax errors (left alone).
int format_one(const GlobalOptions& g, const std::string& file, bool check) {
  lang::SourceManager sm;
  lang::FileId id = 0;
  if (file == "-") {
    std::stringstream ss;
    ss << std::cin.rdbuf();
    id = sm.add("<stdin>", ss.str());
  } else {
    std::string error;
    auto loaded = sm.load(file, &error);
    if (!loaded) {
      std::fprintf(stderr, "pipette: error: %s\n", error.c_str());
      return 2;
    }
    id = *loaded;
  }
  const std::string& text = sm.file(id).text();
  // A file that does not parse is left alone, with the compiler's diagnostics.
  lang::Diagnostics diags;
  lang::parse_program(sm, id, diags);
  // As a filter (an editor's formatprg) what cannot be formatted passes through
  // unchanged: an editor replaces the text with whatever comes out.
  auto pass_through = [&] {
    if (file == "-") std::fputs(text.c_str(), stdout);
  };
  if (diags.has_errors()) {
    pass_through();
    diags.finalize(sm);
    std::fputs(lang::render(diags, sm, {use_color(g, STDERR_FILENO), true}).c_str(), stderr);
    return 3;
  }
  auto result = lang::format_source(text);
  if (!result.error.empty()) {
    pass_through();
    std::fprintf(stderr, "%s: error: %s\n", file.c_str(), result.error.c_str());
    return 3;
  }
  if (file == "-") {
    if (!check) std::fputs(result.text.c_str(), stdout);
    return result.text == text ? 0 : 1;
  }
  if (result.text == text) return 0;
  if (check) {
    std::printf("%s: not formatted (run `pipette fmt %s`)\n", file.c_str(), file.c_str());
    return 1;
  }
  // Write-then-rename: an interrupted fmt never leaves half a script.
  fs::path tmp = fs::path(file).concat(".fmt.tmp");
  {
    std::ofstream out(tmp, std::ios::binary);
    out << result.text;
    if (!out) {
      std::fprintf(stderr, "pipette: error: cannot write '%s'\n", tmp.c_str());
      return 2;
    }
  }
  std::error_code ec;
  fs::permissions(tmp, fs::status(file).permissions(), ec);
  fs::rename(tmp, file, ec);
  if (ec) {
    std::fprintf(stderr, "pipette: error: cannot replace '%s': %s\n", file.c_str(), ec.message().c_str());
    return 2;
  }
  std::fprintf(stderr, "formatted %s\n", file.c_str());
  return 1;
}

}  // namespace

int fmt_command(const GlobalOptions& g, const std::vector<std::string>& files, bool check) {
  bool changed = false, io_error = false, script_error = false;
  for (auto& f : files) {
    int r = format_one(g, f, check);
    changed |= r == 1;
    io_error |= r == 2;
    script_error |= r == 3;
  }
  if (io_error) return 2;
  if (script_error) return 1;
  return check && changed ? 1 : 0;
}

}  // namespace pipette::cli
