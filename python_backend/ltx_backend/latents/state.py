"""The patchified state of one stream during denoising, and the per-token mask arithmetic."""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LatentState:
    """Tokens of one stream (video or audio) during denoising.

    latent:         [B, T, C]      current noisy tokens (generated tokens first, then any keyframe tokens)
    denoise_mask:   [B, T, 1]      float32; 1 = generate, 0 = keep clean_latent, in between = partial
    positions:      [B, 3|1, T, 2] token bounds (see latents/positions.py)
    clean_latent:   [B, T, C]      conditioning values where the mask is < 1 (zeros elsewhere)
    attention_mask: [B, T, T]      optional self-attention weights in [0, 1] added by conditioning items
    """

    latent: torch.Tensor
    denoise_mask: torch.Tensor
    positions: torch.Tensor
    clean_latent: torch.Tensor
    attention_mask: torch.Tensor | None = None

    def clone(self) -> LatentState:
        return LatentState(
            latent=self.latent.clone(),
            denoise_mask=self.denoise_mask.clone(),
            positions=self.positions.clone(),
            clean_latent=self.clean_latent.clone(),
            attention_mask=None if self.attention_mask is None else self.attention_mask.clone(),
        )


def timesteps_from_mask(denoise_mask: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Per-token sigma: clean (mask 0) tokens are at noise level 0."""
    return denoise_mask * sigma


def post_process_latent(denoised: torch.Tensor, denoise_mask: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    """Blend the model's x0 with the clean conditioning values by the denoise mask."""
    return (denoised * denoise_mask + clean.float() * (1 - denoise_mask)).to(denoised.dtype)
