"""`vae_encoder`: the VAE encoders, one request each.

PIXELS [N, 3, F, H, W] in [-1, 1] (preprocessed conditioning images, F = 1, or a clip, F = 8k + 1) -> LATENTS
[N, 128, F', H/32, W/32], one at a time as the reference encodes them; or, where a class that encodes audio is served (parameter `audio_encoder`),
WAVEFORM [1, 2, S] float32 + SAMPLE_RATE [1] (a soundtrack) -> AUDIO_LATENTS [1, 8, T, 16].
"""
from __future__ import annotations

import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.sources import open_model
from ltx_backend.media import AUDIO_SAMPLE_RATES
from ltx_backend.models.audio_vae import encode_audio
from ltx_backend.models.video_vae import encode_video
from ltx_backend.serving.model_adapter import ModelAdapter, require


class TritonPythonModel(ModelAdapter):
    def load(self, args):
        model = open_model(args.model_path(), args.needs())
        self.encoder = model.load("video_encoder", self.device, self.dtype)
        audio = args.parameters.get("audio_encoder") == "true"
        self.audio_encoder = model.load("audio_encoder", self.device, self.dtype) if audio else None

    def run(self, inputs):
        if "WAVEFORM" in inputs:
            return {"AUDIO_LATENTS": self.encode_audio(inputs["WAVEFORM"], require(inputs, "SAMPLE_RATE"))}
        pixels = require(inputs, "PIXELS").to(self.device, self.dtype)
        if pixels.dim() != 5 or pixels.shape[1] != 3 or pixels.shape[-1] % 32 or pixels.shape[-2] % 32:
            raise InvalidRequest("PIXELS", list(pixels.shape), "a tensor of shape [N, 3, F, H, W] with H, W multiples of 32")
        return {"LATENTS": torch.cat([encode_video(p.unsqueeze(0), self.encoder) for p in pixels])}

    def encode_audio(self, waveform: torch.Tensor, sample_rate: torch.Tensor) -> torch.Tensor:
        if self.audio_encoder is None:
            raise InvalidRequest("WAVEFORM", "<soundtrack>", "a server that runs a class encoding audio (its vae_encoder loads the audio encoder)")
        if waveform.dim() != 3 or waveform.shape[:2] != (1, 2) or waveform.dtype != torch.float32:
            raise InvalidRequest("WAVEFORM", list(waveform.shape), "a float32 tensor of shape [1, 2, S]")
        rate = int(sample_rate.reshape(-1)[0])
        if rate not in AUDIO_SAMPLE_RATES:
            raise InvalidRequest("SAMPLE_RATE", rate, f"one of {', '.join(map(str, AUDIO_SAMPLE_RATES))}")
        return encode_audio(waveform, rate, self.audio_encoder)
