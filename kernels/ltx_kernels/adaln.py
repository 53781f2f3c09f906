"""AdaLN modulation and gated residual: the dispatch points and their PyTorch references.

    adaln_modulate(x, shift, scale, eps) = rms_norm(x) * (1 + scale) + shift     (weightless RMS norm)
    modulate(x, shift, scale)            = x * (1 + scale) + shift               (LTX-2.3's text context)
    gated_residual(x, y, gate)           = x + y * gate

x, y: [B, T, D]; shift / scale / gate: anything broadcastable to [B, T, D], as the blocks pass them:
[B, 1, D] (one timestep per sample, broadcast over tokens) or [B, T, D] (per-token timesteps, e.g.
clean conditioning tokens), usually strided views of the modulation table. The Triton path
(ltx_kernels.triton_adaln) reads them through broadcast strides and writes one output; the result dtype
is the one PyTorch's type promotion gives the reference expression.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import dispatch


def adaln_modulate_reference(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None
) -> torch.Tensor:
    return F.rms_norm(x, (x.shape[-1],), eps=eps) * (1 + scale) + shift


def modulate_reference(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


def gated_residual_reference(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    return x + y * gate


def adaln_modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None) -> torch.Tensor:
    """rms_norm(x) * (1 + scale) + shift, normalising over the last dim of x."""
    if dispatch.use_triton("adaln_modulate", x, shift, scale):
        from .triton_adaln import triton_adaln_modulate

        return triton_adaln_modulate(x, shift, scale, eps)
    return adaln_modulate_reference(x, shift, scale, eps)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x * (1 + scale) + shift (the AdaLN modulation without the norm)."""
    if dispatch.use_triton("modulate", x, shift, scale):
        from .triton_adaln import triton_modulate

        return triton_modulate(x, shift, scale)
    return modulate_reference(x, shift, scale)


def gated_residual(x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """x + y * gate."""
    if dispatch.use_triton("gated_residual", x, y, gate):
        from .triton_adaln import triton_gated_residual

        return triton_gated_residual(x, y, gate)
    return gated_residual_reference(x, y, gate)
