"""Latent upsampler (spatial x2 between the two stages of the two-stage pipelines)."""
from __future__ import annotations

import torch

from .config import build_latent_upsampler, published_upsampler_config
from .model import LatentUpsampler


def upsample_latents(latents: torch.Tensor, upsampler: LatentUpsampler, video_encoder: torch.nn.Module) -> torch.Tensor:
    """Normalised latents -> upsampled normalised latents: the upsampler works on raw VAE latents, so they
    are un-normalised and re-normalised with the video encoder's per-channel statistics (ltx-core's upsample_video)."""
    statistics = video_encoder.per_channel_statistics
    return statistics.normalize(upsampler(statistics.un_normalize(latents)))


__all__ = ["LatentUpsampler", "build_latent_upsampler", "published_upsampler_config", "upsample_latents"]
