"""Fused AdaLN modulation (with or without the norm) and gated residual in Triton (imported lazily: it imports
triton).

Both kernels take one program per token row (b, t) of [B, T, D] tensors and read every operand
through its own (b, t, d) strides, so [B, 1, D] modulation vectors broadcast over the tokens with
stride 0 and strided views of the modulation tables are read in place. fp32 math, one rounding.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl


@triton.jit
def _adaln_modulate_kernel(
    X, SHIFT, SCALE, OUT, eps, T,
    sxb, sxt, sxd, ssb, sst, ssd, scb, sct, scd, sob, sot,
    D: tl.constexpr, BLOCK: tl.constexpr, NORMALIZE: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets for long videos
    b = row // T
    t = row % T
    offs = tl.arange(0, BLOCK)
    valid = offs < D
    x = tl.load(X + b * sxb + t * sxt + offs * sxd, mask=valid, other=0.0).to(tl.float32)
    if NORMALIZE:  # adaln_modulate (modulate: without the norm)
        x = x * tl.math.rsqrt(tl.sum(x * x, 0) / D + eps)
    shift = tl.load(SHIFT + b * ssb + t * sst + offs * ssd, mask=valid, other=0.0).to(tl.float32)
    scale = tl.load(SCALE + b * scb + t * sct + offs * scd, mask=valid, other=0.0).to(tl.float32)
    y = x * (1.0 + scale) + shift
    tl.store(OUT + b * sob + t * sot + offs, y.to(OUT.dtype.element_ty), mask=valid)


@triton.jit
def _gated_residual_kernel(
    X, Y, GATE, OUT, T,
    sxb, sxt, sxd, syb, syt, syd, sgb, sgt, sgd, sob, sot,
    D: tl.constexpr, BLOCK: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets for long videos
    b = row // T
    t = row % T
    for start in range(0, D, BLOCK):
        offs = start + tl.arange(0, BLOCK)
        valid = offs < D
        x = tl.load(X + b * sxb + t * sxt + offs * sxd, mask=valid, other=0.0).to(tl.float32)
        y = tl.load(Y + b * syb + t * syt + offs * syd, mask=valid, other=0.0).to(tl.float32)
        g = tl.load(GATE + b * sgb + t * sgt + offs * sgd, mask=valid, other=0.0).to(tl.float32)
        tl.store(OUT + b * sob + t * sot + offs, (x + y * g).to(OUT.dtype.element_ty), mask=valid)


def _broadcast3(shape: torch.Size, *tensors: torch.Tensor) -> list[torch.Tensor]:
    views = []
    for t in tensors:
        if t.dim() > 3:
            raise ValueError(f"AdaLN operands must be at most 3-D, got {tuple(t.shape)}")
        views.append(t.expand(shape))
    return views


def _warps(block: int) -> int:
    return 1 if block <= 256 else 4 if block <= 2048 else 8


def triton_adaln_modulate(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None
) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::adaln_modulate (see the end of this file)."""
    if torch.compiler.is_compiling():
        return adaln_modulate_op(x, shift, scale, eps)
    return _adaln_modulate(x, shift, scale, eps)


def _modulate_result(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Size, torch.dtype]:
    shape = torch.broadcast_shapes(x.shape, shift.shape, scale.shape)
    return shape, torch.promote_types(torch.promote_types(x.dtype, scale.dtype), shift.dtype)


def _gated_result(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> tuple[torch.Size, torch.dtype]:
    shape = torch.broadcast_shapes(x.shape, y.shape, gate.shape)
    return shape, torch.promote_types(torch.promote_types(x.dtype, y.dtype), gate.dtype)


def triton_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::modulate (see the end of this file)."""
    if torch.compiler.is_compiling():
        return modulate_op(x, shift, scale)
    return _adaln_modulate(x, shift, scale, None, normalize=False)


def _adaln_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None,
                    normalize: bool = True) -> torch.Tensor:
    shape, out_dtype = _modulate_result(x, shift, scale)
    if len(shape) != 3 or shape != x.shape:
        op = "adaln_modulate" if normalize else "modulate"
        raise ValueError(f"{op}: x {tuple(x.shape)} must be [B, T, D], shift/scale broadcast to it")
    if eps is None:
        eps = torch.finfo(x.dtype).eps
    out = torch.empty(shape, dtype=out_dtype, device=x.device)
    batch, tokens, dim = shape
    if out.numel() == 0:
        return out
    x, shift, scale = _broadcast3(shape, x, shift, scale)
    block = triton.next_power_of_2(dim)
    _adaln_modulate_kernel[(batch * tokens,)](
        x, shift, scale, out, eps, tokens, *x.stride(), *shift.stride(), *scale.stride(), out.stride(0), out.stride(1),
        D=dim, BLOCK=block, NORMALIZE=normalize, num_warps=_warps(block),
    )
    return out


def triton_gated_residual(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """Under torch.compile: the opaque op ltx_kernels::gated_residual (see the end of this file)."""
    if torch.compiler.is_compiling():
        return gated_residual_op(x, y, gate)
    return _gated_residual(x, y, gate)


def _gated_residual(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    shape, out_dtype = _gated_result(x, y, gate)
    if len(shape) != 3:
        raise ValueError(f"gated_residual: operands {tuple(x.shape)}, {tuple(y.shape)}, {tuple(gate.shape)} are not [B, T, D]")
    out = torch.empty(shape, dtype=out_dtype, device=x.device)
    batch, tokens, dim = shape
    if out.numel() == 0:
        return out
    x, y, gate = _broadcast3(shape, x, y, gate)
    block = min(triton.next_power_of_2(dim), 4096)
    _gated_residual_kernel[(batch * tokens,)](
        x, y, gate, out, tokens, *x.stride(), *y.stride(), *gate.stride(), out.stride(0), out.stride(1),
        D=dim, BLOCK=block, num_warps=_warps(block),
    )
    return out


# torch.compile sees each kernel as one opaque op (ltx_kernels.triton_attention says why).
@torch.library.custom_op("ltx_kernels::adaln_modulate", mutates_args=())
def adaln_modulate_op(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None) -> torch.Tensor:
    return _adaln_modulate(x, shift, scale, eps)


@adaln_modulate_op.register_fake
def _(x, shift, scale, eps):
    shape, dtype = _modulate_result(x, shift, scale)
    return x.new_empty(shape, dtype=dtype)


@torch.library.custom_op("ltx_kernels::modulate", mutates_args=())
def modulate_op(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return _adaln_modulate(x, shift, scale, None, normalize=False)


@modulate_op.register_fake
def _(x, shift, scale):
    shape, dtype = _modulate_result(x, shift, scale)
    return x.new_empty(shape, dtype=dtype)


@torch.library.custom_op("ltx_kernels::gated_residual", mutates_args=())
def gated_residual_op(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    return _gated_residual(x, y, gate)


@gated_residual_op.register_fake
def _(x, y, gate):
    shape, dtype = _gated_result(x, y, gate)
    return x.new_empty(shape, dtype=dtype)
