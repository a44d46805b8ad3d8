// Tokenizes .pipe files with VS Code's own TextMate engine (vscode-textmate +
// vscode-oniguruma) and the generated grammar, and asserts the scopes.
//   node tokenize_test.js GRAMMAR SAMPLE EXAMPLE...
// SAMPLE is tests/editors/sample.pipe (known token classes at known places);
// every EXAMPLE must tokenize without invalid tokens or unclosed strings.
'use strict';
const fs = require('fs');
let textmate;
try {
  textmate = require('./grammar.js');
} catch (e) {
  console.log('SKIP: npm packages missing (run scripts/install-deps.sh): ' + e.message);
  process.exit(77);
}

const [grammarPath, samplePath, ...examples] = process.argv.slice(2);

async function main() {
  const grammar = await textmate.loadGrammar(grammarPath);

  function tokenize(file) {
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    let stack = textmate.INITIAL;
    const out = [];
    lines.forEach((text, i) => {
      const r = grammar.tokenizeLine(text, stack);
      for (const t of r.tokens)
        out.push({ line: i + 1, text: text.substring(t.startIndex, t.endIndex), scopes: t.scopes, start: t.startIndex });
      stack = r.ruleStack;
      if (stack.depth > 1) out.push({ line: i + 1, text: '', scopes: ['<unclosed at end of line>'], start: text.length });
    });
    return { lines, tokens: out };
  }

  let failures = 0;
  function fail(msg) {
    console.log('FAIL ' + msg);
    failures++;
  }

  // The sample: (line, text, occurrence) -> expected innermost scope.
  const sample = tokenize(samplePath);
  function expectScope(line, text, scope, nth = 0) {
    const lineText = sample.lines[line - 1];
    let col = -1;
    for (let k = 0; k <= nth; k++) col = lineText.indexOf(text, col + 1);
    if (col < 0) return fail(`sample line ${line} has no '${text}'`);
    const t = sample.tokens.find((t) => t.line === line && t.start <= col && col < t.start + t.text.length);
    if (!t || !t.scopes.includes(scope))
      fail(`line ${line} '${text}': expected ${scope}, got ${t ? t.scopes.join(' ') : 'no token'}`);
  }
  expectScope(1, '#', 'punctuation.definition.comment.pipe');
  expectScope(1, 'sample', 'comment.line.number-sign.pipe');
  expectScope(2, 'param', 'keyword.control.pipe');
  expectScope(2, 'steps', 'variable.other.definition.pipe');
  expectScope(2, 'int', 'storage.type.pipe');
  expectScope(2, '16', 'constant.numeric.pipe');
  expectScope(2, 'integrated', 'comment.line.number-sign.pipe');
  expectScope(3, '-2.5e-1', 'constant.numeric.pipe');
  expectScope(5, 'pipeline', 'keyword.control.pipe');
  expectScope(5, 'doubled', 'entity.name.function.pipe');
  expectScope(5, 'tensor', 'storage.type.pipe');
  expectScope(5, '2.0', 'constant.numeric.pipe');
  expectScope(6, 'return', 'keyword.control.pipe');
  expectScope(6, 'tensor.mul', 'support.function.pipe');
  expectScope(9, 'data.fashion_mnist', 'support.function.pipe');
  expectScope(9, 'split', 'variable.parameter.pipe');
  expectScope(9, '"test"', 'string.quoted.double.pipe');
  expectScope(9, '8', 'constant.numeric.pipe');
  expectScope(10, 'train.classifier', 'support.function.pipe');
  expectScope(10, 'epochs', 'variable.parameter.pipe');
  expectScope(11, 'attr.integrated_gradients', 'support.function.pipe');
  expectScope(11, 'target', 'variable.parameter.pipe');
  expectScope(12, 'steps', 'variable.parameter.pipe');
  expectScope(13, 'for', 'keyword.control.pipe');
  expectScope(13, 'in', 'keyword.control.pipe');
  expectScope(14, 'report', 'keyword.control.pipe');
  expectScope(14, 'ig_', 'string.quoted.double.pipe');
  expectScope(14, '{', 'punctuation.section.interpolation.begin.pipe');
  expectScope(14, '{n}', 'punctuation.section.interpolation.begin.pipe');
  expectScope(14, 'n}', 'variable.other.interpolated.pipe');
  expectScope(14, '{{', 'constant.character.escape.pipe');
  expectScope(14, 'raw', 'string.quoted.double.pipe');
  expectScope(14, '\\t', 'constant.character.escape.pipe');
  expectScope(14, 'doubled', 'variable.function.pipe');
  expectScope(14, 'factor', 'variable.parameter.pipe');
  expectScope(15, '|>', 'keyword.operator.pipe.pipe');
  expectScope(15, 'metric.sparseness', 'support.function.pipe');
  expectScope(17, 'true', 'constant.language.pipe');

  // Every example: no invalid token, no string left open, keywords that start a
  // line and every `|>` outside strings and comments scoped as such.
  const keywords = /^\s*(let|param|pipeline|for|import|plugin|report|return)\b/;
  for (const file of examples) {
    const { lines, tokens } = tokenize(file);
    for (const t of tokens) {
      if (t.scopes.some((s) => s.startsWith('invalid') || s.startsWith('<unclosed')))
        fail(`${file}:${t.line}: ${t.scopes.join(' ')} at '${t.text}'`);
      const inText = t.scopes.some((s) => s.startsWith('string') || s.startsWith('comment'));
      if (t.text.trim() === '|>' && !inText && !t.scopes.includes('keyword.operator.pipe.pipe'))
        fail(`${file}:${t.line}: '|>' scoped ${t.scopes.join(' ')}`);
    }
    lines.forEach((text, i) => {
      const m = keywords.exec(text);
      if (!m) return;
      const col = text.indexOf(m[1]);
      const t = tokens.find((t) => t.line === i + 1 && t.start <= col && col < t.start + t.text.length);
      if (!t || !t.scopes.includes('keyword.control.pipe')) fail(`${file}:${i + 1}: '${m[1]}' is not a keyword`);
    });
    const trimmed = lines.filter((l) => /^\s*#/.test(l)).length;
    const commented = new Set(tokens.filter((t) => t.scopes.includes('comment.line.number-sign.pipe')).map((t) => t.line));
    lines.forEach((l, i) => {
      if (/^\s*#/.test(l) && !commented.has(i + 1)) fail(`${file}:${i + 1}: comment line not scoped as a comment`);
    });
    console.log(`${file}: ${tokens.length} tokens, ${trimmed} comment lines`);
  }
  if (failures) {
    console.log(`${failures} failure(s)`);
    process.exit(1);
  }
  console.log('ok');
}

main().catch((e) => {
  console.log('FAIL ' + (e.stack || e));
  process.exit(1);
});
