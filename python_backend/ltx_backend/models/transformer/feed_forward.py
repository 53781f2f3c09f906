"""The blocks' feed-forward network and LTX-2's caption projection (two linears around a tanh-GELU)."""
from __future__ import annotations

import torch
from torch import nn


class GeluProjection(nn.Module):
    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.gelu(self.proj(x), approximate="tanh")


class FeedForward(nn.Module):
    """x [.., dim] -> Linear(dim, 4 dim) -> GELU(tanh) -> Linear(4 dim, dim)."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        # Indices 0 and 2 carry the weights (net.0.proj, net.2), as in the official checkpoints.
        self.net = nn.Sequential(GeluProjection(dim, dim * mult), nn.Identity(), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CaptionProjection(nn.Module):
    """LTX-2: text features [B, S, caption_channels] -> [B, S, inner_dim]."""

    def __init__(self, in_features: int, dim: int):
        super().__init__()
        self.linear_1 = nn.Linear(in_features, dim)
        self.linear_2 = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(nn.functional.gelu(self.linear_1(x), approximate="tanh"))
