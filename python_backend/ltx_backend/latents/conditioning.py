"""Conditioning items: edits of a freshly created (patchified, un-noised) video or audio state.

Applied in order before noising, as ltx-pipelines' state_with_conditionings; the noiser then keeps
conditioned tokens (mask 0) clean and partially noises partial ones.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import torch

from ltx_backend.latents.layout import LatentLayout, VideoLatentLayout
from ltx_backend.latents.positions import video_positions
from ltx_backend.latents.shapes import VideoLatentShape
from ltx_backend.latents.state import LatentState


class ConditioningError(ValueError):
    pass


class ConditioningItem(Protocol):
    def apply_to(self, state: LatentState, layout: LatentLayout) -> LatentState:
        """Return the conditioned state. Items that add tokens append them after the existing ones."""


def apply_conditionings(state: LatentState, items: Sequence[ConditioningItem], layout: LatentLayout) -> LatentState:
    for item in items:
        state = item.apply_to(state, layout)
    return state


class LatentIndexCondition:
    """Replace the latent frames from `latent_idx` on with `latent` [B, C, F', H, W] (an encoded image at
    frame 0); those tokens get denoise strength 1 - strength (strength 1: kept exactly)."""

    def __init__(self, latent: torch.Tensor, strength: float, latent_idx: int):
        self.latent = latent
        self.strength = strength
        self.latent_idx = latent_idx

    def apply_to(self, state: LatentState, layout: VideoLatentLayout) -> LatentState:
        b, c, _, h, w = self.latent.shape
        target = layout.shape
        if (b, c, h, w) != (target.batch, target.channels, target.height, target.width):
            raise ConditioningError(
                f"Can't apply image conditioning item to latent with shape {target}: conditioning latent has shape "
                f"{tuple(self.latent.shape)}. Make sure the image and latent have the same spatial shape."
            )
        tokens = layout.patchify(self.latent)
        start = self.latent_idx * target.height * target.width // layout.patch_size**2
        stop = start + tokens.shape[1]
        state = state.clone()
        state.latent[:, start:stop] = tokens
        state.clean_latent[:, start:stop] = tokens
        state.denoise_mask[:, start:stop] = 1.0 - self.strength
        return state


class KeyframeCondition:
    """Append `keyframes` [B, C, F', H, W] as extra tokens placed at pixel frame `frame_idx`, with denoise
    strength 1 - strength. They are dropped again by layout.clear_conditioning."""

    def __init__(self, keyframes: torch.Tensor, frame_idx: int, strength: float):
        self.keyframes = keyframes
        self.frame_idx = frame_idx
        self.strength = strength

    def apply_to(self, state: LatentState, layout: VideoLatentLayout) -> LatentState:
        tokens = layout.patchify(self.keyframes)
        positions = video_positions(
            VideoLatentShape.from_torch_shape(self.keyframes.shape),
            layout.fps,
            layout.patch_size,
            layout.scale_factors,
            causal_fix=layout.causal_fix and self.frame_idx == 0,
            frame_offset=self.frame_idx,
            device=self.keyframes.device,
        )
        mask = torch.full(
            (*tokens.shape[:2], 1), 1.0 - self.strength, device=self.keyframes.device, dtype=self.keyframes.dtype
        )
        return LatentState(
            latent=torch.cat([state.latent, tokens], dim=1),
            denoise_mask=torch.cat([state.denoise_mask, mask], dim=1),
            positions=torch.cat([state.positions, positions], dim=2),
            clean_latent=torch.cat([state.clean_latent, tokens], dim=1),
            attention_mask=_extend_attention_mask(state, layout.token_count, tokens.shape[1], self.keyframes.dtype),
        )


class ReferenceVideoCondition:
    """Append a control video's latent [B, C, F', H', W'] as reference tokens (ltx-core's
    VideoConditionByReferenceLatent, for IC-LoRAs): placed at the clip's own frames, their spatial positions scaled
    by `downscale_factor` (an IC-LoRA trained on references at 1/N of the output size), denoise strength
    1 - strength (1: kept clean). `attention` weighs the attention between them and the generated tokens
    (ltx-core's ConditioningItemAttentionStrengthWrapper): a scalar, or one weight per reference token [B, M]
    (an attention mask video); None: full. Dropped again by layout.clear_conditioning."""

    def __init__(self, latent: torch.Tensor, downscale_factor: int, strength: float, attention: float | torch.Tensor | None = None):
        self.latent = latent
        self.downscale_factor = downscale_factor
        self.strength = strength
        self.attention = attention

    def apply_to(self, state: LatentState, layout: VideoLatentLayout) -> LatentState:
        tokens = layout.patchify(self.latent)
        positions = video_positions(
            VideoLatentShape.from_torch_shape(self.latent.shape), layout.fps, layout.patch_size, layout.scale_factors,
            causal_fix=layout.causal_fix, device=self.latent.device,
        )
        positions[:, 1:] *= self.downscale_factor  # height and width, in the output's pixels
        mask = torch.full((*tokens.shape[:2], 1), 1.0 - self.strength, device=self.latent.device, dtype=self.latent.dtype)
        return LatentState(
            latent=torch.cat([state.latent, tokens], dim=1),
            denoise_mask=torch.cat([state.denoise_mask, mask], dim=1),
            positions=torch.cat([state.positions, positions], dim=2),
            clean_latent=torch.cat([state.clean_latent, tokens], dim=1),
            attention_mask=_extend_attention_mask(state, layout.token_count, tokens.shape[1], self.latent.dtype, self.attention),
        )


class TemporalRegionMask:
    """Regenerate only the tokens that overlap [start, end) seconds, keep the others (ltx-pipelines' retake
    TemporalRegionMask): the mask is 1 where a token's time span (its positions' first axis, in seconds: video
    frames with the causal first frame, audio latent frames) overlaps the window, else 0. Video or audio alike."""

    def __init__(self, start: float, end: float):
        self.start, self.end = start, end

    def apply_to(self, state: LatentState, layout: LatentLayout) -> LatentState:
        times = layout.positions(state.denoise_mask.device)[:, 0]  # [B, N, 2] float32 seconds
        inside = (times[..., 1] > self.start) & (times[..., 0] < self.end)  # [B, N]
        state = state.clone()
        state.denoise_mask[:, : inside.shape[1]] = inside.unsqueeze(-1).to(state.denoise_mask.dtype)
        return state


def _extend_attention_mask(
    state: LatentState, num_noisy: int, num_new: int, dtype: torch.dtype, cross: float | torch.Tensor | None = None
) -> torch.Tensor | None:
    """The [B, N + M, N + M] self-attention weights once `num_new` tokens are appended to `state`'s N (ltx-core's
    build_attention_mask): the new tokens attend fully to themselves, with weight `cross` (1 when None; a scalar or
    [B, M], one per new token) to and from the generated tokens (the first num_noisy), not at all to earlier
    conditioning tokens; the existing block kept (all ones without a mask). None while no item asked for weights."""
    mask = state.attention_mask
    if mask is None and cross is None:
        return None
    b, n = state.latent.shape[:2]
    grown = torch.zeros(b, n + num_new, n + num_new, device=state.latent.device, dtype=dtype)
    grown[:, :n, :n] = 1.0 if mask is None else mask
    grown[:, n:, n:] = 1.0
    # [B, M] weights: token j's in column j of the generated tokens' rows and in row j of the new tokens' columns
    if isinstance(cross, torch.Tensor):
        weights = cross.to(device=grown.device, dtype=dtype)
    else:
        weights = torch.full((b, num_new), 1.0 if cross is None else cross, device=grown.device, dtype=dtype)
    if weights.shape != (b, num_new):
        raise ValueError(f"attention weights of shape {tuple(weights.shape)} for {num_new} new tokens (batch {b})")
    grown[:, :num_noisy, n:] = weights.unsqueeze(1)
    grown[:, n:, :num_noisy] = weights.unsqueeze(2)
    return grown
