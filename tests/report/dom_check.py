"""What a headless browser made of a pipette page: its DOM (chromium
--dump-dom) counted against what the run's report.json says must be there.

    dom_check.py report DOM REPORT_JSON OUT_DIR   # report.html
    dom_check.py compare DOM REPORT_JSON...       # a runs compare page of these runs

Prints what it counted; exits 1 naming each count that is wrong."""
import json
import os
import sys
from html.parser import HTMLParser


class Counter(HTMLParser):
    def __init__(self):
        super().__init__()
        self.elements = []  # (tag, attrs dict, id of the nearest ancestor with one)
        self.stack = []
        self.text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        ids = [x for _, x in self.stack if x]
        self.elements.append((tag, a, ids))
        # Void elements only: chromium's --dump-dom closes SVG's <rect> and <line>.
        if tag not in ("img", "br", "meta", "input"):
            self.stack.append((tag, a.get("id")))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            if t == tag:
                break

    def handle_data(self, data):
        self.text.append(data)

    def count(self, tag, cls=None, inside=None):
        return sum(1 for t, a, ids in self.elements
                   if t == tag and (cls is None or cls in a.get("class", "").split())
                   and (inside is None or inside in ids))


def shown(s):
    """A string as the page shows it: control characters as their pictures, U+2400 + c (engine/html_page.hpp)."""
    return "".join(chr(0x2421 if ord(c) == 0x7f else 0x2400 + ord(c))
                   if (ord(c) < 0x20 and c not in "\n\t") or ord(c) == 0x7f else c for c in s)


def pictures_of(out):
    """The pictures a run saved, as report.html finds them."""
    return sorted(os.path.relpath(os.path.join(d, f), out)
                  for d, _, files in os.walk(out) for f in files
                  if f.endswith((".png", ".svg")) and not f.startswith(".")
                  and os.path.relpath(d, out).split(os.sep)[0] != "reports")


def main():
    kind, dom = sys.argv[1], sys.argv[2]
    page = Counter()
    page.feed(open(dom, encoding="utf-8").read())
    text = "".join(page.text)
    want = {"script elements (the page's own only)": (page.count("script"), 1),
            "sortable headers marked by the page's script (it ran)": (page.count("th", "sorts") > 0, True)}
    if kind == "report":
        report = json.load(open(sys.argv[3]))
        out = sys.argv[4]
        pictures = pictures_of(out)
        want["report rows"] = (page.count("tr", "report"), len(report["reports"]))
        want["node rows"] = (page.count("tr", "node"), len(report["nodes"]))
        want["pictures (a figure each)"] = (page.count("figure", inside="pictures"), len(pictures))
        want["thumbnails"] = (page.count("img", inside="pictures"), len(pictures))
        computed = sum(1 for n in report["nodes"] if "started" in n)
        want["timeline bars (computed nodes)"] = (page.count("rect", "bar"), computed)
        errors = [n for n in report["nodes"] if "error" in n]
        want["errors shown"] = (page.count("div", "error"), len(errors))
        warnings = len(report.get("warnings", [])) + sum(len(n.get("warnings", [])) + ("warning" in n)
                                                         for n in report["nodes"])
        want["warnings shown"] = (page.count("li", "warning"), warnings)
        for name in report["reports"]:
            want["report name shown as text: " + shown(name)[:40]] = (shown(name) in text, True)
    else:
        reports = [json.load(open(p)) for p in sys.argv[3:]]
        dirs = [os.path.dirname(p) for p in sys.argv[3:]]
        names = set().union(*(r["reports"].keys() for r in reports))
        nodes = set().union(*({(n["id"], n["op"]) for n in r["nodes"]} for r in reports))
        per_run = [set(pictures_of(d)) for d in dirs]
        # The head row: a blank, one per run, "changed"; each body row has one header.
        want["run columns"] = (page.count("th", inside="runs") - (page.count("tr", inside="runs") - 1), len(reports) + 2)
        want["report rows (scalar reports: one each)"] = (page.count("tr", "report"), len(names))
        want["node rows"] = (page.count("tr", "node"), len(nodes))
        want["picture rows"] = (page.count("tr", "picture"), len(set().union(*per_run)))
        want["pictures"] = (page.count("img", inside="pictures"), sum(len(p) for p in per_run))
    bad = 0
    for what, (got, expected) in want.items():
        ok = got == expected
        bad += not ok
        print(("ok   " if ok else "FAIL ") + f"{what}: {got}" + ("" if ok else f" (wanted {expected})"))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
