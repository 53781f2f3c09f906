"""Timestep conditioning: sinusoidal embedding -> MLP -> AdaLN modulation vectors (PixArt-alpha adaLN-single)."""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

SINUSOID_CHANNELS = 256

# Modulation vectors per block and stream: (shift, scale, gate) for self-attention and for the
# feed-forward; LTX-2.3 adds (shift, scale, gate) of the text cross-attention query.
BASE_MODULATIONS = 6
CROSS_ATTENTION_MODULATIONS = 3


def modulation_count(cross_attention_adaln: bool) -> int:
    return BASE_MODULATIONS + (CROSS_ATTENTION_MODULATIONS if cross_attention_adaln else 0)


def sinusoidal_embedding(timesteps: torch.Tensor, channels: int = SINUSOID_CHANNELS) -> torch.Tensor:
    """[N] -> [N, channels] float32: (cos(t w_i), sin(t w_i)) with w_i = 10000 ** (-i / (channels / 2))."""
    half = channels // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32, device=timesteps.device) / half
    angles = timesteps[:, None].float() * torch.exp(exponent)[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


class TimestepMLP(nn.Module):
    def __init__(self, in_channels: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_channels, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(nn.functional.silu(self.linear_1(x)))


class TimestepEmbedding(nn.Module):
    """t [N] -> [N, dim]."""

    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepMLP(SINUSOID_CHANNELS, dim)

    def forward(self, timesteps: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return self.timestep_embedder(sinusoidal_embedding(timesteps).to(dtype))


class AdaLNSingle(nn.Module):
    """t [N] -> (modulation [N, count * dim], embedding [N, dim])."""

    def __init__(self, dim: int, count: int):
        super().__init__()
        self.emb = TimestepEmbedding(dim)
        self.linear = nn.Linear(dim, count * dim)

    def forward(self, timesteps: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.emb(timesteps, dtype)
        return self.linear(nn.functional.silu(embedding)), embedding


def modulation(table: torch.Tensor, emb: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    """Rows start..stop of (table + per-token modulation) as separate [B, T, D] tensors.

    table: [count, D] learned offsets; emb: [B, T or 1, count * D] from an AdaLNSingle.
    """
    count, dim = table.shape
    offsets = table[start:stop].to(device=emb.device, dtype=emb.dtype)
    return (offsets + emb.unflatten(-1, (count, dim))[:, :, start:stop]).unbind(dim=2)


def block_offsets(tables: Sequence[torch.Tensor], emb: torch.Tensor) -> torch.Tensor:
    """Every block's table + modulation at once: tables N x [count, D] (N blocks), emb [B, V, count * D] (V = 1, or one
    per noise level) -> [N, B, V, count, D] (row i of block n: what modulation(tables[n], emb, i, i + 1) gives, in one
    add instead of one per block and use)."""
    count, dim = tables[0].shape
    stacked = torch.stack(tuple(tables)).to(device=emb.device, dtype=emb.dtype)  # [N, count, D]
    return stacked[:, None, None] + emb.unflatten(-1, (count, dim))[None]


@dataclass(frozen=True)
class BlockVectors:
    """One stream's AdaLN vectors for one block (its tables + the stream's timestep embeddings), each [B, 1, rows, D]
    but `main` per noise level.

    main:   the block's scale_shift_table rows (self-attention, feed-forward, LTX-2.3's text query); [B, L, rows, D]
            with the timesteps per noise level (StreamArgs.timestep_index: each token reads its level's); None when
            the stream's timesteps are per token: those rows are made per use then ([B, T, D] each, 3 rows at a time)
    prompt: LTX-2.3's text-context (shift, scale), or None
    cross:  the audio<->video (scale, shift) pairs of the stream's table (A2V rows 0-2, V2A rows 2-4), or None
            without the other stream
    gate:   the audio<->video output gate of the stream's table, or None without the other stream
    """

    main: torch.Tensor | None
    prompt: torch.Tensor | None
    cross: torch.Tensor | None
    gate: torch.Tensor | None

    def prefix(self, n: int) -> BlockVectors:
        """The batch's first n elements (views)."""
        return BlockVectors(*(None if t is None else t[:n] for t in (self.main, self.prompt, self.cross, self.gate)))
