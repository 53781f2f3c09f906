"""Fractional rotary position embedding over 1 (audio) or 3 (video: time, height, width) axes.

A token's position on each axis is the midpoint of its [start, end) bounds, divided by that axis'
max position and mapped to [-1, 1]: p = 2 * mid / max_pos - 1. With A axes and an inner dim `dim`,
F = dim // (2A) angular frequencies w_f = theta ** (f / (F - 1)) * pi / 2 multiply it, and the
angles are laid out frequency-major, axes interleaved: (w_0 p_0, w_0 p_1, .., w_1 p_0, ..).
Channels the layout leaves over sit at the front and are not rotated (cos 1, sin 0).

"interleaved": rotates channel pairs (2i, 2i+1) of the whole inner dim; tables [B, T, dim].
"split":       rotates the two halves of each head against each other; tables [B, H, T, dim / H / 2].
"""
from __future__ import annotations

import math
from enum import Enum

import numpy as np
import torch

from ltx_kernels import apply_rope_reference


class RopeType(str, Enum):
    INTERLEAVED = "interleaved"
    SPLIT = "split"


RopeTables = tuple[torch.Tensor, torch.Tensor]  # (cos, sin)


def frequency_grid(theta: float, n_axes: int, dim: int, double_precision: bool) -> torch.Tensor:
    """[dim // (2 n_axes)] float32 angular frequencies (computed in float64 when `double_precision`)."""
    count = dim // (2 * n_axes)
    if double_precision:
        exponents = np.linspace(np.log(1) / np.log(theta), np.log(theta) / np.log(theta), count, dtype=np.float64)
        return torch.tensor(np.power(theta, exponents) * math.pi / 2, dtype=torch.float32)
    exponents = torch.linspace(math.log(1, theta), math.log(theta, theta), count, dtype=torch.float32)
    return theta**exponents * math.pi / 2


def rope_angles(positions: torch.Tensor, max_pos: list[int], grid: torch.Tensor) -> torch.Tensor:
    """positions [B, A, T, 2] bounds -> angles [B, T, F * A] (frequency-major, axes interleaved)."""
    middle = (positions[..., 0] + positions[..., 1]) / 2.0  # [B, A, T]
    fractional = torch.stack([middle[:, axis] / max_pos[axis] for axis in range(middle.shape[1])], dim=-1)
    # (non_blocking: a copy from pageable host memory that does not wait for the device's queued work)
    angles = grid.to(fractional.device, non_blocking=True) * (fractional.unsqueeze(-1) * 2 - 1)  # [B, T, A, F]
    return angles.transpose(-1, -2).flatten(2)


def rope_tables(
    positions: torch.Tensor,
    dim: int,
    heads: int,
    max_pos: list[int],
    theta: float,
    rope_type: RopeType,
    double_precision: bool,
    dtype: torch.dtype,
) -> RopeTables:
    """cos / sin tables for tokens at `positions` [B, A, T, 2], for an inner dim `dim` of `heads` heads."""
    n_axes = positions.shape[1]
    if len(max_pos) != n_axes:
        raise ValueError(f"positions have {n_axes} axes but max_pos has {len(max_pos)} entries")
    angles = rope_angles(positions, max_pos, frequency_grid(theta, n_axes, dim, double_precision))
    cos, sin = angles.cos(), angles.sin()
    if rope_type == RopeType.INTERLEAVED:
        cos, sin = cos.repeat_interleave(2, dim=-1), sin.repeat_interleave(2, dim=-1)
        cos, sin = _pad_front(cos, sin, dim - cos.shape[-1])
    else:
        cos, sin = _pad_front(cos, sin, dim // 2 - cos.shape[-1])
        batch, tokens, _ = cos.shape
        cos = cos.reshape(batch, tokens, heads, -1).transpose(1, 2)
        sin = sin.reshape(batch, tokens, heads, -1).transpose(1, 2)
    return cos.to(dtype), sin.to(dtype)


def _pad_front(cos: torch.Tensor, sin: torch.Tensor, size: int) -> RopeTables:
    if size == 0:
        return cos, sin
    shape = (*cos.shape[:-1], size)
    cos = torch.cat([torch.ones(shape, dtype=cos.dtype, device=cos.device), cos], dim=-1)
    sin = torch.cat([torch.zeros(shape, dtype=sin.dtype, device=sin.device), sin], dim=-1)
    return cos, sin


def apply_rope(x: torch.Tensor, tables: RopeTables, rope_type: RopeType) -> torch.Tensor:
    """Rotate x [B, T, H*D] by tables from :func:`rope_tables` (the PyTorch ops of ltx_kernels' reference)."""
    return apply_rope_reference(x, tables, rope_type.value if isinstance(rope_type, RopeType) else rope_type)
