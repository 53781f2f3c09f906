"""`vae_encoder`: PIXELS [N, 3, 1, H, W] in [-1, 1] (preprocessed conditioning images) -> LATENTS
[N, 128, 1, H/32, W/32], one image at a time as the reference encodes them."""
from __future__ import annotations

import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.sources import open_model
from ltx_backend.models.video_vae import encode_video
from ltx_backend.serving.model_adapter import ModelAdapter, require


class TritonPythonModel(ModelAdapter):
    def load(self, args):
        self.encoder = open_model(args.model_path(), args.needs()).load("video_encoder", self.device, self.dtype)

    def run(self, inputs):
        pixels = require(inputs, "PIXELS").to(self.device, self.dtype)
        if pixels.dim() != 5 or pixels.shape[1] != 3 or pixels.shape[-1] % 32 or pixels.shape[-2] % 32:
            raise InvalidRequest("PIXELS", list(pixels.shape), "a tensor of shape [N, 3, F, H, W] with H, W multiples of 32")
        return {"LATENTS": torch.cat([encode_video(p.unsqueeze(0), self.encoder) for p in pixels])}
