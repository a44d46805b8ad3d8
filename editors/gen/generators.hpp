// `pipette editors generate`: every editor's files from one source of truth,
// lang/syntax.hpp (keywords, constants, types, lexical rules) and the op
// registry (op names). tests/editors/drift_test fails when the committed files
// under editors/ differ from what these functions write.
#pragma once

#include <string>
#include <vector>

namespace pipette::editors {

struct Vocabulary {
  std::vector<std::string> ops;  // full op names ("attr.saliency"), sorted
};

struct EditorFile {
  std::string path;  // relative to editors/
  std::string content;
};

std::vector<EditorFile> vscode_files(const Vocabulary& v);
std::vector<EditorFile> vim_files(const Vocabulary& v);
std::vector<EditorFile> emacs_files(const Vocabulary& v);
std::vector<EditorFile> kate_files(const Vocabulary& v);

// All of the above, in a fixed order.
std::vector<EditorFile> all_editor_files(const Vocabulary& v);

// Helpers shared by the generators.
std::string generated_notice(const std::string& comment_prefix);
// "a|b|c" with each word's regex metacharacters escaped; longest first so that
// no alternative shadows a longer one.
std::string regex_alternation(std::vector<std::string> words, const std::string& escape_dot);

}  // namespace pipette::editors
