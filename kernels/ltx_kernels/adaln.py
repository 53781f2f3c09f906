"""AdaLN modulation and gated residual: the dispatch points and their PyTorch references.

    adaln_modulate(x, shift, scale, eps) = rms_norm(x) * (1 + scale) + shift     (weightless RMS norm)
    modulate(x, shift, scale)            = x * (1 + scale) + shift               (LTX-2.3's text context)
    gated_residual(x, y, gate)           = x + y * gate

x, y: [B, T, D]; shift / scale / gate: anything broadcastable to [B, T, D], as the blocks pass them:
[B, 1, D] (one timestep per sample, broadcast over tokens) or [B, T, D] (per-token timesteps, e.g.
clean conditioning tokens), usually strided views of the modulation table. Or, with `index` [B, T]
(integer), [B, L, D]: one vector per noise level, token t of element b reading row index[b, t]
(conditioning tokens at level 0 beside the noisy ones: L = 2, not T). The Triton path
(ltx_kernels.triton_adaln) reads them through broadcast strides (and the index) and writes one output;
the result dtype is the one PyTorch's type promotion gives the reference expression.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import dispatch


def per_token_shape(vector: torch.Tensor, index: torch.Tensor | None) -> torch.Size:
    """The shape of a modulation vector as its tokens read it: its own, or with an index [B, T] (integers in [0, L))
    into its rows [B, L, D] (one per noise level): [B, T, D]. A clear error for an index of another shape or type."""
    if index is None:
        return vector.shape
    if vector.dim() != 3 or index.dim() != 2 or index.dtype.is_floating_point or index.dtype == torch.bool:
        raise ValueError(
            f"AdaLN vectors per noise level must be [B, L, D] with an integer index [B, T], got {tuple(vector.shape)} "
            f"and {tuple(index.shape)} {index.dtype}"
        )
    return torch.Size((torch.broadcast_shapes((vector.shape[0],), (index.shape[0],))[0], index.shape[1], vector.shape[2]))


def per_token(vector: torch.Tensor, index: torch.Tensor | None) -> torch.Tensor:
    """A modulation vector as its tokens read it: itself, or with index [B, T] into its rows [B, L, D]: [B, T, D]."""
    if index is None:
        return vector
    batch, tokens, dim = per_token_shape(vector, index)
    rows = index.long().expand(batch, tokens)[..., None].expand(-1, -1, dim)
    return torch.gather(vector.expand(batch, -1, -1), 1, rows)


def adaln_modulate_reference(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None, index: torch.Tensor | None = None
) -> torch.Tensor:
    return F.rms_norm(x, (x.shape[-1],), eps=eps) * (1 + per_token(scale, index)) + per_token(shift, index)


def modulate_reference(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


def gated_residual_reference(
    x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, index: torch.Tensor | None = None
) -> torch.Tensor:
    return x + y * per_token(gate, index)


def adaln_modulate(
    x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor, eps: float | None, index: torch.Tensor | None = None
) -> torch.Tensor:
    """rms_norm(x) * (1 + scale) + shift, normalising over the last dim of x (shift / scale per noise level with an
    index: see the module's docstring)."""
    if dispatch.use_triton("adaln_modulate", x, shift, scale):
        from .triton_adaln import triton_adaln_modulate

        return triton_adaln_modulate(x, shift, scale, eps, index)
    return adaln_modulate_reference(x, shift, scale, eps, index)


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x * (1 + scale) + shift (the AdaLN modulation without the norm)."""
    if dispatch.use_triton("modulate", x, shift, scale):
        from .triton_adaln import triton_modulate

        return triton_modulate(x, shift, scale)
    return modulate_reference(x, shift, scale)


def gated_residual(
    x: torch.Tensor, y: torch.Tensor, gate: torch.Tensor, index: torch.Tensor | None = None
) -> torch.Tensor:
    """x + y * gate (gate per noise level with an index: see the module's docstring)."""
    if dispatch.use_triton("gated_residual", x, y, gate):
        from .triton_adaln import triton_gated_residual

        return triton_gated_residual(x, y, gate, index)
    return gated_residual_reference(x, y, gate, index)
