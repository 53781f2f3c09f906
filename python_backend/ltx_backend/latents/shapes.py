"""Pixel and latent shapes of a generation, and how the VAEs map one to the other (as ltx_core.types)."""
from __future__ import annotations

from typing import NamedTuple

import torch

VIDEO_LATENT_CHANNELS = 128

# Audio latent geometry: 16 kHz mel spectrogram, hop 160, 4x downsampled by the audio VAE -> 25 latents/s.
AUDIO_LATENT_CHANNELS = 8
AUDIO_MEL_BINS = 16
AUDIO_SAMPLE_RATE = 16000
AUDIO_HOP_LENGTH = 160
AUDIO_LATENT_DOWNSAMPLE = 4


class VideoScaleFactors(NamedTuple):
    """Video VAE downsampling per axis (pixel frames per latent frame, pixels per latent row / column)."""

    time: int = 8
    height: int = 32
    width: int = 32


VIDEO_SCALE_FACTORS = VideoScaleFactors()


class VideoPixelShape(NamedTuple):
    batch: int
    frames: int
    height: int
    width: int
    fps: float


class VideoLatentShape(NamedTuple):
    """[batch, channels, frames, height, width] of a video latent."""

    batch: int
    channels: int
    frames: int
    height: int
    width: int

    def to_torch_shape(self) -> torch.Size:
        return torch.Size(self)

    def mask_shape(self) -> VideoLatentShape:
        return self._replace(channels=1)

    @staticmethod
    def from_torch_shape(shape: torch.Size) -> VideoLatentShape:
        return VideoLatentShape(*shape)

    @staticmethod
    def from_pixel_shape(
        shape: VideoPixelShape,
        channels: int = VIDEO_LATENT_CHANNELS,
        scale_factors: VideoScaleFactors = VIDEO_SCALE_FACTORS,
    ) -> VideoLatentShape:
        """The causal VAE keeps the first frame and packs every `time` following frames into one latent frame."""
        return VideoLatentShape(
            batch=shape.batch,
            channels=channels,
            frames=(shape.frames - 1) // scale_factors.time + 1,
            height=shape.height // scale_factors.height,
            width=shape.width // scale_factors.width,
        )


class AudioLatentShape(NamedTuple):
    """[batch, channels, frames, mel_bins] of an audio latent."""

    batch: int
    channels: int
    frames: int
    mel_bins: int

    def to_torch_shape(self) -> torch.Size:
        return torch.Size(self)

    def mask_shape(self) -> AudioLatentShape:
        return self._replace(channels=1, mel_bins=1)

    @staticmethod
    def from_torch_shape(shape: torch.Size) -> AudioLatentShape:
        return AudioLatentShape(*shape)

    @staticmethod
    def from_duration(batch: int, duration: float) -> AudioLatentShape:
        latents_per_second = float(AUDIO_SAMPLE_RATE) / float(AUDIO_HOP_LENGTH) / float(AUDIO_LATENT_DOWNSAMPLE)
        return AudioLatentShape(batch, AUDIO_LATENT_CHANNELS, round(duration * latents_per_second), AUDIO_MEL_BINS)

    @staticmethod
    def from_video_pixel_shape(shape: VideoPixelShape) -> AudioLatentShape:
        """Audio as long as the video: frames / fps seconds."""
        return AudioLatentShape.from_duration(shape.batch, float(shape.frames) / float(shape.fps))
