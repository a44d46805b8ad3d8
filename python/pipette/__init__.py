"""pipette from Python: check, graph and run .pipe scripts, and call any op
(plugins' included) on PyTorch tensors and models, in this process.

    import pipette
    result = pipette.run("experiment.pipe", params={"steps": 32})
    result.reports["ig"]                      # a torch.Tensor
    pipette.ops.attr.integrated_gradients(model, x, target=y, steps=32)

Tensors cross without copies (DLPack); the GIL is released while pipette
computes; Ctrl-C stops a run cleanly (it is recorded as interrupted). See
docs/python.md.
"""
import os as _os
from pathlib import Path as _Path

import torch as _torch  # first: the engine links the LibTorch this torch loaded

from . import _literals, _progress
from ._errors import Diagnostic, Error

try:
    from . import _pipette
except ImportError as _e:  # a build for another torch or Python
    raise ImportError(
        f"pipette's engine could not be loaded ({_e}); it must be built against the torch it is imported with "
        f"(this is torch {_torch.__version__} from {_os.path.dirname(_torch.__file__)}): see docs/python.md"
    ) from _e

__version__ = _pipette.version
__all__ = ["check", "graph", "run", "ops", "Error", "Diagnostic", "Result", "__version__"]

_here = _Path(__file__).resolve().parent


def _pipette_exe():
    installed = _here / "bin" / "pipette"  # a wheel (pip install .)
    if installed.exists():
        return str(installed)
    try:
        from ._build_paths import PIPETTE_EXE  # a build tree
        return PIPETTE_EXE
    except ImportError:
        return "pipette"


_pipette.configure(_pipette_exe(), [], [], _os.environ.get("PIPETTE_LOG_LEVEL", "warn"))


def _source(path_or_text):
    """(source, is_path, name): a path-like, or a str naming a .pipe file, is a file; other text is a script."""
    if isinstance(path_or_text, _os.PathLike):
        p = _os.fspath(path_or_text)
        return p, True, p
    if not isinstance(path_or_text, str):
        raise TypeError(f"expected a path or the text of a script, got {type(path_or_text).__name__}")
    if "\n" not in path_or_text and (path_or_text.endswith(".pipe") or _os.path.isfile(path_or_text)):
        return path_or_text, True, path_or_text
    return path_or_text, False, "<string>"


def _sets(params):
    if params is None:
        return []
    if not isinstance(params, dict):
        raise TypeError("params must be a dict of param names to values")
    return [_literals.set_value(k, v) for k, v in params.items()]


def check(path_or_text, params=None):
    """Every diagnostic of compiling a script (a path, or its text): a list of
    Diagnostic(file, line, column, severity, message, hints). Raises nothing:
    an unreadable file is a diagnostic too."""
    source, is_path, name = _source(path_or_text)
    try:
        sets = _sets(params)
    except (TypeError, ValueError) as e:
        return [Diagnostic(severity="error", message=str(e))]
    r = _pipette.check(source, is_path, name, sets)
    return [Diagnostic.from_dict(d) for d in r["diagnostics"]]


def graph(path_or_text, params=None):
    """The compiled graph as `pipette graph --format json` writes it, as dicts.
    Raises pipette.Error (with .diagnostics) when the script does not compile."""
    import json
    source, is_path, name = _source(path_or_text)
    r = _pipette.graph(source, is_path, name, _sets(params))
    if r["graph"] is None:
        raise _compile_error(r["diagnostics"])
    return json.loads(r["graph"])


def _compile_error(diagnostics):
    diags = [Diagnostic.from_dict(d) for d in diagnostics]
    errors = [d for d in diags if d.severity == "error"] or diags
    first = errors[0]
    return Error("\n".join(str(d) for d in errors), file=first.file, line=first.line, column=first.column,
                 diagnostics=diags, hints=[])


