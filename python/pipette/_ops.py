"""pipette.ops: every op, plugins included, as a Python function.

A call is written as one line of pipette's language and compiled, so its
arguments are checked exactly as in a script (types, ranges, choices, and
did-you-mean for a misspelt keyword); tensors, models and other values go in
as numbered slots, tensors without a copy.
"""
import inspect
import itertools
import keyword
import weakref

import torch

from . import _convert, _literals, _progress
from ._errors import Diagnostic, Error

_PLACEMENT = ("device", "resources", "shards")


def _python_name(name):
    return name + "_" if keyword.iskeyword(name) else name


class _Call:
    def __init__(self, sig):
        self.sig = sig
        self.slots = []
        self.example = None  # the first tensor: to trace an nn.Module with

    def slot(self, kind, value):
        self.slots.append((kind, value))
        return f"python.{kind}(call=__CALL__, slot={len(self.slots) - 1})"

    def model(self, m):
        return self.slot("model", _model_handle(m, self.example, self.sig["name"]))

    def expr(self, v, ptype, what):
        if isinstance(v, torch.Tensor):
            return self.slot("tensor", v)
        if isinstance(v, torch.nn.Module):
            return self.model(v)
        if isinstance(v, dict) and ptype.startswith("dataset"):
            if not all(isinstance(x, torch.Tensor) for x in v.values()):
                raise Error(f"{what}: a dataset from Python is a dict of tensors with one row per example")
            return self.slot("dataset", v)
        c = _literals.constant(v, what)
        if c is not None:
            return c
        if isinstance(v, (list, tuple)):
            inner = ptype[5:-1] if ptype.startswith("list<") else "any"
            return "[" + ", ".join(self.expr(x, inner, what) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {self.expr(x, 'any', what)}" for k, x in v.items()) + "}"
        return self.slot("value", v)


# Models already handed to pipette, by the Python object: loaded (and scripted)
# once while their parameters and buffers are the same tensors at the same
# versions (an optimizer step or load_state_dict changes them).
_models = weakref.WeakKeyDictionary()
_load_model = None  # _pipette.load_model, set by build()


def _state(m):
    return tuple((t.data_ptr(), t._version, tuple(t.shape)) for t in itertools.chain(m.parameters(), m.buffers()))


def _model_handle(m, example, op):
    state = _state(m)
    hit = _models.get(m)
    if hit is not None and hit[0] == state:
        return hit[1]
    scripted = m if isinstance(m, torch.jit.ScriptModule) else _script_or_trace(m, example, op)
    handle = _load_model(_convert.model_to_bytes(scripted))
    _models[m] = (state, handle)
    return handle


def _script_or_trace(m, example, op):
    with _convert.quiet_jit():
        return _script_or_trace_loud(m, example, op)


