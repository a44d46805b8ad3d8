// editors/emacs/pipe-mode.el: a major mode derived from prog-mode, with
// font-lock, indentation, comment syntax and auto-mode-alist.
#include "editors/gen/generators.hpp"
#include "lang/syntax.hpp"

namespace pipette::editors {

namespace {

namespace syn = lang::syntax;

std::string quoted_list(const std::vector<std::string>& w) {
  std::string out;
  for (auto& x : w) out += (out.empty() ? "\"" : " \"") + x + "\"";
  return out;
}

}  // namespace

std::vector<EditorFile> emacs_files(const Vocabulary& v) {
  const std::string id = "[[:alpha:]_][[:alnum:]_]*";
  std::string out = ";;; pipe-mode.el --- Major mode for pipette's .pipe scripts -*- lexical-binding: t -*-\n\n";
  out += generated_notice(";;");
  std::string text = R"EL(
;;; Commentary:
;; Highlighting, indentation and comments for .pipe files.  Install:
;;   (add-to-list 'load-path "/path/to/pipette/editors/emacs")
;;   (require 'pipe-mode)
;; The language server (`pipette lsp') works with eglot:
;;   (add-to-list 'eglot-server-programs '(pipe-mode "pipette" "lsp"))

;;; Code:

(defgroup pipe nil "Pipette .pipe scripts." :group 'languages)

(defcustom pipe-indent-offset @INDENT@
  "Indentation of a block body, a hanging bracket and a `|>' continuation."
  :type 'integer :group 'pipe)

(defface pipe-parameter-face '((t :inherit font-lock-variable-name-face :slant italic))
  "Face for parameter names in calls (`steps=' in `f(x, steps=50)')." :group 'pipe)
(defface pipe-interpolation-face '((t :inherit font-lock-variable-name-face :weight bold))
  "Face for `{name}' interpolations inside strings." :group 'pipe)
(defface pipe-escape-face '((t :inherit font-lock-constant-face))
  "Face for escapes inside strings (`\\n', `{{')." :group 'pipe)
(defface pipe-operator-face '((t :inherit font-lock-keyword-face))
  "Face for the pipe operator `|>'." :group 'pipe)

(defconst pipe-keywords '(@KEYWORDS@))
(defconst pipe-constants '(@CONSTANTS@))
(defconst pipe-types '(@TYPES@))
(defconst pipe-ops '(@OPS@)
  "The ops of pipette's standard library and first-party plugins.")

(defvar pipe-mode-syntax-table
  (let ((table (make-syntax-table)))
    (modify-syntax-entry ?# "<" table)
    (modify-syntax-entry ?\n ">" table)
    (modify-syntax-entry ?\" "\"" table)
    (modify-syntax-entry ?\\ "\\" table)
    (modify-syntax-entry ?_ "_" table)
    (modify-syntax-entry ?. "." table)
    (modify-syntax-entry ?| "." table)
    (modify-syntax-entry ?< "." table)
    (modify-syntax-entry ?> "." table)
    (modify-syntax-entry ?= "." table)
    table)
  "Syntax table for `pipe-mode'.")

(defun pipe--match-in-string (regexp limit)
  "Search for REGEXP before LIMIT, only inside strings."
  (let (found)
    (while (and (not found) (re-search-forward regexp limit t))
      (when (nth 3 (save-excursion (syntax-ppss (match-beginning 0))))
        (setq found t)))
    found))

(defun pipe--match-interpolation (limit)
  (pipe--match-in-string "{@ID@}" limit))

(defun pipe--match-escape (limit)
  (pipe--match-in-string "\\\\[ntr\"\\\\{}]\\|{{\\|}}" limit))

(defconst pipe-font-lock-keywords
  `(;; Declarations first: their names are not parameters.
    ("\\_<\\(let\\|param\\|for\\)\\_>[ \t]+\\(@ID@\\)" (2 font-lock-variable-name-face))
    ("\\_<pipeline\\_>[ \t]+\\(@ID@\\)" (1 font-lock-function-name-face))
    ("\\_<import\\_>[ \t]+\\(@ID@\\(?:\\.@ID@\\)*\\)" (1 font-lock-constant-face))
    (,(concat "\\_<" (regexp-opt pipe-keywords t) "\\_>") (1 font-lock-keyword-face))
    (,(concat "\\_<" (regexp-opt pipe-constants t) "\\_>") (1 font-lock-constant-face))
    (,(concat "\\(?:[:<]\\|[|][^>]\\)[ \t]*" (regexp-opt pipe-types t) "\\_>") (1 font-lock-type-face))
    ("\\(?:^\\|[^[:alnum:]_.]\\)\\([-+]?[0-9]+\\(?:\\.[0-9]+\\)?\\(?:[eE][-+]?[0-9]+\\)?\\)\\_>" (1 font-lock-constant-face))
    (,(concat "\\_<" (regexp-opt pipe-ops t) "\\_>") (1 font-lock-builtin-face))
    ("\\_<\\(@ID@\\(?:\\.@ID@\\)*\\)[ \t]*(" (1 font-lock-function-name-face))
    ("\\_<\\(@ID@\\)[ \t]*=" (1 'pipe-parameter-face))
    ("|>" (0 'pipe-operator-face))
    (pipe--match-escape (0 'pipe-escape-face t))
    (pipe--match-interpolation (0 'pipe-interpolation-face t)))
  "Font-lock rules for `pipe-mode'.")

(defun pipe--bracket-column (open)
  "Where lines inside the bracket at OPEN start: after it, or hanging."
  (save-excursion
    (goto-char open)
    (let ((hanging (save-excursion (forward-char 1) (skip-chars-forward " \t") (looking-at "#\\|$"))))
      (if hanging
          (+ (current-indentation) pipe-indent-offset)
        (1+ (current-column))))))

(defun pipe-indent-line ()
  "Indent the current line as `pipette fmt' would."
  (interactive)
  (let* ((ppss (save-excursion (beginning-of-line) (syntax-ppss)))
         (open (nth 1 ppss))
         (target
          (save-excursion
            (back-to-indentation)
            (cond
             ((and open (looking-at "[])}]"))
              (save-excursion (goto-char open) (current-indentation)))
             (t (+ (if open (pipe--bracket-column open) 0)
                   (if (looking-at "|>") pipe-indent-offset 0))))))
         (offset (- (current-column) (current-indentation))))
    (indent-line-to target)
    (when (> offset 0) (forward-char offset))))

;;;###autoload
(define-derived-mode pipe-mode prog-mode "Pipe"
  "Major mode for pipette's .pipe scripts."
  :syntax-table pipe-mode-syntax-table
  (setq-local comment-start "# ")
  (setq-local comment-start-skip "#+[ \t]*")
  (setq-local comment-end "")
  (setq-local indent-tabs-mode nil)
  (setq-local tab-width pipe-indent-offset)
  (setq-local indent-line-function #'pipe-indent-line)
  (setq-local electric-indent-chars (append "])}" electric-indent-chars))
  (setq-local font-lock-defaults '(pipe-font-lock-keywords)))

;;;###autoload
(add-to-list 'auto-mode-alist '("\\.@EXT@\\'" . pipe-mode))

(provide 'pipe-mode)
;;; pipe-mode.el ends here
)EL";
  auto put = [&](const std::string& key, const std::string& value) {
    for (size_t at; (at = text.find(key)) != std::string::npos;) text.replace(at, key.size(), value);
  };
  put("@INDENT@", std::to_string(syn::kIndentWidth));
  put("@KEYWORDS@", quoted_list(syn::keywords()));
  put("@CONSTANTS@", quoted_list(syn::constants()));
  put("@TYPES@", quoted_list(syn::type_names()));
  put("@OPS@", quoted_list(v.ops));
  put("@ID@", id);
  put("@EXT@", syn::kFileExtension);
  out += text;
  return {{"emacs/pipe-mode.el", out}};
}

}  // namespace pipette::editors
