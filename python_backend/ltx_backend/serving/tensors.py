"""Tensors across the Triton boundary: torch <-> pb_utils.Tensor through DLPack (no copy where the memory
allows it; GPU tensors stay on their GPU), and BYTES tensors <-> Python strings/bytes.

`pb` is the `triton_python_backend_utils` module; it exists only inside a python-backend stub, so it is passed
in rather than imported here.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.dlpack import from_dlpack

from ltx_backend.errors import InvalidRequest


def to_triton(pb: Any, name: str, value: torch.Tensor | np.ndarray) -> Any:
    """A pb_utils.Tensor named `name`. torch tensors travel by DLPack (bf16 included); numpy arrays by value."""
    if isinstance(value, np.ndarray):
        return pb.Tensor(name, value)
    if value.dtype == torch.bool:  # DLPack bool support varies; Triton's BOOL is one byte per element
        return pb.Tensor(name, value.cpu().numpy())
    # The tensor itself (its __dlpack__), not a capsule: the stub then synchronises with its CUDA stream.
    return pb.Tensor.from_dlpack(name, value.contiguous())


def from_triton(tensor: Any) -> torch.Tensor:
    """A torch view of a pb_utils.Tensor (CPU or GPU, bf16 included: no numpy on the way).
    BYTES tensors are not torch-representable: use as_strings on their as_numpy()."""
    try:
        return from_dlpack(tensor.to_dlpack())
    except Exception as error:  # noqa: BLE001 - the stub raises its own error type for BYTES tensors
        raise InvalidRequest(tensor.name(), "<BYTES>", f"a numeric tensor ({error})") from None


def as_strings(array: np.ndarray) -> list[str]:
    """BYTES tensor contents (numpy object array of bytes) -> list of UTF-8 strings. Raises UnicodeDecodeError."""
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in array.reshape(-1)]


def bytes_array(values: list[bytes] | list[str]) -> np.ndarray:
    """A 1-D numpy object array for a BYTES tensor."""
    return np.array([v.encode("utf-8") if isinstance(v, str) else v for v in values], dtype=np.object_)


def one_string(name: str, array: np.ndarray) -> str:
    """The one UTF-8 string of a BYTES input `name` [1]; InvalidRequest naming it otherwise."""
    if array.size != 1:
        raise InvalidRequest(name, f"<{array.size} elements>", "one string")
    try:
        (value,) = as_strings(array)
    except UnicodeDecodeError as error:
        raise InvalidRequest(name, "<bytes>", f"UTF-8 text ({error.reason})") from None
    return value
