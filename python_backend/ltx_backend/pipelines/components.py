"""The Components protocol: every model call a pipeline makes, and nothing else.

Pipelines (one_stage.py, ...) orchestrate only through this protocol. `LocalComponents` (local.py)
implements it with in-process torch modules for `ltx-triton generate`; the Triton `pipeline` BLS model
implements it with calls to the other Triton models. The data crossing it is plain tensors and
dataclasses of tensors, so that each call can travel as a Triton request.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.pipelines.progress import OnStep
from ltx_backend.sampling.denoise import GuidanceContexts, TextContext
from ltx_backend.sampling.guidance import GuidanceParams


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
class GenerationResult:
    frames: np.ndarray  # uint8 [F, H, W, 3]
    audio: np.ndarray  # float32 [channels, samples]
    sample_rate: int


class Components(Protocol):
    model_version: str  # "2" or "2.3", from the checkpoint metadata
    device: torch.device  # where latents and the seeded generator live
    dtype: torch.dtype  # latent dtype

    def encode_text(self, prompts: Sequence[str]) -> list[TextContext]:
        """One TextContext (video [1, S, Dv], audio [1, S, Da]) per prompt."""

    def denoise(self, job: DenoiseJob, on_step: OnStep | None = None) -> tuple[LatentState, LatentState]:
        """Run the whole sampling loop of one stage with the weights of job.stage; report each step through
        on_step. Returns the final (video, audio) states, conditioning tokens still appended."""

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """Conditioning images through the video VAE encoder, each on its own.

        pixels: [N, 3, 1, H, W] in [-1, 1] (dtype: self.dtype), H and W multiples of 32
        returns: normalised latents [N, 128, 1, H/32, W/32]
        """

    def upsample_video(self, latent: torch.Tensor) -> torch.Tensor:
        """The spatial x2 latent upsampler between the stages (un-normalise, upsample, re-normalise with
        the video VAE's per-channel statistics).

        latent: [1, 128, F', H', W'] normalised -> [1, 128, F', 2H', 2W'] normalised
        """

    def prepare_stage(self, stage: int) -> None:
        """A hint: the next denoise() will be for `stage`. Implementations that switch weights may start
        the switch now, overlapped with other work; denoise() switches anyway if it was not called."""

    def decode_video(self, latent: torch.Tensor, generator: torch.Generator) -> np.ndarray:
        """[1, 128, F', H', W'] latents -> uint8 frames [F, H, W, 3]. `generator` drives decode-time noise."""

    def decode_audio(self, latent: torch.Tensor) -> tuple[np.ndarray, int]:
        """[1, 8, T, 16] audio latents -> (float32 waveform [C, S], sample rate)."""
