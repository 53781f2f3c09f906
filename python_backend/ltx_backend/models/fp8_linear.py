"""A Linear whose weight (and bias) are stored in float8: half the bytes of bf16, upcast at each call.

This is ltx-core's fp8-cast (`quantization/fp8_cast.py`): every call casts the weight and bias to the input's
dtype and runs an ordinary matmul, so the output is that of a Linear holding the fp8 values. Where the file
carries a per-tensor `weight_scale` beside the weight (published scaled-fp8 files), the upcast weight is
multiplied by it: W = fp8(W) * weight_scale.
"""
from __future__ import annotations

import torch
from torch import nn

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
    if scaled:
        module.weight_scale = nn.Parameter(torch.empty((), dtype=torch.float32, device=linear.weight.device), requires_grad=False)
    else:
        module.register_parameter("weight_scale", None)
    return module
