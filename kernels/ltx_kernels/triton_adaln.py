"""Fused AdaLN modulation (with or without the norm) and gated residual in Triton (imported lazily: it imports
triton).

Both kernels take one program per token row (b, t) of [B, T, D] tensors and read every operand
through its own (b, t, d) strides, so [B, 1, D] modulation vectors broadcast over the tokens with
stride 0 and strided views of the modulation tables are read in place. With an index [B, T] the
modulation vectors are [B, L, D], one per noise level, and token (b, t) reads row index[b, t] of them
(LEVELS). fp32 math, one rounding.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .adaln import per_token_shape


@triton.jit
def _adaln_modulate_kernel(
    X, SHIFT, SCALE, INDEX, OUT, eps, T,
    sxb, sxt, sxd, ssb, sst, ssd, scb, sct, scd, sib, sit, sob, sot,
    D: tl.constexpr, BLOCK: tl.constexpr, NORMALIZE: tl.constexpr, LEVELS: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets for long videos
    b = row // T
    t = row % T
    if LEVELS:  # the row of shift / scale this token reads: its noise level's
        v = tl.load(INDEX + b * sib + t * sit).to(tl.int64)
    else:
        v = t
    offs = tl.arange(0, BLOCK)
    valid = offs < D
    x = tl.load(X + b * sxb + t * sxt + offs * sxd, mask=valid, other=0.0).to(tl.float32)
    if NORMALIZE:  # adaln_modulate (modulate: without the norm)
        x = x * tl.math.rsqrt(tl.sum(x * x, 0) / D + eps)
    shift = tl.load(SHIFT + b * ssb + v * sst + offs * ssd, mask=valid, other=0.0).to(tl.float32)
    scale = tl.load(SCALE + b * scb + v * sct + offs * scd, mask=valid, other=0.0).to(tl.float32)
    y = x * (1.0 + scale) + shift
    tl.store(OUT + b * sob + t * sot + offs, y.to(OUT.dtype.element_ty), mask=valid)


@triton.jit
def _gated_residual_kernel(
    X, Y, GATE, INDEX, OUT, T,
    sxb, sxt, sxd, syb, syt, syd, sgb, sgt, sgd, sib, sit, sob, sot,
    D: tl.constexpr, BLOCK: tl.constexpr, LEVELS: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets for long videos
    b = row // T
    t = row % T
    if LEVELS:  # the row of gate this token reads: its noise level's
        v = tl.load(INDEX + b * sib + t * sit).to(tl.int64)
    else:
        v = t
    for start in range(0, D, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        valid = offs < D
        x = tl.load(X + b * sxb + t * sxt + offs * sxd, mask=valid, other=0.0).to(tl.float32)
        y = tl.load(Y + b * syb + t * syt + offs * syd, mask=valid, other=0.0).to(tl.float32)
        g = tl.load(GATE + b * sgb + v * sgt + offs * sgd, mask=valid, other=0.0).to(tl.float32)
        tl.store(OUT + b * sob + t * sot + offs, (x + y * g).to(OUT.dtype.element_ty), mask=valid)


def _broadcast3(shape: torch.Size, *tensors: torch.Tensor) -> list[torch.Tensor]:
    views = []
    for t in tensors:
        if t.dim() > 3:
            raise ValueError(f"AdaLN operands must be at most 3-D, got {tuple(t.shape)}")
        views.append(t.expand(shape))
    return views


def _vector_views(
    shape: torch.Size, index: torch.Tensor | None, *vectors: torch.Tensor
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """The modulation vectors broadcast to [B, T, D], or with an index to [B, L, D] beside the index [B, T]."""
    if index is None:
        return _broadcast3(shape, *vectors), None
    batch, tokens, dim = shape
    return [v.expand(batch, v.shape[1], dim) for v in vectors], index.expand(batch, tokens)


def _warps(block: int) -> int:
    return 1 if block <= 256 else 4 if block <= 2048 else 8


def triton_adaln_modulate(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None, index: torch.Tensor | None = None
) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::adaln_modulate (see the end of this file)."""
    if torch.compiler.is_compiling():
        return adaln_modulate_op(x, shift, scale, eps, index)
    return _adaln_modulate(x, shift, scale, eps, index=index)


