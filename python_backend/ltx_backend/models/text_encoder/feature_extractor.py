"""Gemma hidden states (all layers) -> one text feature per token.

V1 (LTX-2):   per-prompt normalisation over all real tokens and channels of each layer, concatenate the
              layers, one bias-free projection; the same features feed the video and the audio connector.
V2 (LTX-2.3): per-token RMS normalisation of each layer, concatenate, then separate video / audio
              projections (with bias) straight to the transformer's widths.

Both expect left-padded prompts (the tokenizer pads on the left). Hidden states are stacked on a last
"layer" axis and flattened channel-major, so feature index = channel * num_layers + layer.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

EPS = 1e-6


def stack_layers(hidden_states: Sequence[torch.Tensor] | torch.Tensor) -> torch.Tensor:
    """L tensors [B, T, D] -> [B, T, D, L] (a tensor already stacked passes through)."""
    if isinstance(hidden_states, torch.Tensor):
        return hidden_states
    return torch.stack(tuple(hidden_states), dim=-1)


def left_padding_mask(lengths: torch.Tensor, seq_len: int) -> torch.Tensor:
    """[B] real-token counts -> [B, T] bool, True on the last ``length`` positions."""
    positions = torch.arange(seq_len, device=lengths.device)[None, :]
    return positions >= seq_len - lengths[:, None]


def normalize_per_prompt(encoded: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """[B, T, D, L] -> [B, T, D*L]: 8 * (x - mean) / (max - min) per prompt and layer over real tokens;
    padded positions are zero."""
    b, t, d, _ = encoded.shape
    real = left_padding_mask(lengths, t)[:, :, None, None]  # [B, T, 1, 1]
    mean = encoded.masked_fill(~real, 0.0).sum(dim=(1, 2), keepdim=True) / ((lengths * d).view(b, 1, 1, 1) + EPS)
    x_min = encoded.masked_fill(~real, float("inf")).amin(dim=(1, 2), keepdim=True)
    x_max = encoded.masked_fill(~real, float("-inf")).amax(dim=(1, 2), keepdim=True)
    normed = 8 * (encoded - mean) / (x_max - x_min + EPS)
    return normed.reshape(b, t, -1).masked_fill(~real[:, :, :, 0], 0.0)


def normalize_per_token(encoded: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """[B, T, D, L] -> [B, T, D*L]: RMS-normalise each token of each layer over D; padded positions zero."""
    b, t, d, layers = encoded.shape
    normed = encoded * torch.rsqrt(torch.mean(encoded**2, dim=2, keepdim=True) + EPS)
    normed = normed.reshape(b, t, d * layers)
    return torch.where(attention_mask.bool()[:, :, None], normed, torch.zeros_like(normed))


class FeatureExtractorV1(nn.Module):
    """LTX-2: per-prompt norm -> aggregate_embed (D*L -> D, no bias); video and audio share the features."""

    def __init__(self, hidden_size: int, num_hidden_states: int):
        super().__init__()
        self.aggregate_embed = nn.Linear(hidden_size * num_hidden_states, hidden_size, bias=False)

    def forward(
        self, hidden_states: Sequence[torch.Tensor] | torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = stack_layers(hidden_states)
        normed = normalize_per_prompt(encoded, attention_mask.sum(dim=-1))
        features = self.aggregate_embed(normed.to(encoded.dtype))  # [B, T, D]
        return features, features


class FeatureExtractorV2(nn.Module):
    """LTX-2.3: per-token RMS norm, rescaled by sqrt(out / D), -> video / audio aggregate embeds."""

    def __init__(self, hidden_size: int, num_hidden_states: int, video_dim: int, audio_dim: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.video_aggregate_embed = nn.Linear(hidden_size * num_hidden_states, video_dim, bias=True)
        self.audio_aggregate_embed = nn.Linear(hidden_size * num_hidden_states, audio_dim, bias=True)

    def _project(self, normed: torch.Tensor, embed: nn.Linear) -> torch.Tensor:
        return embed(normed * math.sqrt(embed.out_features / self.hidden_size))

    def forward(
        self, hidden_states: Sequence[torch.Tensor] | torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        encoded = stack_layers(hidden_states)
        normed = normalize_per_token(encoded, attention_mask).to(encoded.dtype)
        return self._project(normed, self.video_aggregate_embed), self._project(normed, self.audio_aggregate_embed)
