"""LTX-2.3's per-head attention output gate: the dispatch point and its PyTorch reference.

    attention_gate(out, logits) = out * 2 sigmoid(logits), per head          (zero logits: out unchanged)

out [B, T, H*Dh] (the attention's heads side by side), logits [B, T, H] (to_gate_logits of the query input).
The reference is the model's own three ops (sigmoid, x2, the broadcast product); the Triton path
(ltx_kernels.triton_attention_gate) is one launch: one program per token row, the gates in fp32, one rounding.
"""
from __future__ import annotations

import torch

from . import dispatch


def attention_gate_reference(out: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    heads = logits.shape[-1]
    gates = 2.0 * torch.sigmoid(logits)  # [B, T, H]
    return (out.unflatten(-1, (heads, -1)) * gates.unsqueeze(-1)).flatten(-2)


def attention_gate(out: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """out [B, T, H*Dh] with head h scaled by 2 sigmoid(logits[..., h])."""
    if dispatch.use_triton("attention_gate", out, logits):
        from .triton_attention_gate import triton_attention_gate

        return triton_attention_gate(out, logits)
    return attention_gate_reference(out, logits)