def _modulate_result(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, index: torch.Tensor | None = None
) -> tuple[torch.Size, torch.dtype]:
    shape = torch.broadcast_shapes(x.shape, per_token_shape(shift, index), per_token_shape(scale, index))
    return shape, torch.promote_types(torch.promote_types(x.dtype, scale.dtype), shift.dtype)


def _gated_result(
    x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, index: torch.Tensor | None = None
) -> tuple[torch.Size, torch.dtype]:
    shape = torch.broadcast_shapes(x.shape, y.shape, per_token_shape(gate, index))
    return shape, torch.promote_types(torch.promote_types(x.dtype, y.dtype), gate.dtype)


def triton_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::modulate (see the end of this file)."""
    if torch.compiler.is_compiling():
        return modulate_op(x, shift, scale)
    return _adaln_modulate(x, shift, scale, None, normalize=False)


def _adaln_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None,
                    normalize: bool = True, index: torch.Tensor | None = None) -> torch.Tensor:
    shape, out_dtype = _modulate_result(x, shift, scale, index)
    if len(shape) != 3 or shape != x.shape:
        op = "adaln_modulate" if normalize else "modulate"
        raise ValueError(f"{op}: x {tuple(x.shape)} must be [B, T, D], shift/scale broadcast to it")
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    out = torch.empty(shape, dtype=out_dtype, device=x.device)
    batch, tokens, dim = shape
    if out.numel() == 0:
        return out
    (shift, scale), index = _vector_views(shape, index, shift, scale)
    block = triton.next_power_of_2(dim)
    _adaln_modulate_kernel[(batch * tokens,)](
        x, shift, scale, x if index is None else index, out, eps, tokens, *x.stride(), *shift.stride(), *scale.stride(),
        *(index.stride() if index is not None else (0, 0)), out.stride(0), out.stride(1),
        D=dim, BLOCK=block, NORMALIZE=normalize, LEVELS=index is not None, num_warps=_warps(block),
    )
    return out


def triton_gated_residual(
    x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, index: torch.Tensor | None = None
) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::gated_residual (see the end of this file)."""
    if torch.compiler.is_compiling():
        return gated_residual_op(x, y, gate, index)
    return _gated_residual(x, y, gate, index)


def _gated_residual(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
    shape, out_dtype = _gated_result(x, y, gate, index)
    if len(shape) != 3:
        raise ValueError(f"gated_residual: operands {tuple(x.shape)}, {tuple(y.shape)}, {tuple(gate.shape)} are not [B, T, D]")
    out = torch.empty(shape, dtype=out_dtype, device=x.device)
    batch, tokens, dim = shape
    if out.numel() == 0:
        return out
    x, y = _broadcast3(shape, x, y)
    (gate,), index = _vector_views(shape, index, gate)
    block = min(triton.next_power_of_2(dim), 4096)
    _gated_residual_kernel[(batch * tokens,)](
        x, y, gate, x if index is None else index, out, tokens, *x.stride(), *y.stride(), *gate.stride(),
        *(index.stride() if index is not None else (0, 0)), out.stride(0), out.stride(1),
        D=dim, BLOCK=block, LEVELS=index is not None, num_warps=_warps(block),
    )
    return out


# torch.compile sees each kernel as one opaque op (ltx_kernels.triton_attention says why).
@torch.library.custom_op("ltx_kernels::adaln_modulate", mutates_args=())
def adaln_modulate_op(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None, index: torch.Tensor | None
) -> torch.Tensor:
    return _adaln_modulate(x, shift, scale, eps, index=index)


@adaln_modulate_op.register_fake
def _(x, shift, scale, eps, index):
    shape, dtype = _modulate_result(x, shift, scale, index)
    return x.new_empty(shape, dtype=dtype)


@torch.library.custom_op("ltx_kernels::modulate", mutates_args=())
def modulate_op(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return _adaln_modulate(x, shift, scale, None, normalize=False)


@modulate_op.register_fake
def _(x, shift, scale):
    shape, dtype = _modulate_result(x, shift, scale)
    return x.new_empty(shape, dtype=dtype)


@torch.library.custom_op("ltx_kernels::gated_residual", mutates_args=())
def gated_residual_op(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    return _gated_residual(x, y, gate, index)


@gated_residual_op.register_fake
def _(x, y, gate, index):
    shape, dtype = _gated_result(x, y, gate, index)
    return x.new_empty(shape, dtype=dtype)
