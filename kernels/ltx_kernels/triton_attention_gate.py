"""LTX-2.3's per-head attention output gate in Triton (imported lazily: it imports triton).

One program per token row (b, t): the row's H logits become fp32 gates 2 sigmoid(l), and its H*Dh outputs,
read as [H, Dh] through their strides, are scaled and written with one rounding (the reference rounds the
gates to the activation dtype first). One launch where the reference makes three.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .triton_adaln import _warps


@triton.jit
def _attention_gate_kernel(
    X, LOGITS, OUT, T,
    sxb, sxt, sxd, slb, slt, slh, sob, sot,
    H: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_H: tl.constexpr, BLOCK_D: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets for long videos
    b = row // T
    t = row % T
    heads = tl.arange(0, BLOCK_H)
    dims = tl.arange(0, BLOCK_D)
    head_valid = heads < H
    logits = tl.load(LOGITS + b * slb + t * slt + heads * slh, mask=head_valid, other=0.0).to(tl.float32)
    gates = 2.0 * tl.sigmoid(logits)
    cols = heads[:, None] * HEAD_DIM + dims[None, :]  # [BLOCK_H, BLOCK_D] columns of the row
    valid = head_valid[:, None] & (dims < HEAD_DIM)[None, :]
    x = tl.load(X + b * sxb + t * sxt + cols * sxd, mask=valid, other=0.0).to(tl.float32)
    tl.store(OUT + b * sob + t * sot + cols, (x * gates[:, None]).to(OUT.dtype.element_ty), mask=valid)


def _result(out: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Size, torch.dtype]:
    return out.shape, torch.promote_types(out.dtype, logits.dtype)


def _attention_gate(out: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    shape, dtype = _result(out, logits)
    if out.dim() != 3 or logits.shape != (*out.shape[:2], logits.shape[-1]) or out.shape[-1] % logits.shape[-1]:
        raise ValueError(f"attention_gate: out {tuple(out.shape)} must be [B, T, H*Dh] and logits {tuple(logits.shape)} [B, T, H]")
    result = torch.empty(shape, dtype=dtype, device=out.device)
    batch, tokens, width = shape
    if result.numel() == 0:
        return result
    heads = logits.shape[-1]
    head_dim = width // heads
    block_h, block_d = triton.next_power_of_2(heads), triton.next_power_of_2(head_dim)
    _attention_gate_kernel[(batch * tokens,)](
        out, logits, result, tokens, *out.stride(), *logits.stride(), result.stride(0), result.stride(1),
        H=heads, HEAD_DIM=head_dim, BLOCK_H=block_h, BLOCK_D=block_d, num_warps=_warps(block_h * block_d),
    )
    return result


def triton_attention_gate(out: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::attention_gate (ltx_kernels.triton_attention says why)."""
    if torch.compiler.is_compiling():
        return attention_gate_op(out, logits)
    return _attention_gate(out, logits)


@torch.library.custom_op("ltx_kernels::attention_gate", mutates_args=())
def attention_gate_op(out: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    return _attention_gate(out, logits)


@attention_gate_op.register_fake
def _(out, logits):
    shape, dtype = _result(out, logits)
    return out.new_empty(shape, dtype=dtype)
