"""The fp8 matmul of `--quantization fp8-scaled-mm`: the dispatch point and its PyTorch reference.

    fp8_linear(x, w8, s_w, bias) = (q(x) * s_x) @ (w8 * s_w)^T + bias
    q(x) = fp8(clamp(x / s_x)),  s_x = amax(|x|) / 448          (per tensor, computed per call)

x: [..., in] (bf16 / fp16 / fp32); w8: [out, in] float8_e4m3fn with its per-tensor scale s_w ([] float32);
bias: [out] or None. On CUDA with fp8 matmuls (compute capability 8.9+) the product runs in fp8 through
torch._scaled_mm (cuBLASLt), accumulating in fp32, the output in x's dtype; x is quantised by quantize_fp8,
two fused Triton passes (ltx_kernels.triton_fp8_quantize) bit-identical to the reference's quantisation. The
reference computes the same dequantised product in fp32: the expected value of the fp8 kernel, and the check
for it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import dispatch

FP8 = torch.float8_e4m3fn
FP8_MAX = torch.finfo(FP8).max
MIN_SCALE = 1e-12  # an all-zero input keeps a finite scale


def quantize_fp8_reference(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q(x), s_x): x in float8_e4m3fn with its per-tensor scale (float32 []). Both divisions are IEEE ones on any
    device: the divisor of the scale is a tensor on x's device (a Python number would make CUDA multiply by its
    rounded reciprocal instead, one unit in the last place off for about half the values)."""
    scale = (x.abs().amax().float() / torch.full((), FP8_MAX, device=x.device)).clamp_min(MIN_SCALE)
    return (x.float() / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8), scale


def quantize_fp8(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(q(x), s_x): the two-pass Triton kernel (ltx_kernels.triton_fp8_quantize) where Triton runs, bit-identical to
    the reference for finite x (and NaN wherever x is not finite)."""
    if dispatch.use_triton("quantize_fp8", x):
        from .triton_fp8_quantize import triton_quantize_fp8

        return triton_quantize_fp8(x)
    return quantize_fp8_reference(x)


def fp8_linear_reference(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    x8, x_scale = quantize_fp8_reference(x)
    out = F.linear(x8.float() * x_scale, weight.float() * weight_scale.float(), None if bias is None else bias.float())
    return out.to(x.dtype)


def scaled_mm_supported(device: torch.device) -> bool:
    """Whether `device` runs fp8 matmuls: a CUDA GPU of compute capability 8.9+ (Ada, Hopper, Blackwell)."""
    return device.type == "cuda" and torch.cuda.is_available() and torch.cuda.get_device_capability(device) >= (8, 9)


def fp8_linear(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    if dispatch.get_attention_backend() != "sdpa" and scaled_mm_supported(x.device):  # sdpa: plain PyTorch everywhere
        dispatch.calls[("fp8_linear", "scaled_mm")] += 1
        return scaled_mm_linear(x, weight, weight_scale, bias)
    dispatch.calls[("fp8_linear", "reference")] += 1
    return fp8_linear_reference(x, weight, weight_scale, bias)


def scaled_mm_linear(x: torch.Tensor, weight: torch.Tensor, weight_scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The product in fp8 through torch._scaled_mm: x flattened to rows and quantised, the weight passed
    transposed (column-major, as cuBLASLt wants its second operand), both per-tensor scales float32, the bias
    and the output in x's dtype. fp8_linear runs it on GPUs with fp8 matmuls; torch's CPU implementation of the
    same op lets the tests check this call (layout, scales, bias, shapes) without one."""
    shape = x.shape
    x8, x_scale = quantize_fp8(x.reshape(-1, shape[-1]))
    out = torch._scaled_mm(x8, weight.t(), scale_a=x_scale, scale_b=weight_scale.float(),
                           bias=None if bias is None else bias.to(x.dtype), out_dtype=x.dtype)
    return out.reshape(*shape[:-1], weight.shape[0])
