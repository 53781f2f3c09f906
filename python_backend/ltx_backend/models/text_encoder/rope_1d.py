"""1-D rotary position embedding of the embeddings connectors (ltx-core's LTX RoPE with one position axis).

Frequencies span the full inner dim: theta ** linspace(0, 1, dim // 2) * pi / 2, applied to the
fractional position (2 * t / max_pos - 1). "interleaved" rotates channel pairs (2i, 2i+1) of the whole
inner dim; "split" rotates the two halves of each head.
"""
from __future__ import annotations

import math

import numpy as np
import torch

ROPE_TYPES = ("interleaved", "split")


def frequency_grid(theta: float, dim: int, double_precision: bool) -> torch.Tensor:
    """[dim // 2] float32 angular frequencies (built in float64 when ``double_precision``)."""
    count = dim // 2
    top = math.log(theta, theta)  # 1.0, written as the reference writes it (log(end) / log(theta))
    if double_precision:
        grid = np.power(theta, np.linspace(0.0, np.log(theta) / np.log(theta), count, dtype=np.float64))
        return torch.tensor(grid * math.pi / 2, dtype=torch.float32)
    grid = theta ** torch.linspace(0.0, top, count, dtype=torch.float32)
    return grid * math.pi / 2


def rope_cos_sin(
    seq_len: int,
    dim: int,
    heads: int,
    *,
    theta: float,
    max_pos: float,
    rope_type: str,
    double_precision: bool,
    dtype: torch.dtype,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos / sin tables for positions 0..seq_len-1.

    interleaved: [1, T, dim]; split: [1, H, T, dim / H / 2].
    """
    positions = torch.arange(seq_len, dtype=torch.float32, device=device) / max_pos
    freqs = frequency_grid(theta, dim, double_precision).to(device) * (positions[:, None] * 2 - 1)  # [T, dim/2]
    freqs = freqs[None]  # [1, T, dim/2]
    if rope_type == "interleaved":
        cos, sin = freqs.cos().repeat_interleave(2, dim=-1), freqs.sin().repeat_interleave(2, dim=-1)
        if dim % 2:  # odd leftover channel: identity rotation at the front
            cos = torch.cat([torch.ones_like(cos[..., :1]), cos], dim=-1)
            sin = torch.cat([torch.zeros_like(sin[..., :1]), sin], dim=-1)
    else:
        cos = freqs.cos().reshape(1, seq_len, heads, -1).transpose(1, 2)
        sin = freqs.sin().reshape(1, seq_len, heads, -1).transpose(1, 2)
    return cos.to(dtype), sin.to(dtype)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, rope_type: str) -> torch.Tensor:
    """Rotate x [B, T, H*Dh] with tables from :func:`rope_cos_sin`."""
    if rope_type == "interleaved":
        pairs = x.unflatten(-1, (-1, 2))  # [..., dim/2, 2]
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * cos + rotated * sin
    b, t, _ = x.shape
    heads = cos.shape[1]
    halves = x.reshape(b, t, heads, 2, -1).transpose(1, 2)  # [B, H, T, 2, Dh/2]
    first, second = halves[..., 0, :], halves[..., 1, :]
    out = torch.stack((first * cos - second * sin, second * cos + first * sin), dim=-2)
    return out.transpose(1, 2).reshape(b, t, -1)