class Result:
    """What a run did: `reports` (name -> tensor, number, dict...), `status`
    ("ok", "failed"), `run_id`, `out`, `report` and `html` (Paths: report.json, report.html), `nodes` (one dict
    per node: id, op, file, line, status, cached, seconds, started, peak_bytes, error),
    `failures`, `warnings`."""

    def __init__(self, r):
        self.status = r["status"]
        self.run_id = r["run_id"]
        self.out = _Path(r["out"])
        self.report = _Path(r["report"]) if r["report"] else None
        self.html = _Path(r["html"]) if r.get("html") else None  # report.html, the run as one page
        self.reports = r["reports"]
        self.nodes = r["nodes"]
        self.failures = r["failures"]
        self.missing_reports = r["missing_reports"]
        self.report_errors = r["report_errors"]
        self.counts = r["counts"]
        self.warnings = [m for level, m in r["log"] if level == "warning"]
        self.log = r["log"]

    @property
    def ok(self):
        return self.status == "ok"

    def __repr__(self):
        c = self.counts
        return (f"<pipette.Result {self.run_id} {self.status}: {len(self.nodes)} nodes, {c['computed']} computed, "
                f"{c['cached']} from cache, {c['failed']} failed; reports {sorted(self.reports)}>")


def run(path, params=None, out=None, device="cpu", jobs=None, cache=True, seed=0, progress=False, force=False,
        memory_budget=None):
    """Runs a script as `pipette run` does: the project's cache (or `cache`, a
    directory, or False for none), the run store, report.json and the saved
    files in `out` (default: the project's runs/<run id>).

    Returns a Result. Raises pipette.Error when the script does not compile,
    cannot start, or a node fails (then `.file`, `.line`, `.node`, `.op` say
    where, and `.result` holds what was computed). Ctrl-C stops the run,
    records it as interrupted and raises KeyboardInterrupt."""
    import warnings
    source, is_path, _ = _source(path)
    if not is_path:
        raise TypeError("pipette.run takes the path of a script (its outputs and files are relative to it)")
    if cache is True or cache is None:
        cache_dir, use_cache = "", True
    elif cache is False:
        cache_dir, use_cache = "", False
    else:
        cache_dir, use_cache = _os.fspath(cache), True
    if isinstance(device, _torch.device):
        device = str(device)
    if int(seed) < 0:
        raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {seed}")
    bar = _progress.make(progress, _os.path.basename(source), "nodes")
    try:
        r = _pipette.run(source, _sets(params), _os.fspath(out) if out is not None else "", bool(force), str(device),
                         int(jobs or 0), cache_dir, use_cache, int(seed),
                         str(memory_budget) if memory_budget is not None else "", bar)
    finally:
        if bar is not None:
            bar.close()
    if r["status"] == "invalid":
        raise _compile_error(r["diagnostics"])
    if r["status"] == "not run":
        raise Error(r["error"] + "\nnothing was run")
    result = Result(r)
    for w in result.warnings:
        warnings.warn(w, stacklevel=2)
    if result.failures:
        f = result.failures[0]
        raise Error(f["message"], file=f["file"], line=f["line"], column=f["column"], node=f["id"], op=f["op"],
                    result=result)
    if result.report_errors:
        name, why = next(iter(result.report_errors.items()))
        raise Error(f"report '{name}' {why}", result=result)
    return result


class _LazyOps:
    """pipette.ops, built on first use (it lists the plugins in the search path)."""

    def _root(self):
        root = self.__dict__.get("_built")
        if root is None:
            from . import _ops
            root = _ops.build(_pipette.signatures(), _pipette.call_op, _pipette.load_model)
            self.__dict__["_built"] = root
        return root

    def __getattr__(self, item):
        return getattr(self._root(), item)

    def __dir__(self):
        return dir(self._root())

    def __repr__(self):
        return "<pipette.ops: " + ", ".join(dir(self._root())) + ">"


ops = _LazyOps()
