"""LocalComponents: the Components protocol with in-process torch modules (`ltx-triton generate`)."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.loading.checkpoint import default_dtype
from ltx_backend.loading.sources import ModelSource, open_model
from ltx_backend.models.audio_vae import decode_audio
from ltx_backend.models.video_vae import decode_video
from ltx_backend.pipelines.components import DenoiseJob
from ltx_backend.pipelines.one_stage import LTX2Pipeline
from ltx_backend.pipelines.progress import OnStep, StepProgress
from ltx_backend.sampling.denoise import GuidedStep, TextContext, euler_loop

log = logging.getLogger(__name__)


class LocalComponents:
    """All modules resident on one device, loaded once."""

    def __init__(self, source: ModelSource, device: torch.device, dtype: torch.dtype):
        self.model_version = source.model_version
        self.device, self.dtype = device, dtype
        self.text_encoder = source.text_encoder(device, dtype)
        self.transformer = source.load("transformer", device, dtype)
        self.video_decoder = source.load("video_decoder", device, dtype)
        self.audio_decoder = source.load("audio_decoder", device, dtype)
        self.vocoder = source.load("vocoder", device, dtype)

    @torch.inference_mode()
    def encode_text(self, prompts: Sequence[str]) -> list[TextContext]:
        # The connectors replace padding with learned registers: every position is attended (no mask).
        return [TextContext(video=e.video, audio=e.audio) for e in self.text_encoder.encode(list(prompts)).unbind()]

    @torch.inference_mode()
    def denoise(self, job: DenoiseJob, on_step: OnStep | None = None) -> tuple[LatentState, LatentState]:
        def report(index: int, total: int) -> None:
            if on_step is not None:
                on_step(StepProgress(stage=job.stage, step=index + 1, total=total))

        step = GuidedStep(job.contexts, job.video_guidance, job.audio_guidance)
        return euler_loop(self.transformer, job.sigmas, job.video, job.audio, step, on_step=report)

    @torch.inference_mode()
    def decode_video(self, latent: torch.Tensor, generator: torch.Generator) -> np.ndarray:
        return decode_video(latent, self.video_decoder, generator=generator).cpu().numpy()

    @torch.inference_mode()
    def decode_audio(self, latent: torch.Tensor) -> tuple[np.ndarray, int]:
        waveform, sample_rate = decode_audio(latent, self.audio_decoder, self.vocoder)
        return waveform.float().cpu().numpy(), int(sample_rate)


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def load_pipeline(model: str | ModelSource, device: torch.device | None = None, dtype: torch.dtype | None = None) -> LTX2Pipeline:
    """`model`: a --model-path, or a model already opened with open_model."""
    source = open_model(model) if isinstance(model, str) else model
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    log.info("loading LTX-%s from %s on %s (%s)", source.model_version, source.description, device, dtype)
    return LTX2Pipeline(LocalComponents(source, device, dtype))
