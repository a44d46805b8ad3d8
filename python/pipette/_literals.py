"""Python values written in pipette's language: --set values and op-call arguments."""
import math

import torch


def string(s):
    """A string literal: quotes, backslashes and braces escaped (no interpolation)."""
    out = []
    for ch in s:
        if ch in '"\\{}':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20:
            raise ValueError(f"pipette strings cannot hold the control character {ch!r}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def constant(v, what="a value"):
    """`v` as a literal, or None when it is not a constant (tensors, models...)."""
    if v is None:
        return "none"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise ValueError(f"{what} is {v}: pipette takes finite numbers only")
        r = repr(v)
        return r if any(c in r for c in ".e") else r + ".0"
    if isinstance(v, str):
        return string(v)
    if isinstance(v, (list, tuple)):
        items = [constant(x, what) for x in v]
        return None if any(i is None for i in items) else "[" + ", ".join(items) + "]"
    if isinstance(v, dict):
        items = []
        for k, x in v.items():
            if not isinstance(k, str) or not k.isidentifier():
                raise ValueError(f"{what}: a record's field names must be identifiers, got {k!r}")
            c = constant(x, what)
            if c is None:
                return None
            items.append(f"{k}: {c}")
        return "{" + ", ".join(items) + "}"
    return None


def set_value(name, v):
    """NAME=VALUE for a param, as `pipette run --set` takes it."""
    if isinstance(v, torch.Tensor):
        raise TypeError(f"params[{name!r}] is a tensor; params are constants (numbers, strings, lists, records). "
                        "Save it with torch.save and load it in the script (tensor.load)")
    c = constant(v, f"params[{name!r}]")
    if c is None:
        raise TypeError(f"params[{name!r}] is a {type(v).__name__}; params are numbers, strings, bools, lists and dicts")
    return f"{name}={c}"
