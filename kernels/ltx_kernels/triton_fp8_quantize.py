"""fp8-scaled-mm's activation quantisation in Triton (imported lazily: it imports triton).

    s_x = max(amax(|x|) / 448, 1e-12),   q(x) = fp8(clamp(x / s_x, -448, 448))

Two passes over x instead of torch's chain of fp32 temporaries (abs, amax, float, divide, clamp, cast: about six
reads and five writes of x's size in fp32): one program per block of BLOCK elements takes its block's amax into
one fp32 scalar with an atomic max (exact: a max does not depend on the order); a second pass divides by the
scale and writes the fp8 values. Bit-identical to the PyTorch reference (ltx_kernels.fp8_linear), on finite x:

- the division is IEEE (tl.div_rn), as torch's fp32 division;
- the rounding to e4m3fn is done in fp32 before the cast: each value is scaled by a power of two so its last
  kept mantissa bit is the units place, rounded to the nearest integer, ties to even (adding and subtracting
  1.5 * 2^23), and scaled back; values below e4m3fn's smallest normal (2^-6) share its spacing, 2^-9. The cast
  then only converts a value the format holds exactly: the hardware's conversion and the CPU interpreter's (whose
  own rounding of other values is not round-to-nearest-even) give the same bits.

x with inf or NaN: the scale is inf (a NaN counts as an inf in the amax: the atomic max cannot carry a NaN), the
finite values quantise to 0 and the others to NaN (0x7F), so the product is NaN as the reference's is (the
reference's own scale is NaN then, and its NaNs' signs follow the device's division: not the same bits).
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from .fp8_linear import FP8_MAX, MIN_SCALE

BLOCK = 4096
_RINT = 12582912.0  # 1.5 * 2^23: t + _RINT - _RINT rounds |t| < 2^22 to an integer, ties to even


@triton.jit
def _abs_max_kernel(X, AMAX, N, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(X + offs, mask=offs < N, other=0.0).to(tl.float32)
    tl.atomic_max(AMAX, tl.max(tl.where(x == x, tl.abs(x), float("inf")), axis=0))  # NaN: inf


@triton.jit
def _quantize_kernel(X, AMAX, OUT, SCALE, N, fp8_max, min_scale, rint, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    scale = tl.maximum(tl.div_rn(tl.load(AMAX), fp8_max), min_scale)
    if pid == 0:
        tl.store(SCALE, scale)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    valid = offs < N
    x = tl.load(X + offs, mask=valid, other=0.0).to(tl.float32)
    v = tl.clamp(tl.div_rn(x, scale), -fp8_max, fp8_max, propagate_nan=tl.PropagateNan.ALL)
    bits = v.to(tl.int32, bitcast=True)
    # |v|'s binary exponent e (its fp32 exponent bits), at least -6: the spacing of e4m3fn's values there is 2^(e-3)
    e = tl.maximum(((bits >> 23) & 0xFF) - 127, -6)
    up = ((130 - e) << 23).to(tl.float32, bitcast=True)  # 2^(3 - e)
    down = ((124 + e) << 23).to(tl.float32, bitcast=True)  # 2^(e - 3)
    magnitude = ((tl.abs(v) * up + rint) - rint) * down
    rounded = (magnitude.to(tl.int32, bitcast=True) | (bits & -2147483648)).to(tl.float32, bitcast=True)  # v's sign
    fp8_bits = rounded.to(tl.float8e4nv).to(tl.uint8, bitcast=True)
    tl.store(OUT + offs, tl.where(v == v, fp8_bits, 0x7F), mask=valid)  # NaN: e4m3fn's NaN (the interpreter's cast is not)


def triton_quantize_fp8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q(x), s_x) as ltx_kernels.fp8_linear.quantize_fp8_reference: x in float8_e4m3fn, its scale float32 [].
    Under torch.compile: the opaque op ltx_kernels::quantize_fp8 (see the end of this file)."""
    if torch.compiler.is_compiling():
        return quantize_fp8_op(x)
    return _quantize_fp8(x)


def _quantize_fp8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = x.contiguous()
    n = x.numel()
    amax = torch.zeros((), device=x.device, dtype=torch.float32)
    scale = torch.empty((), device=x.device, dtype=torch.float32)
    out = torch.empty(x.shape, device=x.device, dtype=torch.float8_e4m3fn)
    grid = (max(1, triton.cdiv(n, BLOCK)),)
    _abs_max_kernel[grid](x, amax, n, BLOCK=BLOCK, num_warps=8)
    _quantize_kernel[grid](x, amax, out.view(torch.uint8), scale, n, FP8_MAX, MIN_SCALE, _RINT, BLOCK=BLOCK, num_warps=8)
    return out, scale


# torch.compile sees the two launches as one opaque op (ltx_kernels.triton_attention says why).
@torch.library.custom_op("ltx_kernels::quantize_fp8", mutates_args=())
def quantize_fp8_op(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return _quantize_fp8(x)


@quantize_fp8_op.register_fake
def _(x):
    return x.new_empty(x.shape, dtype=torch.float8_e4m3fn), x.new_empty((), dtype=torch.float32)
