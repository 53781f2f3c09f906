"""What a component model checks of its inputs before any work: every client may call a component directly, so
a malformed input is that request's INVALID_ARG naming it (and its shape), never an INTERNAL error from deep
inside a module. Sizes are bounded by the request bounds (request.py), so no input asks for more work than a
valid generate request could."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.shapes import VIDEO_LATENT_CHANNELS
from ltx_backend.models.text_encoder.gemma_files import PROMPT_TOKENS
from ltx_backend.request import AUDIO_LATENTS_PER_SECOND, MAX_SECONDS, MAX_VIDEO_TOKENS
from ltx_backend.serving.wire import DenoiseStep

MAX_AUDIO_LATENT_FRAMES = round(MAX_SECONDS * AUDIO_LATENTS_PER_SECOND) + 1  # the longest clip a request may ask


def check_video_latent(name: str, latent: torch.Tensor, upsampled: bool = False) -> None:
    """A video latent [1, 128, F, H, W] of at most MAX_VIDEO_TOKENS positions (a quarter of that when it is to
    be upsampled x2 in H and W)."""
    limit = MAX_VIDEO_TOKENS // 4 if upsampled else MAX_VIDEO_TOKENS
    if latent.dim() != 5 or latent.shape[:2] != (1, VIDEO_LATENT_CHANNELS) or min(latent.shape[2:]) < 1 or math.prod(latent.shape[2:]) > limit:
        raise InvalidRequest(name, list(latent.shape), f"a tensor of shape [1, {VIDEO_LATENT_CHANNELS}, F, H, W] with F*H*W from 1 to {limit}")


def check_audio_latent(name: str, latent: torch.Tensor, decoder: torch.nn.Module) -> None:
    """An audio latent [1, C, T, M] with the decoder's channels C and latent mel bins M (its statistics cover
    C x M packed features), T from 1 to the longest clip's."""
    channels = decoder.conv_in.conv.in_channels
    mel_bins = decoder.per_channel_statistics.get_buffer("mean-of-means").numel() // channels
    if latent.dim() != 4 or latent.shape[0] != 1 or latent.shape[1] != channels or latent.shape[3] != mel_bins or not (
        1 <= latent.shape[2] <= MAX_AUDIO_LATENT_FRAMES
    ):
        raise InvalidRequest(name, list(latent.shape), f"a tensor of shape [1, {channels}, T, {mel_bins}] with T from 1 to {MAX_AUDIO_LATENT_FRAMES}")


@dataclass(frozen=True)
class StepDims:
    """The widths a denoiser step's tensors must have for this transformer."""

    video_channels: int
    audio_channels: int
    video_context: int
    audio_context: int

    @classmethod
    def of(cls, config) -> StepDims:
        """From the transformer's AVTransformerConfig: LTX-2 takes text features of caption_channels (its caption
        projections widen them), LTX-2.3 contexts already at the cross-attention widths."""
        if config.caption_channels is not None:
            return cls(config.in_channels, config.audio_in_channels, config.caption_channels, config.caption_channels)
        return cls(config.in_channels, config.audio_in_channels, config.cross_attention_dim, config.audio_cross_attention_dim)


def check_step(step: DenoiseStep, dims: StepDims) -> None:
    """Every tensor of a denoiser step in its shape ([1, T, C] latents, [1, T, 1] masks, positions [1, 3 or 1, T, 2],
    [1, T, T] attention masks, contexts [1, S, D] with S at most PROMPT_TOKENS, the previous x0 as the latents):
    the pipeline sends one request's state (the guidance passes are batched here), at most MAX_VIDEO_TOKENS video
    tokens, and a finite sigma in [0, 1]."""
    batch = 1
    for prefix, state, channels, axes in (("VIDEO", step.video, dims.video_channels, 3), ("AUDIO", step.audio, dims.audio_channels, 1)):
        latent = state.latent
        limit = MAX_VIDEO_TOKENS if prefix == "VIDEO" else MAX_AUDIO_LATENT_FRAMES
        if latent.dim() != 3 or latent.shape[2] != channels or min(latent.shape[:2]) < 1 or latent.shape[1] > limit:
            raise InvalidRequest(f"{prefix}_LATENT", list(latent.shape), f"a tensor of shape [B, T, {channels}] with T from 1 to {limit}")
        b, t = latent.shape[:2]
        if b != batch:
            raise InvalidRequest(f"{prefix}_LATENT", list(latent.shape), f"batch size {batch} (one request's state)")
        expected = {"DENOISE_MASK": (b, t, 1), "POSITIONS": (b, axes, t, 2), "CLEAN_LATENT": (b, t, channels), "ATTENTION_MASK": (b, t, t)}
        for field, shape in expected.items():
            value = getattr(state, field.lower())
            if value is not None and tuple(value.shape) != shape:
                raise InvalidRequest(f"{prefix}_{field}", list(value.shape), f"shape {list(shape)} (as {prefix}_LATENT {list(latent.shape)})")
    for prefix, context in (("POSITIVE", step.contexts.positive), ("NEGATIVE", step.contexts.negative)):
        if context is None:
            continue
        for kind, value, width in (("VIDEO", context.video, dims.video_context), ("AUDIO", context.audio, dims.audio_context)):
            if value.dim() != 3 or value.shape[0] != batch or value.shape[2] != width or not 1 <= value.shape[1] <= PROMPT_TOKENS:
                raise InvalidRequest(f"{prefix}_{kind}_CONTEXT", list(value.shape), f"a tensor of shape [{batch}, S, {width}], S from 1 to {PROMPT_TOKENS}")
    if step.previous is not None:
        for name, value, latent in zip(("PREVIOUS_VIDEO_X0", "PREVIOUS_AUDIO_X0"), step.previous, (step.video.latent, step.audio.latent)):
            if value is None or value.shape != latent.shape:
                raise InvalidRequest(name, None if value is None else list(value.shape), f"the last step's x0, shape {list(latent.shape)} (has_previous is true)")
    sigma = step.sigma.float()
    if not bool(torch.isfinite(sigma).all()) or not 0.0 <= float(sigma) <= 1.0:
        raise InvalidRequest("SIGMA", sigma.tolist(), "one finite number in [0, 1]")
    if step.step_index < 0:
        raise InvalidRequest("STEP_META.step_index", step.step_index, "an integer >= 0")
