"""The Components protocol: every model call a pipeline makes, and nothing else.

A component is one model the pipelines call: the text encoder, the denoiser, the VAE encoders (video, audio), the latent
upsampler, the video and audio decoders (each a Triton model when served). Pipelines (one_stage.py, ...)
orchestrate only through this protocol. `LocalComponents` (runtime/local_components.py) implements it with in-process torch modules for `ltx-triton generate`; the Triton `pipeline` BLS model
implements it with calls to the other Triton models. The data crossing it is plain tensors and
dataclasses of tensors, so that each call can travel as a Triton request.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.types import DenoiseJob, OnStep, TextContext


class Components(Protocol):
    model_version: str  # "2" or "2.3", from the checkpoint metadata
    device: torch.device  # where latents and the seeded generator live
    dtype: torch.dtype  # latent dtype
    reference_downscale_factor: int  # the user IC-LoRA's reference video scale (its metadata); 1 without one

    def encode_text(self, prompts: Sequence[str]) -> list[TextContext]:
        """One TextContext (video [1, S, Dv], audio [1, S, Da]) per prompt."""

    def enhance_prompt(self, prompt: str, image: torch.Tensor | None, seed: int) -> str:
        """Gemma 3 rewrites `prompt` (models/text_encoder/enhancer.py), seeing `image` (uint8 [h, w, 3]) for
        image-to-video; sampling seeded by `seed`."""

    def denoise(self, job: DenoiseJob, on_step: OnStep | None = None) -> tuple[LatentState, LatentState]:
        """Run the whole sampling loop of one stage with the weights of job.stage; report each step through
        on_step. Returns the final (video, audio) states, conditioning tokens still appended."""

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """Conditioning images through the video VAE encoder, each on its own.

        pixels: [N, 3, 1, H, W] in [-1, 1] (dtype: self.dtype), H and W multiples of 32
        returns: normalised latents [N, 128, 1, H/32, W/32]
        """

    def encode_video(self, pixels: torch.Tensor) -> torch.Tensor:
        """A clip through the video VAE encoder, in one piece.

        pixels: [1, 3, 8k+1, H, W] in [-1, 1] (dtype: self.dtype), H and W multiples of 32
        returns: normalised latents [1, 128, k+1, H/32, W/32]
        """

    def encode_audio(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """A soundtrack through the audio VAE encoder (audio-to-video): resampled to the encoder's rate, log-mel
        spectrogram, encoder.

        waveform: [1, 2, S] float32 in [-1, 1] at sample_rate
        returns: normalised latents [1, 8, T, 16], T = S (at 16 kHz) // 640 + 1
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
