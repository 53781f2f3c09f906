"""LocalComponents: the Components protocol with in-process torch modules (`ltx-triton generate`)."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.loading.checkpoint import CheckpointInfo, default_dtype, read_checkpoint_info
from ltx_backend.loading.components import load_component
from ltx_backend.loading.model_path import ModelFiles, find_model_files
from ltx_backend.models.audio_vae import decode_audio
from ltx_backend.models.text_encoder import load_text_encoder
from ltx_backend.models.video_vae import decode_video
from ltx_backend.pipelines.components import DenoiseJob
from ltx_backend.pipelines.one_stage import LTX2Pipeline
from ltx_backend.pipelines.progress import OnStep, StepProgress
from ltx_backend.sampling.denoise import GuidedStep, TextContext, euler_loop

log = logging.getLogger(__name__)


class LocalComponents:
    """All modules resident on one device, loaded once from an official single-file checkpoint."""

    def __init__(self, files: ModelFiles, info: CheckpointInfo, device: torch.device, dtype: torch.dtype):
        self.model_version = info.model_version
        self.device, self.dtype = device, dtype
        self.text_encoder = load_text_encoder(files.root, info.path, device, dtype)
        self.transformer = load_component(info, "transformer", device, dtype)
        self.video_decoder = load_component(info, "video_decoder", device, dtype)
        self.audio_decoder = load_component(info, "audio_decoder", device, dtype)
        self.vocoder = load_component(info, "vocoder", device, dtype)

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


def probe_model(model_path: str) -> tuple[ModelFiles, CheckpointInfo]:
    """Resolve the model files and read the checkpoint metadata; loads no weights."""
    files = find_model_files(model_path)
    if files.layout != "single-file":
        raise NotImplementedError(f"{files.root}: the diffusers layout is not supported yet; use the official single-file layout")
    return files, read_checkpoint_info(files.checkpoint)


def load_pipeline(model_path: str, device: torch.device | None = None, dtype: torch.dtype | None = None) -> LTX2Pipeline:
    files, info = probe_model(model_path)
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    log.info("loading LTX-%s from %s on %s (%s)", info.model_version, info.path, device, dtype)
    return LTX2Pipeline(LocalComponents(files, info, device, dtype))
