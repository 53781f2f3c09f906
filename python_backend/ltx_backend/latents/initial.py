"""The noised starting states of a generation (ltx-pipelines' create_noised_state / noise_*_state)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import torch

from ltx_backend.latents.conditioning import ConditioningItem, apply_conditionings
from ltx_backend.latents.layout import AudioLatentLayout, LatentLayout, VideoLatentLayout
from ltx_backend.latents.shapes import VIDEO_LATENT_CHANNELS, VideoPixelShape
from ltx_backend.latents.state import LatentState

Noiser = Callable[[LatentState, float], LatentState]  # e.g. sampling.noise.GaussianNoiser


def create_noised_state(
    layout: LatentLayout,
    conditionings: Sequence[ConditioningItem],
    noiser: Noiser,
    dtype: torch.dtype,
    device: torch.device,
    noise_scale: float = 1.0,
    initial_latent: torch.Tensor | None = None,
) -> LatentState:
    """Initial state -> conditioning items in order -> noise."""
    state = layout.initial_state(device, dtype, initial_latent)
    state = apply_conditionings(state, conditionings, layout)
    return noiser(state, noise_scale)


def noise_video_state(
    pixel_shape: VideoPixelShape,
    noiser: Noiser,
    conditionings: Sequence[ConditioningItem],
    dtype: torch.dtype,
    device: torch.device,
    noise_scale: float = 1.0,
    initial_latent: torch.Tensor | None = None,
    channels: int = VIDEO_LATENT_CHANNELS,
) -> tuple[LatentState, VideoLatentLayout]:
    layout = VideoLatentLayout.for_pixels(pixel_shape, channels)
    return create_noised_state(layout, conditionings, noiser, dtype, device, noise_scale, initial_latent), layout


def noise_audio_state(
    pixel_shape: VideoPixelShape,
    noiser: Noiser,
    dtype: torch.dtype,
    device: torch.device,
    noise_scale: float = 1.0,
    initial_latent: torch.Tensor | None = None,
    conditionings: Sequence[ConditioningItem] = (),
) -> tuple[LatentState, AudioLatentLayout]:
    """Audio as long as the video. Create it after the video state: both draw from the same generator."""
    layout = AudioLatentLayout.for_video(pixel_shape)
    return create_noised_state(layout, conditionings, noiser, dtype, device, noise_scale, initial_latent), layout


def frozen_audio_state(
    pixel_shape: VideoPixelShape, noiser: Noiser, latent: torch.Tensor, dtype: torch.dtype, device: torch.device
) -> tuple[LatentState, AudioLatentLayout]:
    """Given audio latents held as they are while the video is denoised (ltx-pipelines' denoise_video_only):
    noised at scale 0 (the generator still draws the noise, as the reference's does) and masked out of
    denoising (mask 0: the sampler keeps the clean latent, the transformer sees timestep 0)."""
    state, layout = noise_audio_state(pixel_shape, noiser, dtype, device, noise_scale=0.0, initial_latent=latent.to(device, dtype))
    return replace(state, denoise_mask=torch.zeros_like(state.denoise_mask)), layout
