"""Multi-head attention: the one dispatch point every attention of the models goes through.

    attention(q, k, v, heads, mask=None) -> out
    q: [B, Tq, H*D]   k, v: [B, Tk, H*D]   out: [B, Tq, H*D]
    mask: None (full attention), or an additive float bias (0 = attend, very negative = masked)
          broadcastable to [B, H, Tq, Tk]; a [Tq, Tk] or [B, Tq, Tk] bias is broadcast over the
          missing leading dims as ltx-core's PytorchAttention does. A bool mask (True = attend)
          is accepted too.

Backends: "sdpa" (torch.nn.functional.scaled_dot_product_attention); "auto" picks the best
available one (today: sdpa). Set with :func:`set_attention_backend`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BACKENDS = ("auto", "sdpa")
_backend = "auto"


def set_attention_backend(name: str) -> None:
    """Select the attention implementation for all later calls ("auto" or "sdpa")."""
    global _backend
    if name not in BACKENDS:
        raise ValueError(f"attention backend {name!r} is not supported (expected one of {BACKENDS})")
    _backend = name


def get_attention_backend() -> str:
    return _backend


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Scaled dot-product attention over `heads` heads of packed [B, T, H*D] tensors."""
    return sdpa_attention(q, k, v, heads, mask)


def sdpa_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    batch, _, width = q.shape
    head_dim = width // heads
    q, k, v = (t.view(batch, -1, heads, head_dim).transpose(1, 2) for t in (q, k, v))  # [B, H, T, D]
    if mask is not None:
        while mask.dim() < 4:  # [Tq, Tk] -> [1, Tq, Tk] -> [B, 1, Tq, Tk]
            mask = mask.unsqueeze(0) if mask.dim() == 2 else mask.unsqueeze(1)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return out.transpose(1, 2).reshape(batch, -1, heads * head_dim)
