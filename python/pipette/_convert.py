"""Tensors and models across the boundary with pipette's engine (used by _pipette)."""
import contextlib
import io
import warnings

import torch
import torch.utils.dlpack as _dlpack


def is_tensor(x):
    return isinstance(x, torch.Tensor)


def tensor_to_capsule(t):
    """A DLPack capsule of `t` itself: the engine's tensor is the same memory.

    Gradients stay on the Python side (pipette computes its own); LibTorch 1.13's
    DLPack has no bool, so bool tensors cross as bytes and are viewed back.
    """
    t = t.detach()
    if t.dtype == torch.bool:
        return _dlpack.to_dlpack(t.view(torch.uint8)), True
    return _dlpack.to_dlpack(t), False


def tensor_from_capsule(capsule, is_bool):
    t = _dlpack.from_dlpack(capsule)
    return t.view(torch.bool) if is_bool else t


@contextlib.contextmanager
def quiet_jit():
    """TorchScript as pipette's transport: PyTorch 2.x's deprecation of torch.jit
    is about the user's choice of format, not this."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
        yield


def model_from_bytes(data):
    with quiet_jit():
        return torch.jit.load(io.BytesIO(data))


def model_to_bytes(module):
    buf = io.BytesIO()
    with quiet_jit():
        torch.jit.save(module, buf)
    return buf.getvalue()
