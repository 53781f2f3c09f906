"""Linears whose weights are stored in float8: half the bytes of bf16.

Fp8CastLinear is ltx-core's fp8-cast (`quantization/fp8_cast.py`): every call casts the weight and bias to the
input's dtype and runs an ordinary matmul, so the output is that of a Linear holding the fp8 values. Where
the file carries a per-tensor `weight_scale` beside the weight (published scaled-fp8 files), the upcast
weight is multiplied by it: W = fp8(W) * weight_scale. Fp8ScaledLinear multiplies in fp8 (fp8-scaled-mm).
"""
from __future__ import annotations

import torch
from torch import nn

from ltx_kernels import fp8_linear

FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


class Fp8CastLinear(nn.Linear):
    weight_scale: torch.Tensor | None  # [] float32, or None (unscaled: the fp8 values are the weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight.to(x.dtype)
        if self.weight_scale is not None:
            weight = weight * self.weight_scale.to(x.dtype)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        return nn.functional.linear(x, weight, bias)


def fp8_cast_linear(linear: nn.Linear, scaled: bool) -> Fp8CastLinear:
    """An Fp8CastLinear of the same shape on the same device (meta, before loading), with a `weight_scale`
    parameter where the weights come scaled."""
    module = Fp8CastLinear(linear.in_features, linear.out_features, bias=linear.bias is not None, device=linear.weight.device)
    module.register_parameter("weight_scale", _scale(linear) if scaled else None)
    return module


def _scale(linear: nn.Linear) -> nn.Parameter:
    """A per-tensor weight scale ([] float32) on the Linear's device, its value assigned at load."""
    return nn.Parameter(torch.empty((), dtype=torch.float32, device=linear.weight.device), requires_grad=False)


class Fp8ScaledLinear(nn.Linear):
    """`--quantization fp8-scaled-mm`: W = W_fp8 * weight_scale, multiplied in fp8 with the input quantised per
    call (ltx_kernels.fp8_linear: torch._scaled_mm on GPUs with fp8 matmuls). The bias stays in the model dtype."""

    weight_scale: torch.Tensor  # [] float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return fp8_linear(x, self.weight, self.weight_scale, self.bias)


def fp8_scaled_linear(linear: nn.Linear) -> Fp8ScaledLinear:
    module = Fp8ScaledLinear(linear.in_features, linear.out_features, bias=linear.bias is not None, device=linear.weight.device)
    module.weight_scale = _scale(linear)
    return module
