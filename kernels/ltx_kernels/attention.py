"""Multi-head attention: the one dispatch point every attention of the models goes through.

    attention(q, k, v, heads, mask=None) -> out
    q: [B, Tq, H*D]   k, v: [B, Tk, H*D]   out: [B, Tq, H*D]
    mask: None (full attention), or an additive float bias (0 = attend, very negative = masked)
          broadcastable to [B, H, Tq, Tk]; a [Tq, Tk] or [B, Tq, Tk] bias is broadcast over the
          missing leading dims as ltx-core's PytorchAttention does. A bool mask (True = attend)
          is accepted too. The models pass [B, 1, 1, S] text key-padding biases and [B, 1, T, T]
          self-attention biases.

Implementations (chosen by the backend, see ltx_kernels.dispatch):
    sdpa_attention        torch.nn.functional.scaled_dot_product_attention ("sdpa"; "auto" on CPU)
    triton_attention      the flash-style Triton kernel (ltx_kernels.triton_attention; "auto" on CUDA)
    flash_attn_attention  the flash-attn package ("flash_attn", unmasked bf16/fp16 CUDA calls)
    reference_attention   plain PyTorch math (softmax(q k^T / sqrt(D) + bias) v), for tests
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from . import dispatch
from .dispatch import BACKENDS, get_attention_backend, set_attention_backend

__all__ = [
    "BACKENDS",
    "attention",
    "flash_attn_attention",
    "get_attention_backend",
    "reference_attention",
    "sdpa_attention",
    "set_attention_backend",
]


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Scaled dot-product attention over `heads` heads of packed [B, T, H*D] tensors."""
    backend = dispatch.get_attention_backend()
    if backend == "flash_attn" and _flash_attn_applies(q, k, v, mask):
        dispatch.log_choice("attention", "flash_attn", q.device)
        return flash_attn_attention(q, k, v, heads)
    if backend != "sdpa" and dispatch.use_triton("attention", q, k, v, mask):
        from .triton_attention import triton_attention

        return triton_attention(q, k, v, heads, mask)
    if backend == "sdpa":
        dispatch.log_choice("attention", "sdpa", q.device)
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


def reference_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Plain PyTorch math in float32 (materialises the scores): the kernels' specification.

    Rows whose keys are all masked with -inf / False give 0 (as torch SDPA does).
    """
    batch, tq, width = q.shape
    head_dim = width // heads
    qh, kh, vh = (t.float().reshape(batch, -1, heads, head_dim).transpose(1, 2) for t in (q, k, v))
    scores = qh @ kh.transpose(-1, -2) / math.sqrt(head_dim)  # [B, H, Tq, Tk]
    if mask is not None:
        while mask.dim() < 4:
            mask = mask.unsqueeze(0) if mask.dim() == 2 else mask.unsqueeze(1)
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask.float()
    all_masked = torch.isneginf(scores).all(dim=-1, keepdim=True)
    weights = torch.softmax(scores.masked_fill(all_masked, 0.0), dim=-1).masked_fill(all_masked, 0.0)
    out = weights @ vh
    return out.transpose(1, 2).reshape(batch, tq, width).to(q.dtype)


def _flash_attn_applies(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> bool:
    """flash-attn takes no bias: masked calls, fp32 and CPU tensors go to the other kernels."""
    return mask is None and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)


def flash_attn_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    try:
        from flash_attn import flash_attn_func
    except ImportError as error:  # checked by set_attention_backend; an uninstall since is still clear
        raise RuntimeError("attention backend 'flash_attn' needs the flash-attn package, which is not installed") from error
    batch, tq, width = q.shape
    head_dim = width // heads
    out = flash_attn_func(*(t.reshape(batch, -1, heads, head_dim) for t in (q, k, v)))  # [B, T, H, D]
    return out.reshape(batch, tq, width)
