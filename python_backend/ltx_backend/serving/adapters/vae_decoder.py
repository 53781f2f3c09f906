"""`vae_decoder`: LATENT [1, 128, F', H', W'] (+ GENERATOR_STATE uint8, for decode-time noise) -> FRAMES uint8
[F, H, W, 3]. Large outputs are decoded in overlapping tiles (video_vae TilingConfig.default())."""
from __future__ import annotations

import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.sources import open_model
from ltx_backend.models.video_vae import decode_video
from ltx_backend.serving.input_checks import check_video_latent
from ltx_backend.serving.model_adapter import ModelAdapter, require


class TritonPythonModel(ModelAdapter):
    def load(self, args):
        self.decoder = open_model(args.model_path(), args.needs()).load("video_decoder", self.device, self.dtype)

    def run(self, inputs):
        latent = require(inputs, "LATENT").to(self.device, self.dtype)
        check_video_latent("LATENT", latent)
        generator = torch.Generator(device=self.device)
        if "GENERATOR_STATE" in inputs:
            state = inputs["GENERATOR_STATE"].cpu().to(torch.uint8)
            try:
                generator.set_state(state)
            except RuntimeError as error:
                raise InvalidRequest("GENERATOR_STATE", f"<{state.numel()} bytes>", f"a torch.Generator state of this device ({error})") from None
        return {"FRAMES": decode_video(latent, self.decoder, generator=generator)}
