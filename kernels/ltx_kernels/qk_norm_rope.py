"""QK RMS-norm + LTX RoPE: the dispatch point and its PyTorch reference.

    qk_norm_rope(q, k, q_weight, k_weight, eps, pe=None, k_pe=None, layout="split") -> (q, k)

q [B, Tq, H*D], k [B, Tk, H*D] are normalised over the whole inner dim H*D with their weights
(nn.RMSNorm(H*D)), then rotated with the RoPE tables: `pe` = (cos, sin) for the queries, `k_pe` for the
keys (None: the keys use `pe`; `pe` None: no rotation, as in the text cross-attention).

Layouts (ltx_backend.models.transformer.rope.RopeType values):
    "interleaved": channel pairs (2i, 2i+1) of the whole inner dim rotate; tables [B, T, H*D]
    "split":       the two halves of each head rotate against each other; tables [B, H, T, D/2]

On the Triton path (ltx_kernels.triton_qk_norm_rope) one program normalises and rotates one token of
q and, when they share tables and token count, the same token of k, reading cos/sin once.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import dispatch

Tables = tuple[torch.Tensor, torch.Tensor]
LAYOUTS = ("interleaved", "split")


def apply_rope_reference(x: torch.Tensor, tables: Tables, layout: str) -> torch.Tensor:
    """Rotate x [B, T, H*D] by (cos, sin) tables in `layout`: the model's (and ltx-core's) ops."""
    cos, sin = tables
    if layout == "interleaved":
        pairs = x.unflatten(-1, (-1, 2))  # [B, T, dim/2, 2]
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * cos + rotated * sin
    if layout != "split":
        raise ValueError(f"RoPE layout {layout!r} is not one of {LAYOUTS}")
    batch, tokens, _ = x.shape
    heads = cos.shape[1]
    halves = x.reshape(batch, tokens, heads, 2, -1).transpose(1, 2)  # [B, H, T, 2, D/2]
    first, second = halves[..., 0, :], halves[..., 1, :]
    # (x1 cos - x2 sin, x2 cos + x1 sin), the products with sin fused (addcmul) as in the reference
    out = torch.stack((torch.addcmul(first * cos, -sin, second), torch.addcmul(second * cos, sin, first)), dim=-2)
    return out.transpose(1, 2).reshape(batch, tokens, -1)


def qk_norm_rope_reference(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor | None,
    k_weight: torch.Tensor | None,
    eps: float | None,
    pe: Tables | None = None,
    k_pe: Tables | None = None,
    layout: str = "split",
) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.RMSNorm(H*D) on q and k, then RoPE: exactly the model's unfused ops."""
    q = F.rms_norm(q, (q.shape[-1],), q_weight, eps)
    k = F.rms_norm(k, (k.shape[-1],), k_weight, eps)
    if pe is not None:
        q = apply_rope_reference(q, pe, layout)
        k = apply_rope_reference(k, pe if k_pe is None else k_pe, layout)
    return q, k


def qk_norm_rope(
    q: torch.Tensor,
    k: torch.Tensor,
    q_weight: torch.Tensor | None,
    k_weight: torch.Tensor | None,
    eps: float | None,
    pe: Tables | None = None,
    k_pe: Tables | None = None,
    layout: str = "split",
) -> tuple[torch.Tensor, torch.Tensor]:
    """RMS-norm q and k with their weights and rotate them (see the module docstring)."""
    layout = str(getattr(layout, "value", layout))
    if layout not in LAYOUTS:
        raise ValueError(f"RoPE layout {layout!r} is not one of {LAYOUTS}")
    tables = () if pe is None else (*pe, *(k_pe or ()))
    if dispatch.use_triton("qk_norm_rope", q, k, q_weight, k_weight, *tables):
        from .triton_qk_norm_rope import triton_qk_norm_rope

        return triton_qk_norm_rope(q, k, q_weight, k_weight, eps, pe, k_pe, layout)
    return qk_norm_rope_reference(q, k, q_weight, k_weight, eps, pe, k_pe, layout)
