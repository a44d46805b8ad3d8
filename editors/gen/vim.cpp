// editors/vim/: syntax, filetype detection, comment/indent settings and an
// indent expression, as a Vim package (copy or symlink into ~/.vim/pack/).
#include "editors/gen/generators.hpp"
#include "lang/syntax.hpp"

namespace pipette::editors {

namespace {

namespace syn = lang::syntax;

std::string join(const std::vector<std::string>& w, const std::string& sep) {
  std::string out;
  for (auto& x : w) out += (out.empty() ? "" : sep) + x;
  return out;
}

// Very magic (\v) alternation: '.' must be escaped, '|' separates.
std::string vwords(const std::vector<std::string>& w) { return regex_alternation(w, "\\."); }

std::string syntax_file(const Vocabulary& v) {
  std::string id = "\\h\\w*";
  std::string out = generated_notice("\"");
  out += R"(" Vim syntax file for pipette's .pipe scripts.
if exists('b:current_syntax')
  finish
endif

)";
  out += "syn keyword pipeKeyword " + join(syn::keywords(), " ") + "\n";
  out += "syn keyword pipeConstant " + join(syn::constants(), " ") + "\n";
  // Later :syn match items win when two start at the same column.
  out += "syn match pipeNumber /\\v%([A-Za-z0-9_.])@<![-+]?<\\d+%(\\.\\d+)?%([eE][-+]?\\d+)?>/\n";
  out += "syn match pipeCall /\\v<" + id + "%(\\." + id + ")*\\ze\\s*\\(/\n";
  out += "syn match pipeOp /\\v%(\\w|\\.)@<!%(" + vwords(v.ops) + ")%(\\w|\\.)@!/\n";
  out += "syn match pipeParameter /\\v<" + id + "\\ze\\s*\\=/\n";
  out += "syn match pipeType /\\v%([:<]\\s*|\\|\\s*)@<=%(" + vwords(syn::type_names()) + ")>%(\\s*[.(])@!/\n";
  out += "syn match pipeDefinition /\\v%(<%(let|param|for)\\s+)@<=" + id + "/\n";
  out += "syn match pipeFunctionDef /\\v%(<pipeline\\s+)@<=" + id + "/\n";
  out += "syn match pipeModule /\\v%(<import\\s+)@<=" + id + "%(\\." + id + ")*/\n";
  out += "syn match pipePipe /|>/\n";
  out += "syn region pipeString start=/\"/ skip=/\\\\./ end=/\"\\|$/ oneline "
         "contains=pipeEscape,pipeBraceEscape,pipeInterpolation\n";
  out += "syn match pipeEscape /\\\\[" + std::string("ntr\"\\\\{}") + "]/ contained\n";
  out += "syn match pipeBraceEscape /{{\\|}}/ contained\n";
  out += "syn match pipeInterpolation /{" + id + "}/ contained\n";
  out += "syn keyword pipeTodo TODO FIXME XXX NOTE contained\n";
  out += "syn match pipeComment /#.*$/ contains=pipeTodo,@Spell\n";
  out += R"(
hi def link pipeKeyword Keyword
hi def link pipeConstant Constant
hi def link pipeNumber Number
hi def link pipeCall Function
hi def link pipeOp Function
hi def link pipeParameter Identifier
hi def link pipeType Type
hi def link pipeDefinition Identifier
hi def link pipeFunctionDef Function
hi def link pipeModule Include
hi def link pipePipe Operator
hi def link pipeString String
hi def link pipeEscape SpecialChar
hi def link pipeBraceEscape SpecialChar
hi def link pipeInterpolation Special
hi def link pipeTodo Todo
hi def link pipeComment Comment

let b:current_syntax = 'pipe'
)";
  return out;
}

std::string ftdetect() {
  return generated_notice("\"") + "autocmd BufRead,BufNewFile *." + syn::kFileExtension + " setfiletype " +
         syn::kLanguageId + "\n";
}

std::string ftplugin() {
  std::string w = std::to_string(syn::kIndentWidth);
  return generated_notice("\"") + R"(if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1
setlocal comments=:# commentstring=#\ %s
setlocal expandtab shiftwidth=)" + w + " softtabstop=" + w + R"(
setlocal iskeyword=@,48-57,_
" `pipette fmt` as the formatter for gq and :make-style checks.
setlocal formatprg=pipette\ fmt\ -
let b:undo_ftplugin = 'setlocal comments< commentstring< expandtab< shiftwidth< softtabstop< iskeyword< formatprg<'
)";
}

std::string indent() {
  return generated_notice("\"") + R"(" One level per open bracket; a line starting with a closing bracket goes back
" one; a line starting with |> continues the statement above it.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1
setlocal indentexpr=PipeIndent(v:lnum) indentkeys=0),0],0},0=\|>,!^F,o,O
let b:undo_indent = 'setlocal indentexpr< indentkeys<'

if exists('*PipeIndent')
  finish
endif

function! s:Code(lnum) abort
  " The line without its comment and strings (so brackets inside them do not count).
  let line = substitute(getline(a:lnum), '"\%(\\.\|[^"\\]\)*"', '""', 'g')
  return substitute(line, '#.*$', '', '')
endfunction

function! s:Balance(lnum) abort
  let code = s:Code(a:lnum)
  return len(substitute(code, '[^([{]', '', 'g')) - len(substitute(code, '[^)\]}]', '', 'g'))
endfunction

function! PipeIndent(lnum) abort
  let start = prevnonblank(a:lnum - 1)
  if start == 0
    return 0
  endif
  " Back to the line that opened what the previous line closes: the statement's.
  let balance = s:Balance(start)
  while balance < 0 && start > 1 && prevnonblank(start - 1) > 0
    let start = prevnonblank(start - 1)
    let balance += s:Balance(start)
  endwhile
  let ind = indent(start)
  if getline(start) =~# '^\s*|>'
    let ind -= shiftwidth()
  endif
  if balance > 0
    let ind += shiftwidth()
  endif
  let cur = getline(a:lnum)
  if cur =~# '^\s*[)\]}]'
    let ind -= shiftwidth()
  elseif cur =~# '^\s*|>'
    let ind += shiftwidth()
  endif
  return max([ind, 0])
endfunction
)";
}

}  // namespace

std::vector<EditorFile> vim_files(const Vocabulary& v) {
  return {{"vim/syntax/pipe.vim", syntax_file(v)},
          {"vim/ftdetect/pipe.vim", ftdetect()},
          {"vim/ftplugin/pipe.vim", ftplugin()},
          {"vim/indent/pipe.vim", indent()}};
}

}  // namespace pipette::editors
