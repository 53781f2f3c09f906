"""Multi-head attention of the transformer blocks: QKV projections, RMS QK-norm, RoPE, optional
per-head output gate (LTX-2.3), output projection. QK-norm + RoPE, the attention itself and the output gate go
through the ltx_kernels dispatch point (ltx_kernels.qk_norm_rope, ltx_kernels.attention, ltx_kernels.attention_gate).
"""
from __future__ import annotations

import torch
from torch import nn

from ltx_kernels import attention, attention_gate, qk_norm_rope

from .rope import RopeTables, RopeType


class Attention(nn.Module):
    def __init__(
        self,
        query_dim: int,
        context_dim: int,
        heads: int,
        head_dim: int,
        norm_eps: float,
        rope_type: RopeType,
        gated: bool,
    ):
        super().__init__()
        inner_dim = heads * head_dim
        self.heads = heads
        self.rope_type = rope_type
        self.q_norm = nn.RMSNorm(inner_dim, eps=norm_eps)
        self.k_norm = nn.RMSNorm(inner_dim, eps=norm_eps)
        self.to_q = nn.Linear(query_dim, inner_dim)
        self.to_k = nn.Linear(context_dim, inner_dim)
        self.to_v = nn.Linear(context_dim, inner_dim)
        self.to_gate_logits = nn.Linear(query_dim, heads) if gated else None
        self.to_out = nn.Sequential(nn.Linear(inner_dim, query_dim))

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        pe: RopeTables | None = None,
        k_pe: RopeTables | None = None,
        keep: torch.Tensor | None = None,
        values_only: bool = False,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """x [B, T, query_dim] attends to context [B, S, context_dim] (itself when None).

        mask:        additive bias for the attention scores (see ltx_kernels.attention)
        pe / k_pe:   RoPE tables for the queries / keys (k_pe None: keys use pe)
        keep:        [B, 1, 1] perturbation weights: where 0 the attention result is replaced by the
                     value projection (STG), where 1 it is kept
        values_only: every element skips the attention: the value projection passes through
        kv:          (to_k(context), to_v(context)) computed already (the text K/V of a denoising loop)
        """
        context = x if context is None else context
        k, v = kv if kv is not None else (None, self.to_v(context))
        if values_only:
            out = v
        else:
            # = q_norm / k_norm, then apply_rope with pe (k_pe for the keys when given)
            k = self.to_k(context) if k is None else k
            q, k = qk_norm_rope(
                self.to_q(x), k, self.q_norm.weight, self.k_norm.weight, self.q_norm.eps, pe, k_pe, self.rope_type
            )
            out = attention(q, k, v, self.heads, mask)
            if keep is not None:
                out = out * keep + v * (1 - keep)
        if self.to_gate_logits is not None:
            out = attention_gate(out, self.to_gate_logits(x))  # head h times 2 sigmoid(logit h): zero logits -> 1
        return self.to_out(out)
