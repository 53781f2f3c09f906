"""Each token's [start, end) bounds, the positions the transformer's RoPE reads.

Video: [B, 3, N, 2] over (time in seconds, height in pixels, width in pixels).
Audio: [B, 1, T, 2] time in seconds.
"""
from __future__ import annotations

import torch

from ltx_backend.latents.shapes import (
    AUDIO_HOP_LENGTH,
    AUDIO_LATENT_DOWNSAMPLE,
    AUDIO_SAMPLE_RATE,
    VIDEO_SCALE_FACTORS,
    VideoLatentShape,
    VideoScaleFactors,
)


def video_latent_bounds(
    shape: VideoLatentShape, patch_size: int = 1, device: torch.device | None = None
) -> torch.Tensor:
    """[B, 3, N, 2] int64 bounds of each patch in latent-grid units (frame, row, column)."""
    steps = (1, patch_size, patch_size)
    starts = torch.stack(
        torch.meshgrid(
            torch.arange(0, shape.frames, steps[0], device=device),
            torch.arange(0, shape.height, steps[1], device=device),
            torch.arange(0, shape.width, steps[2], device=device),
            indexing="ij",
        )
    )  # [3, f, h, w]
    ends = starts + torch.tensor(steps, device=device).view(3, 1, 1, 1)
    bounds = torch.stack((starts, ends), dim=-1).reshape(3, -1, 2)
    return bounds.unsqueeze(0).expand(shape.batch, -1, -1, -1).clone()


def latent_to_pixel_bounds(
    latent_bounds: torch.Tensor, scale_factors: VideoScaleFactors = VIDEO_SCALE_FACTORS, causal_fix: bool = False
) -> torch.Tensor:
    """Scale latent bounds to pixel / pixel-frame units.

    causal_fix: the causal VAE's first latent frame holds one pixel frame, so time bounds are shifted
    by (1 - time_factor) and clamped at 0: latent frame 0 -> [0, 1), frame 1 -> [1, 9), ...
    """
    pixel = latent_bounds * torch.tensor(scale_factors, device=latent_bounds.device).view(1, -1, 1, 1)
    if causal_fix:
        pixel[:, 0] = (pixel[:, 0] + 1 - scale_factors[0]).clamp(min=0)
    return pixel


def video_positions(
    shape: VideoLatentShape,
    fps: float,
    patch_size: int = 1,
    scale_factors: VideoScaleFactors = VIDEO_SCALE_FACTORS,
    causal_fix: bool = True,
    frame_offset: int = 0,
    device: torch.device | None = None,
) -> torch.Tensor:
    """[B, 3, N, 2] float32: pixel bounds with time in seconds; `frame_offset` pixel frames are added first."""
    positions = latent_to_pixel_bounds(video_latent_bounds(shape, patch_size, device), scale_factors, causal_fix)
    positions[:, 0] += frame_offset
    positions = positions.float()
    positions[:, 0] /= fps
    return positions


def audio_latent_times(start: int, end: int, device: torch.device | None = None) -> torch.Tensor:
    """Seconds at which latent frames start..end-1 begin, causally: a frame is placed at its first
    fully available spectrogram frame."""
    mel_frame = torch.arange(start, end, dtype=torch.float32, device=device) * AUDIO_LATENT_DOWNSAMPLE
    mel_frame = (mel_frame + 1 - AUDIO_LATENT_DOWNSAMPLE).clip(min=0)
    return mel_frame * AUDIO_HOP_LENGTH / AUDIO_SAMPLE_RATE


def audio_positions(batch: int, frames: int, shift: int = 0, device: torch.device | None = None) -> torch.Tensor:
    """[B, 1, T, 2] float32 [start, end) seconds of each audio latent frame (frame i spans i..i+1)."""
    device = torch.device("cpu") if device is None else device
    starts = audio_latent_times(shift, frames + shift, device)
    ends = audio_latent_times(shift + 1, frames + shift + 1, device)
    return torch.stack((starts, ends), dim=-1).expand(batch, 1, -1, -1).clone()
