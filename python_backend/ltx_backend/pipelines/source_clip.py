"""The clip a retake request edits, as latents: its frames through the video VAE encoder, its soundtrack (if it
has one) through the audio VAE encoder, as ltx-pipelines' retake reads and encodes them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ltx_backend.conditioning.images import video_pixels
from ltx_backend.latents.shapes import AudioLatentShape, VideoPixelShape
from ltx_backend.media import AudioInputError, as_stereo, read_audio
from ltx_backend.pipelines.components import Components

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest


@dataclass(frozen=True)
class SourceClip:
    shape: VideoPixelShape  # the clip's frames, size and fps (resolve() made them the request's)
    video: torch.Tensor  # [1, 128, F', H/32, W/32] normalised
    audio: torch.Tensor | None  # [1, 8, T, 16] normalised, T: the clip's audio latent frames; None: no soundtrack


def encode_source_clip(components: Components, request: GenerationRequest) -> SourceClip:
    c = components
    data = request.video_path if request.video_path is not None else request.video
    shape = VideoPixelShape(1, request.num_frames, request.height, request.width, request.fps)
    pixels = video_pixels(data, shape.frames, shape.height, shape.width, c.dtype, c.device)  # resolve() checked that they decode
    video = c.encode_video(pixels)
    return SourceClip(shape, video, _encode_soundtrack(c, data, shape))


def _encode_soundtrack(c: Components, data, shape: VideoPixelShape) -> torch.Tensor | None:
    """The clip's audio track, at the model's dtype as the reference casts it, encoded and cut or zero-padded to the
    clip's audio latent frames. The reference reads the whole track; a second past the clip's end is read here:
    the encoder is causal and the spectrogram looks 32 ms ahead, so the clip's latents come out the same."""
    try:
        waveform, rate = read_audio(data, 0.0, shape.frames / shape.fps + 1.0)
    except AudioInputError:  # no audio stream: the retake generates the audio
        return None
    waveform = torch.from_numpy(as_stereo(waveform))
    latent = c.encode_audio(waveform[None].to(c.dtype).float(), rate)
    frames = AudioLatentShape.from_video_pixel_shape(shape).frames
    if latent.shape[2] >= frames:
        return latent[:, :, :frames]
    missing = torch.zeros(*latent.shape[:2], frames - latent.shape[2], latent.shape[3], dtype=latent.dtype, device=latent.device)
    return torch.cat([latent, missing], dim=2)
