"""Latent upsampler parity with ltx-core 1.0.0 (fp32): the tiny spatial x2 model and the other variants
(rational 1.5x, temporal x2, spatio-temporal x2, 2-D convolutions), upsample_latents' statistics round trip."""
from __future__ import annotations

import pytest
import torch

from ltx_backend.models.latent_upsampler import build_latent_upsampler, published_upsampler_config, upsample_latents
from ltx_backend.models.video_vae import build_video_encoder
from ltx_testing.tiny_configs import tiny_upsampler_config, tiny_vae_config

VARIANTS = {
    "spatial_x2": ({}, (1, 128, 2, 3, 4), (1, 128, 2, 6, 8)),
    "rational_x1.5": ({"rational_resampler": True, "spatial_scale": 1.5}, (1, 128, 2, 4, 4), (1, 128, 2, 6, 6)),
    "rational_x0.75": ({"rational_resampler": True, "spatial_scale": 0.75}, (1, 128, 2, 4, 4), (1, 128, 2, 3, 3)),
    "temporal_x2": ({"spatial_upsample": False, "temporal_upsample": True}, (1, 128, 3, 3, 4), (1, 128, 5, 3, 4)),
    "spatiotemporal_x2": ({"temporal_upsample": True}, (1, 128, 2, 2, 3), (1, 128, 3, 4, 6)),
    "dims_2": ({"dims": 2}, (2, 128, 2, 3, 2), (2, 128, 2, 6, 4)),
}


def randomized(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if name.endswith("kernel"):
            continue  # the fixed blur kernel
        scale = tensor[0].numel() ** -0.5 if tensor.dim() > 1 else 0.1
        offset = 1.0 if name.endswith(("norm1.weight", "norm2.weight")) else 0.0
        tensor.data = torch.randn(tensor.shape, generator=generator) * scale + offset
    return module


def pair(config: dict):
    from ltx_core.model.upsampler import LatentUpsamplerConfigurator

    reference = randomized(LatentUpsamplerConfigurator.from_config(config), seed=1).eval()
    with torch.device("meta"):
        ours = build_latent_upsampler(config)
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    return ours.eval(), reference


@pytest.mark.parametrize("variant", VARIANTS)
def test_upsampler_matches_reference(variant):
    overrides, in_shape, out_shape = VARIANTS[variant]
    ours, reference = pair({**tiny_upsampler_config(), **overrides})
    latent = torch.randn(in_shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        out, expected = ours(latent), reference(latent)
    assert out.shape == expected.shape == out_shape
    error = (out - expected).abs().max().item()
    assert error <= 1e-4 * max(1.0, expected.abs().max().item()), error


def test_upsample_latents_matches_reference_upsample_video():
    from ltx_core.model.upsampler import upsample_video
    from ltx_core.model.video_vae import VideoEncoderConfigurator

    ours, reference = pair(tiny_upsampler_config())
    vae = {"vae": tiny_vae_config("2.3")}
    reference_encoder = VideoEncoderConfigurator.from_config(vae)
    statistics = reference_encoder.per_channel_statistics
    generator = torch.Generator().manual_seed(3)
    statistics.get_buffer("mean-of-means").copy_(torch.randn(128, generator=generator))
    statistics.get_buffer("std-of-means").copy_(torch.rand(128, generator=generator) + 0.5)
    with torch.device("meta"):
        encoder = build_video_encoder(vae)
    encoder.load_state_dict(reference_encoder.state_dict(), strict=True, assign=True)
    latent = torch.randn(1, 128, 2, 3, 4, generator=generator)
    with torch.no_grad():
        out = upsample_latents(latent, ours, encoder)
        expected = upsample_video(latent, reference_encoder, reference)
    assert out.shape == (1, 128, 2, 6, 8)
    assert (out - expected).abs().max().item() <= 1e-4 * max(1.0, expected.abs().max().item())


def test_published_config_has_the_reference_layout():
    from ltx_core.model.upsampler import LatentUpsamplerConfigurator

    with torch.device("meta"):
        ours = build_latent_upsampler(published_upsampler_config())
        reference = LatentUpsamplerConfigurator.from_config(published_upsampler_config())
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    assert sum(v.numel() for v in ours.state_dict().values()) == pytest.approx(497.6e6, rel=1e-3)  # ~995 MB in bf16


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match=r"invalid spatial_scale=3.0"):
        build_latent_upsampler({**tiny_upsampler_config(), "rational_resampler": True, "spatial_scale": 3.0})
    with pytest.raises(ValueError, match=r"invalid spatial_upsample=False with temporal_upsample=False"):
        build_latent_upsampler({**tiny_upsampler_config(), "spatial_upsample": False})
