#!/usr/bin/python3
"""Highlights tests/editors/sample.pipe and the examples with KDE's own engine
(kate-syntax-highlighter, KSyntaxHighlighting) and editors/kate/pipe.xml, and
checks the format names it reports at known places. Skips (77) without it.
Usage: kate_test.py SOURCE_DIR"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

src = sys.argv[1]
tool = shutil.which("kate-syntax-highlighter")
if not tool:
    print("SKIP: kate-syntax-highlighter not installed (libkf5syntaxhighlighting-tools)")
    sys.exit(77)

home = tempfile.mkdtemp()
syntax_dir = os.path.join(home, "org.kde.syntax-highlighting", "syntax")
os.makedirs(syntax_dir)
shutil.copy(os.path.join(src, "editors/kate/pipe.xml"), syntax_dir)
env = dict(os.environ, XDG_DATA_HOME=home, QT_QPA_PLATFORM="offscreen", HOME=home)
ansi = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def trace(path):
    r = subprocess.run([tool, "-s", "Pipette", "-f", "ansi", "--syntax-trace", "format", path],
                       env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or r.stderr.strip():
        print(f"FAIL {path}: exit {r.returncode}, stderr: {r.stderr.strip()}")
        sys.exit(1)
    return [ansi.sub("", l) for l in r.stdout.split("\n")]


failures = []
sample_path = os.path.join(src, "tests/editors/sample.pipe")
sample = open(sample_path).read().split("\n")
out = trace(sample_path)
# The trace repeats each source line, then lines of '|' marks and format names
# written from the column where each token starts.
blocks, i = {}, 0
for n, line in enumerate(sample, 1):
    while i < len(out) and out[i] != line:
        i += 1
    j = i + 1
    while j < len(out) and (n >= len(sample) or out[j] != sample[n]):
        j += 1
    blocks[n] = out[i + 1:j]
    i = j


def expect(line, text, fmt, nth=0):
    col = -1
    for _ in range(nth + 1):
        col = sample[line - 1].find(text, col + 1)
    if col < 0:
        failures.append(f"line {line} has no {text!r}")
        return
    if not any(l[col:].startswith(fmt) for l in blocks.get(line, [])):
        failures.append(f"line {line} {text!r}: expected {fmt}")


expect(1, "#", "Comment")
expect(2, "param", "Keyword")
expect(2, "steps", "Definition")
expect(2, "int", "Type")
expect(2, "16", "Number")
expect(2, "# integrated", "Comment")
expect(3, "-2.5e-1", "Number")
expect(5, "pipeline", "Keyword")
expect(5, "doubled", "Function Definition")
expect(5, "tensor", "Type")
expect(6, "tensor.mul", "Op")
expect(9, "data.fashion_mnist", "Op")
expect(9, "split", "Parameter")
expect(9, '"test"', "String")
expect(10, "epochs", "Parameter")
expect(12, "steps", "Parameter")
expect(13, "for", "Keyword")
expect(13, "in", "Keyword")
expect(14, "report", "Keyword")
expect(14, "{n}", "Interpolation")
expect(14, "{{", "Escape")
expect(14, "\\t", "Escape")
expect(14, "doubled", "Function")
expect(14, "factor", "Parameter")
expect(15, "|>", "Operator")
expect(15, "metric.sparseness", "Op")
expect(17, "true", "Constant")

for f in sorted(os.listdir(os.path.join(src, "examples"))):
    if f.endswith(".pipe"):
        trace(os.path.join(src, "examples", f))

for f in failures:
    print("FAIL", f)
print("ok" if not failures else f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
