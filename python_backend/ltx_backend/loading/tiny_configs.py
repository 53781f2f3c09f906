"""Metadata configs of the tiny random-weight checkpoints (build/make_tiny_checkpoints.py, tests).

Each model package owns its section; this merges them into the one JSON the official file carries.
"""
from __future__ import annotations

from ltx_backend.models.audio_vae.config import tiny_audio_vae_config, tiny_vocoder_config
from ltx_backend.models.text_encoder.config import tiny_connector_config
from ltx_backend.models.transformer.config import tiny_transformer_config
from ltx_backend.models.video_vae.config import tiny_vae_config


def tiny_checkpoint_config(version: str) -> dict:
    return {
        "transformer": {**tiny_transformer_config(version), **tiny_connector_config(version)},
        "vae": tiny_vae_config(version),
        "audio_vae": tiny_audio_vae_config(version),
        "vocoder": tiny_vocoder_config(version),
    }