def _script_or_trace_loud(m, example, op):
    errors = []
    try:
        return torch.jit.script(m)
    except Exception as e:  # noqa: BLE001 - any failure means: try tracing
        errors.append(f"torch.jit.script: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    if example is not None:
        try:
            with torch.no_grad():
                return torch.jit.trace(m, example[:2], check_trace=False)
        except Exception as e:  # noqa: BLE001
            errors.append(f"torch.jit.trace: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    else:
        errors.append("torch.jit.trace: no tensor argument to trace it with")
    raise Error(f"{op}: pipette runs TorchScript models, and this {type(m).__name__} could not be made one ("
                + "; ".join(errors) + ")", hints=["pass torch.jit.script(model) or torch.jit.trace(model, example)"])


def _doc(sig):
    lines = [sig["signature"], "", sig["doc"], ""]
    if sig["params"]:
        lines.append("Parameters")
        lines.append("----------")
        for p in sig["params"]:
            default = "" if p["required"] else f" = {p['default']!r}"
            lines.append(f"{_python_name(p['name'])} : {p['type']}{default}")
            extra = []
            if p["choices"]:
                extra.append("one of " + ", ".join(p["choices"]))
            if p["min"] is not None or p["max"] is not None:
                extra.append(f"in [{p['min'] if p['min'] is not None else '-inf'}, "
                             f"{p['max'] if p['max'] is not None else 'inf'}]")
            lines.append("    " + p["doc"] + (f" ({'; '.join(extra)})" if extra else ""))
        lines.append("")
    lines.append("Returns")
    lines.append("-------")
    lines.append(sig["returns"] + (f": {sig['returns_doc']}" if sig["returns_doc"] else ""))
    lines.append("")
    lines.append("Placement keywords, as in a script: device=, resources=, shards=.")
    if sig["plugin"]:
        lines.append(f"From plugin '{sig['plugin']}'.")
    return "\n".join(lines)


def _signature(sig):
    params = []
    for p in sig["params"]:
        default = inspect.Parameter.empty if p["required"] else p["default"]
        params.append(inspect.Parameter(_python_name(p["name"]), inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                        default=default))
    # Required parameters after optional ones cannot be written in Python's order.
    params.sort(key=lambda q: q.default is not inspect.Parameter.empty)
    for name in _PLACEMENT:
        params.append(inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None))
    return inspect.Signature(params)


def make_op(sig, call_op):
    name = sig["name"]
    by_name = {p["name"]: p for p in sig["params"]}

    def op(*args, progress=False, **kwargs):
        call = _Call(sig)
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, torch.Tensor):
                call.example = v
                break
        device = "cpu"
        for v in list(args) + list(kwargs.values()):
            if isinstance(v, torch.Tensor) and v.device.type != "cpu":
                device = str(v.device)
                break
        parts = []
        for i, v in enumerate(args):
            p = sig["params"][i] if i < len(sig["params"]) else None
            what = f"{name}: argument {i + 1}" + (f" ({p['name']})" if p else "")
            parts.append(call.expr(v, p["type"] if p else "any", what))
        for k, v in kwargs.items():
            if v is None and k in _PLACEMENT:
                continue
            key = k[:-1] if k.endswith("_") and keyword.iskeyword(k[:-1]) else k
            p = by_name.get(key)
            parts.append(f"{key}={call.expr(v, p['type'] if p else 'any', f'{name}: {key}')}")
        text = f'plugin "{sig["plugin"]}"\n' if sig["plugin"] else ""
        invocation = f"{name}({', '.join(parts)})"
        text += (f'report "result" = {invocation}\n' if sig["returns"] != "none" else invocation + "\n")
        bar = _progress.make(progress, name, "items")
        try:
            r = call_op(text, call.slots, device, bar)
        finally:
            if bar is not None:
                bar.close()
        if r["ok"]:
            return r["value"]
        if r["stage"] == "compile":
            diags = [Diagnostic.from_dict(d) for d in r["diagnostics"]]
            errors = [d for d in diags if d.severity == "error"] or diags
            first = errors[0]
            raise Error(f"{name}: {first.message}", diagnostics=diags, hints=first.hints, op=name)
        raise Error(f"{name}: {r['error']}", op=name)

    op.__name__ = _python_name(name.rsplit(".", 1)[-1])
    op.__qualname__ = op.__name__
    op.__module__ = "pipette.ops." + name.rsplit(".", 1)[0] if "." in name else "pipette.ops"
    op.__doc__ = _doc(sig)
    op.__signature__ = _signature(sig)
    return op


class Namespace:
    """A namespace of ops (pipette.ops.attr, ...); dir() lists what it holds."""

    def __init__(self, path):
        self._path = path
        self._items = {}

    def __getattr__(self, item):
        try:
            return self.__dict__["_items"][item]
        except KeyError:
            from difflib import get_close_matches
            near = get_close_matches(item, list(self._items), n=1)
            where = "pipette.ops" + (f".{self._path}" if self._path else "")
            raise AttributeError(f"{where} has no '{item}'" + (f"; did you mean '{near[0]}'?" if near else "")) from None

    def __dir__(self):
        return sorted(self._items)

    def __repr__(self):
        return f"<pipette.ops{'.' + self._path if self._path else ''}: {len(self._items)} entries>"


def build(signatures, call_op, load_model):
    global _load_model
    _load_model = load_model
    root = Namespace("")
    for sig in signatures:
        parts = sig["name"].split(".")
        ns = root
        for i, part in enumerate(parts[:-1]):
            nxt = ns._items.get(part)
            if not isinstance(nxt, Namespace):
                nxt = Namespace(".".join(parts[: i + 1]))
                ns._items[part] = nxt
            ns = nxt
        ns._items[_python_name(parts[-1])] = make_op(sig, call_op)
    return root
