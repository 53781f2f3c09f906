"""`latent_upsampler`: LATENT [1, 128, F, H, W] -> LATENT [1, 128, F, 2H, 2W], the spatial x2 upsampler between
the two stages (un-normalised with the VAE's per-channel statistics, upsampled, re-normalised)."""
from __future__ import annotations

from ltx_backend.loading.sources import open_model
from ltx_backend.models.latent_upsampler import upsample_latents
from ltx_backend.runtime.loaders import load_latent_upsampler
from ltx_backend.serving.input_checks import check_video_latent
from ltx_backend.serving.model_adapter import ModelAdapter, require


class TritonPythonModel(ModelAdapter):
    def load(self, args):
        given = args.parameters.get("upsampler_path") or None
        source = open_model(args.model_path(), args.needs(spatial_upsampler=given is None))
        self.upsampler = load_latent_upsampler(given or source.files.spatial_upsampler, self.device, self.dtype)
        self.video_encoder = source.load("video_encoder", self.device, self.dtype)  # its per-channel statistics

    def run(self, inputs):
        latent = require(inputs, "LATENT").to(self.device, self.dtype)
        check_video_latent("LATENT", latent, upsampled=True)
        return {"LATENT": upsample_latents(latent, self.upsampler, self.video_encoder)}
