"""Embeddings connector: a small 1-D transformer between the text features and the diffusion transformer.

Padded positions are first replaced by learnable registers: each prompt's real tokens move to the front
(in order) and position t >= length takes register t mod R. After that every position is attended to,
so no mask is needed inside. Blocks are pre-norm (weightless RMS norm) self-attention + GELU MLP with
1-D RoPE over positions 0..T-1; a final weightless RMS norm closes the stack.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ltx_backend.models.transformer.feed_forward import FeedForward
from ltx_kernels import attention

from .rope_1d import ROPE_TYPES, apply_rope, rope_cos_sin

NORM_EPS = 1e-6
NUM_REGISTERS = 128  # ltx-core's configurators always build 128


def rms_norm(x: torch.Tensor) -> torch.Tensor:
    return F.rms_norm(x, (x.shape[-1],), eps=NORM_EPS)


class SelfAttention(nn.Module):
    """Multi-head self-attention with RMS-normed q/k, RoPE and optional per-head gates 2*sigmoid(g(x))."""

    def __init__(self, dim: int, heads: int, head_dim: int, rope_type: str, gated: bool):
        super().__init__()
        inner = heads * head_dim
        self.heads = heads
        self.rope_type = rope_type
        self.q_norm = nn.RMSNorm(inner, eps=NORM_EPS)
        self.k_norm = nn.RMSNorm(inner, eps=NORM_EPS)
        self.to_q = nn.Linear(dim, inner)
        self.to_k = nn.Linear(dim, inner)
        self.to_v = nn.Linear(dim, inner)
        self.to_gate_logits = nn.Linear(dim, heads) if gated else None
        self.to_out = nn.ModuleList([nn.Linear(inner, dim)])

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        b, t, _ = x.shape
        q = apply_rope(self.q_norm(self.to_q(x)), *rope, self.rope_type)
        k = apply_rope(self.k_norm(self.to_k(x)), *rope, self.rope_type)
        out = attention(q, k, self.to_v(x), self.heads).view(b, t, self.heads, -1)  # [B, T, H, Dh]
        if self.to_gate_logits is not None:
            out = out * (2.0 * torch.sigmoid(self.to_gate_logits(x)))[..., None]
        return self.to_out[0](out.reshape(b, t, -1))


class ConnectorBlock(nn.Module):
    def __init__(self, dim: int, heads: int, head_dim: int, rope_type: str, gated: bool):
        super().__init__()
        self.attn1 = SelfAttention(dim, heads, head_dim, rope_type, gated)
        self.ff = FeedForward(dim)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x = x + self.attn1(rms_norm(x), rope)
        return x + self.ff(rms_norm(x))


def replace_padding_with_registers(
    hidden: torch.Tensor, attention_mask: torch.Tensor, registers: torch.Tensor
) -> torch.Tensor:
    """hidden [B, T, D], mask [B, T] (1 real) -> real tokens first, registers (tiled over T) after them.

    As ltx-core writes it: compacted real tokens where the *flipped* mask is 1, registers elsewhere
    (for left padding the flipped mask is exactly "the first ``length`` positions").
    """
    b, t, _ = hidden.shape
    if t % registers.shape[0]:
        raise ValueError(f"sequence length {t} must be a multiple of the {registers.shape[0]} registers")
    real = attention_mask.bool()
    order = torch.argsort((~real).to(torch.int8), dim=1, stable=True)  # real positions first, in order
    compacted = hidden.gather(1, order[..., None].expand_as(hidden))
    lengths = real.sum(dim=1, keepdim=True)
    compacted = compacted.masked_fill((torch.arange(t, device=hidden.device) >= lengths)[..., None], 0.0)
    keep = real.flip(1)[..., None].to(hidden.dtype)  # [B, T, 1]
    tiled = registers.to(hidden.dtype).repeat(t // registers.shape[0], 1)  # [T, D]
    return keep * compacted + (1 - keep) * tiled


class Embeddings1DConnector(nn.Module):
    """[B, T, D] text features + [B, T] mask -> [B, T, D] context (every position valid afterwards)."""

    def __init__(
        self,
        heads: int,
        head_dim: int,
        num_layers: int,
        *,
        rope_type: str = "interleaved",
        double_precision_rope: bool = False,
        rope_theta: float = 10000.0,
        rope_max_pos: float = 1.0,
        gated_attention: bool = False,
        num_registers: int = NUM_REGISTERS,
    ):
        super().__init__()
        if rope_type not in ROPE_TYPES:
            raise ValueError(f"rope_type={rope_type!r}, expected one of {ROPE_TYPES}")
        self.heads = heads
        self.inner_dim = heads * head_dim
        self.rope_type = rope_type
        self.double_precision_rope = double_precision_rope
        self.rope_theta = rope_theta
        self.rope_max_pos = rope_max_pos
        self.transformer_1d_blocks = nn.ModuleList(
            [ConnectorBlock(self.inner_dim, heads, head_dim, rope_type, gated_attention) for _ in range(num_layers)]
        )
        self.learnable_registers = nn.Parameter(torch.empty(num_registers, self.inner_dim))

    def forward(self, features: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        x = replace_padding_with_registers(features, attention_mask, self.learnable_registers)
        rope = rope_cos_sin(
            x.shape[1],
            self.inner_dim,
            self.heads,
            theta=self.rope_theta,
            max_pos=self.rope_max_pos,
            rope_type=self.rope_type,
            double_precision=self.double_precision_rope,
            dtype=x.dtype,
            device=x.device,
        )
        for block in self.transformer_1d_blocks:
            x = block(x, rope)
        return rms_norm(x)
