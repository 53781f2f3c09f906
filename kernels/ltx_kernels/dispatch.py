"""The one switch behind every kernel call of the models: which implementation runs.

Backends (``set_attention_backend``):

    "auto"        Triton kernels on CUDA tensors, the PyTorch reference ops (and torch SDPA) on CPU.
    "triton"      Triton kernels everywhere. On CPU this needs TRITON_INTERPRET=1 (the Triton
                  interpreter, how the tests run the kernels); otherwise it is an error naming the
                  backend and the device.
    "flash_attn"  attention through the flash-attn package (must be installed; masked, fp32 or CPU
                  calls fall back to the "auto" choice); the fused norm/RoPE/AdaLN ops as "auto".
    "sdpa"        plain PyTorch everywhere: torch SDPA for attention and the reference ops for the
                  fused kernels (bit-identical to the model's unfused code).

The kernels are forward-only: a call whose inputs need gradients runs the PyTorch reference.
Each resolved choice (op, backend, implementation, device) is logged once at INFO level.
"""
from __future__ import annotations

import importlib.util
import logging
import os
from collections import Counter

import torch

BACKENDS = ("auto", "triton", "flash_attn", "sdpa")

logger = logging.getLogger("ltx_kernels")

_backend = "auto"
_logged: set[tuple] = set()
# Number of calls that ran a Triton kernel / the reference, per op: lets tests and the benchmark check
# that the path they mean to measure is the one that ran.
calls: Counter = Counter()


def set_attention_backend(name: str) -> None:
    """Select the implementation of every attention (and fused norm/RoPE/AdaLN op) of the models."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"attention backend {name!r} is not supported (expected one of {BACKENDS})")
    if name == "triton" and not triton_available():
        raise RuntimeError("attention backend 'triton' needs the triton package, which is not installed")
    if name == "flash_attn" and importlib.util.find_spec("flash_attn") is None:
        raise RuntimeError(
            "attention backend 'flash_attn' needs the flash-attn package, which is not installed "
            "(pip install flash-attn), or choose 'auto' or 'sdpa' ('triton' too on CUDA)"
        )
    _backend = name


def get_attention_backend() -> str:
    return _backend


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def triton_interpret() -> bool:
    """True when Triton runs its kernels in the interpreter (on CPU tensors)."""
    return os.environ.get("TRITON_INTERPRET", "0").strip().lower() in ("1", "true", "yes", "on")


def triton_runs_on(device: torch.device) -> bool:
    """Whether the Triton kernels can run on tensors of `device`: CUDA, or any device in the interpreter."""
    return device.type == "cuda" or triton_interpret()


def _needs_grad(tensors) -> bool:
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def use_triton(op: str, *tensors: torch.Tensor | None) -> bool:
    """Whether `op` on these tensors runs its Triton kernel under the current backend."""
    device = next(t.device for t in tensors if t is not None)
    if _backend == "sdpa":
        return _chosen(op, "reference", device)
    if _needs_grad(tensors):
        return _chosen(op, "reference (inputs need gradients; the kernels are forward-only)", device)
    if _backend == "triton":
        if not triton_runs_on(device):
            raise RuntimeError(
                f"attention backend 'triton' cannot run {op} on device {device.type!r}: the Triton kernels "
                "need CUDA tensors, or TRITON_INTERPRET=1 (set before triton is imported) for the CPU "
                "interpreter; use backend 'auto' or 'sdpa' on CPU"
            )
        return _chosen(op, "triton", device)
    # auto, flash_attn
    if device.type == "cuda" and triton_available():
        return _chosen(op, "triton", device)
    return _chosen(op, "reference", device)


def _chosen(op: str, implementation: str, device: torch.device) -> bool:
    triton = implementation == "triton"
    _record(op, implementation, "triton" if triton else "reference", device)
    return triton


def _record(op: str, implementation: str, counted_as: str, device: torch.device) -> None:
    """Log the choice once and count the call, in eager mode only: under torch.compile these side effects would
    become guards on the counters and recompile the graph at every call."""
    if torch.compiler.is_compiling():
        return
    family = _FAMILIES.get(counted_as, "the PyTorch implementations")
    key = (_backend, family, device.type)
    if key not in _logged:  # one line per kind of implementation, not one per op
        _logged.add(key)
        why = f" ({implementation.split('(', 1)[1]}" if "(" in implementation else ""
        logger.info("%s on %s (backend %r)%s", family, device.type, _backend, why)
    calls[(op, counted_as)] += 1


_FAMILIES = {"triton": "the Triton kernels", "flash_attn": "flash-attn attention"}


def log_choice(op: str, implementation: str, device: torch.device) -> None:
    """Log (once) and count a choice made outside :func:`use_triton` (attention's sdpa / flash-attn)."""
    _record(op, implementation, implementation, device)
