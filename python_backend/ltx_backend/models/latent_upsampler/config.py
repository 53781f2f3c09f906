"""Latent upsampler from its own checkpoint's metadata config (a flat dict, not a section of the main one)."""
from __future__ import annotations

from .model import RATIONAL_SCALES, LatentUpsampler


def build_latent_upsampler(config: dict) -> LatentUpsampler:
    """As ltx-core's LatentUpsamplerConfigurator, with its defaults (the spatial x2 model)."""
    dims = config.get("dims", 3)
    if dims not in (2, 3):
        raise ValueError(f"invalid dims={dims!r}: expected 2 or 3")
    spatial, temporal = config.get("spatial_upsample", True), config.get("temporal_upsample", False)
    if not (spatial or temporal):
        raise ValueError(f"invalid spatial_upsample={spatial!r} with temporal_upsample={temporal!r}: one must be true")
    scale, rational = config.get("spatial_scale", 2.0), config.get("rational_resampler", False)
    if spatial and not temporal and rational and float(scale) not in RATIONAL_SCALES:
        raise ValueError(f"invalid spatial_scale={scale!r}: expected one of {sorted(RATIONAL_SCALES)} with rational_resampler")
    return LatentUpsampler(
        in_channels=config.get("in_channels", 128),
        mid_channels=config.get("mid_channels", 512),
        num_blocks_per_stage=config.get("num_blocks_per_stage", 4),
        dims=dims,
        spatial_upsample=spatial,
        temporal_upsample=temporal,
        spatial_scale=scale,
        rational_resampler=rational,
    )


def published_upsampler_config() -> dict:
    """Metadata config of the published spatial x2 upsampler (ltx-2.3-spatial-upscaler-x2: 1024 middle
    channels, which its ~995 MB of bf16 weights confirm)."""
    return {
        "_class_name": "LatentUpsampler", "in_channels": 128, "mid_channels": 1024, "num_blocks_per_stage": 4, "dims": 3,
        "spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 2.0, "rational_resampler": False,
    }


