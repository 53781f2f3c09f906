"""What the layers pass each other: text contexts, one stage's denoising job, step progress, the result.

Below every other module of the engine: it imports none of them at run time (the annotations name
LatentState and GuidanceParams for readers and type checkers only), so any layer may use these types.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch

if TYPE_CHECKING:
    from ltx_backend.latents.state import LatentState
    from ltx_backend.sampling.guidance import GuidanceParams


@dataclass(frozen=True)
class TextContext:
    """One prompt's text embeddings for both streams: [B, S, D] and [B, S, Da]; masks [B, S] (None: all real)."""

    video: torch.Tensor
    audio: torch.Tensor
    video_mask: torch.Tensor | None = None
    audio_mask: torch.Tensor | None = None


@dataclass(frozen=True)
class GuidanceContexts:
    positive: TextContext
    negative: TextContext | None = None  # needed when either stream's cfg_scale != 1


@dataclass(frozen=True)
class DenoiseJob:
    """One stage's denoising: noised starting states, the schedule, the text and the guidance."""

    video: LatentState  # patchified tokens [1, Tv, 128] with denoise mask, positions, clean latent
    audio: LatentState  # [1, Ta, 128]
    sigmas: torch.Tensor  # [steps + 1] float32, ending at 0
    contexts: GuidanceContexts
    video_guidance: GuidanceParams
    audio_guidance: GuidanceParams
    # Which weights: 1 = stage-1 weights (base + user LoRAs; the HQ pipeline adds the distilled LoRA at its
    # stage-1 strength), 2 = stage-2 weights (+ the distilled LoRA). One-stage pipelines use 1.
    stage: int = 1
    sampler: str = "euler"  # "euler" (first order) or "res2s" (second order with SDE noise, the HQ pipeline's)


@dataclass(frozen=True)
class StepProgress:
    stage: int  # 1 for one-stage and stage 1 of two-stage pipelines, 2 for the refinement stage
    step: int  # 1-based, after the step completed
    total: int  # steps in this stage


class OnStep(Protocol):
    def __call__(self, progress: StepProgress) -> None:
        """Called after each denoising step; raising (e.g. on cancellation) stops the loop."""


@dataclass(frozen=True)
class GenerationResult:
    frames: np.ndarray  # uint8 [F, H, W, 3]
    audio: np.ndarray  # float32 [channels, samples]
    sample_rate: int
    enhanced_prompt: str | None = None  # the prompt Gemma rewrote (request.enhance_prompt), None without
