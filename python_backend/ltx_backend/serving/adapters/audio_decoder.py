"""`audio_decoder`: LATENT [1, 8, T, 16] -> WAVEFORM float32 [C, S], SAMPLE_RATE int32 [1] (audio VAE + vocoder)."""
from __future__ import annotations

import numpy as np

from ltx_backend.loading.sources import open_model
from ltx_backend.models.audio_vae import decode_audio
from ltx_backend.serving.input_checks import check_audio_latent
from ltx_backend.serving.model_adapter import ModelAdapter, require


class TritonPythonModel(ModelAdapter):
    def load(self, args):
        source = open_model(args.model_path(), args.needs())
        self.decoder = source.load("audio_decoder", self.device, self.dtype)
        self.vocoder = source.load("vocoder", self.device, self.dtype)

    def run(self, inputs):
        latent = require(inputs, "LATENT").to(self.device, self.dtype)
        check_audio_latent("LATENT", latent, self.decoder)
        waveform, sample_rate = decode_audio(latent, self.decoder, self.vocoder)
        return {"WAVEFORM": waveform.float().contiguous(), "SAMPLE_RATE": np.array([sample_rate], dtype=np.int32)}
