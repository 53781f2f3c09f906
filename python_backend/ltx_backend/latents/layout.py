"""How one stream's latent grid becomes a token state and back (ltx-core's Video/AudioLatentTools)."""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ltx_backend.latents.patchify import patchify_audio, patchify_video, unpatchify_audio, unpatchify_video
from ltx_backend.latents.positions import audio_positions, video_positions
from ltx_backend.latents.shapes import (
    VIDEO_LATENT_CHANNELS,
    VIDEO_SCALE_FACTORS,
    AudioLatentShape,
    VideoLatentShape,
    VideoPixelShape,
    VideoScaleFactors,
)
from ltx_backend.latents.state import LatentState


class LatentLayout:
    """One stream's latent grid and its tokens. Subclasses give the shape, the grid <-> token maps and
    the positions; the state logic below is shared."""

    shape: VideoLatentShape | AudioLatentShape

    def patchify(self, grid: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def unpatchify_tokens(self, tokens: torch.Tensor, shape: VideoLatentShape | AudioLatentShape) -> torch.Tensor:
        raise NotImplementedError

    def positions(self, device: torch.device | None) -> torch.Tensor:
        raise NotImplementedError

    @property
    def token_count(self) -> int:
        raise NotImplementedError

    def initial_state(
        self, device: torch.device, dtype: torch.dtype, initial_latent: torch.Tensor | None = None
    ) -> LatentState:
        """Un-noised state: `initial_latent` (or zeros) everywhere, every token to be generated (mask 1)."""
        if initial_latent is None:
            initial_latent = torch.zeros(*self.shape.to_torch_shape(), device=device, dtype=dtype)
        elif initial_latent.shape != self.shape.to_torch_shape():
            raise ValueError(f"initial latent has shape {tuple(initial_latent.shape)}, expected {tuple(self.shape)}")
        mask = torch.ones(*self.shape.mask_shape().to_torch_shape(), device=device, dtype=torch.float32)
        return LatentState(
            latent=self.patchify(initial_latent),
            denoise_mask=self.patchify(mask),
            positions=self.positions(device),
            clean_latent=self.patchify(initial_latent.clone()),
        )

    def clear_conditioning(self, state: LatentState) -> LatentState:
        """Drop appended conditioning tokens; the mask becomes all ones and the attention mask is dropped."""
        n = self.token_count
        return LatentState(
            latent=state.latent[:, :n].clone(),
            denoise_mask=torch.ones_like(state.denoise_mask)[:, :n],
            positions=state.positions[:, :, :n].clone(),
            clean_latent=state.clean_latent[:, :n].clone(),
        )

    def unpatchify(self, state: LatentState) -> LatentState:
        """Tokens back to grids (latent / clean_latent: the latent shape; mask: its one-channel shape)."""
        return replace(
            state.clone(),
            latent=self.unpatchify_tokens(state.latent, self.shape),
            clean_latent=self.unpatchify_tokens(state.clean_latent, self.shape),
            denoise_mask=self.unpatchify_tokens(state.denoise_mask, self.shape.mask_shape()),
        )

    def to_latent(self, state: LatentState) -> torch.Tensor:
        """The generated latent grid of a final state: [B, C, F, H, W] video / [B, 8, T, 16] audio."""
        return self.unpatchify(self.clear_conditioning(state)).latent


@dataclass(frozen=True)
class VideoLatentLayout(LatentLayout):
    shape: VideoLatentShape
    fps: float
    patch_size: int = 1
    scale_factors: VideoScaleFactors = VIDEO_SCALE_FACTORS
    causal_fix: bool = True

    @staticmethod
    def for_pixels(pixel_shape: VideoPixelShape, channels: int = VIDEO_LATENT_CHANNELS) -> VideoLatentLayout:
        return VideoLatentLayout(VideoLatentShape.from_pixel_shape(pixel_shape, channels), pixel_shape.fps)

    @property
    def token_count(self) -> int:
        return self.shape.frames * self.shape.height * self.shape.width // (self.patch_size * self.patch_size)

    def patchify(self, grid: torch.Tensor) -> torch.Tensor:
        return patchify_video(grid, self.patch_size)

    def unpatchify_tokens(self, tokens: torch.Tensor, shape: VideoLatentShape) -> torch.Tensor:
        return unpatchify_video(tokens, shape, self.patch_size)

    def positions(self, device: torch.device | None) -> torch.Tensor:
        return video_positions(
            self.shape, self.fps, self.patch_size, self.scale_factors, self.causal_fix, device=device
        )

    def initial_state(
        self, device: torch.device, dtype: torch.dtype, initial_latent: torch.Tensor | None = None
    ) -> LatentState:
        state = super().initial_state(device, dtype, initial_latent)
        return replace(state, positions=state.positions.to(dtype))  # video positions carry the latent dtype


@dataclass(frozen=True)
class AudioLatentLayout(LatentLayout):
    shape: AudioLatentShape

    @staticmethod
    def for_video(pixel_shape: VideoPixelShape) -> AudioLatentLayout:
        return AudioLatentLayout(AudioLatentShape.from_video_pixel_shape(pixel_shape))

    @property
    def token_count(self) -> int:
        return self.shape.frames

    def patchify(self, grid: torch.Tensor) -> torch.Tensor:
        return patchify_audio(grid)

    def unpatchify_tokens(self, tokens: torch.Tensor, shape: AudioLatentShape) -> torch.Tensor:
        return unpatchify_audio(tokens, shape)

    def positions(self, device: torch.device | None) -> torch.Tensor:
        return audio_positions(self.shape.batch, self.shape.frames, device=device)
