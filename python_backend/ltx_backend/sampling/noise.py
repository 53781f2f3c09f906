"""Initial noise: Gaussian noise blended into a state by its denoise mask (ltx-core's GaussianNoiser)."""
from __future__ import annotations

from dataclasses import replace

import torch

from ltx_backend.latents.state import LatentState


class GaussianNoiser:
    """latent <- noise * m + latent * (1 - m), m = denoise_mask * noise_scale.

    Draws one torch.randn of the latent's shape, dtype and device per call from `generator`, so a
    sequence of calls (video state, then audio state) consumes the generator as the reference does.
    """

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def __call__(self, state: LatentState, noise_scale: float = 1.0) -> LatentState:
        latent = state.latent
        noise = torch.randn(*latent.shape, device=latent.device, dtype=latent.dtype, generator=self.generator)
        m = state.denoise_mask * noise_scale
        return replace(state, latent=(noise * m + latent * (1 - m)).to(latent.dtype))
