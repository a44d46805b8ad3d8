// Writes a .pipe file as HTML coloured the way VS Code's Dark+ theme colours
// the generated TextMate grammar's scopes (for docs/images/, see
// scripts/editors-screenshot.sh).   node export_html.js GRAMMAR FILE > out.html
'use strict';
const fs = require('fs');
const { loadGrammar, INITIAL } = require('./grammar.js');

// Most specific scope prefix first.
const theme = [
  ['comment', '#6A9955'],
  ['constant.character.escape', '#D7BA7D'],
  ['punctuation.section.interpolation', '#569CD6'],
  ['variable.other.interpolated', '#9CDCFE'],
  ['string', '#CE9178'],
  ['constant.numeric', '#B5CEA8'],
  ['constant.language', '#569CD6'],
  ['keyword.control', '#C586C0'],
  ['keyword.operator.pipe', '#D4D4D4'],
  ['storage.type', '#4EC9B0'],
  ['support.function', '#DCDCAA'],
  ['variable.function', '#DCDCAA'],
  ['entity.name.function', '#DCDCAA'],
  ['entity.name.namespace', '#4EC9B0'],
  ['variable.parameter', '#9CDCFE'],
  ['variable.other.definition', '#4FC1FF'],
];

const [grammarPath, file] = process.argv.slice(2);
const escape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

(async () => {
  const grammar = await loadGrammar(grammarPath);
  let stack = INITIAL;
  const rows = [];
  for (const line of fs.readFileSync(file, 'utf8').replace(/\n$/, '').split('\n')) {
    const r = grammar.tokenizeLine(line, stack);
    stack = r.ruleStack;
    let html = '';
    for (const t of r.tokens) {
      const text = escape(line.substring(t.startIndex, t.endIndex));
      let colour = null;
      for (const scope of [...t.scopes].reverse()) {
        const hit = theme.find(([prefix]) => scope.startsWith(prefix));
        if (hit) { colour = hit[1]; break; }
      }
      html += colour ? `<span style="color:${colour}">${text}</span>` : text;
    }
    rows.push(html);
  }
  const lines = rows.map((r, i) => `<span class="n">${i + 1}</span>${r}`).join('\n');
  process.stdout.write(`<!DOCTYPE html><html><head><meta charset="utf-8"><style>
body { margin: 0; background: #1E1E1E; }
pre { margin: 0; padding: 14px 18px; color: #D4D4D4; font: 14px/1.45 'DejaVu Sans Mono', monospace; }
.n { display: inline-block; width: 2.4em; margin-right: 1.2em; text-align: right; color: #858585; }
</style></head><body><pre>${lines}</pre></body></html>\n`);
})();
