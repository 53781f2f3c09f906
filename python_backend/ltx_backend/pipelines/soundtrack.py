"""The soundtrack of an audio-to-video request: read from the request, encoded to the audio latents the video
is denoised against, kept for the output (ltx-pipelines' A2VidPipelineTwoStage returns the input audio, not
a decoding of its latents)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.shapes import AudioLatentShape
from ltx_backend.media import as_stereo, read_audio
from ltx_backend.pipelines.components import Components

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest


@dataclass(frozen=True)
class Soundtrack:
    waveform: np.ndarray  # [C, S] float32 in [-1, 1], as read (C = 1 or 2)
    sample_rate: int
    latent: torch.Tensor  # [1, 8, T, 16] normalised; T: the video's audio latent frames


def read_soundtrack(components: Components, request: GenerationRequest) -> Soundtrack:
    """Decode the request's audio (resolve() has checked it), encode it, keep the video's length of latents."""
    field = "audio_path" if request.audio_path is not None else "audio"
    data = request.audio_path if request.audio_path is not None else request.audio
    waveform, rate = read_audio(data, request.audio_start_time, request.audio_max_duration)
    latent = components.encode_audio(torch.from_numpy(as_stereo(waveform))[None], rate)  # the encoder takes 2 channels
    frames = AudioLatentShape.from_duration(1, request.num_frames / request.fps).frames
    if latent.shape[2] < frames:
        raise InvalidRequest(field, request.audio_path if field == "audio_path" else f"<{len(data)} bytes>",
                             f"a soundtrack as long as the video: it encodes to {latent.shape[2]} audio latent frames, "
                             f"{request.num_frames} frames at {request.fps:g} fps need {frames}")
    return Soundtrack(waveform=waveform, sample_rate=rate, latent=latent[:, :, :frames])
