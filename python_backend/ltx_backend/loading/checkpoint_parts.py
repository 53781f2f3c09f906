"""The components of the official single-file checkpoint: how each is built and which keys it takes.

One entry per module the pipelines load from the checkpoint file. `load_part` builds it on the
meta device and assigns its weights straight from the file (see loading/checkpoint.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ltx_backend.loading.checkpoint import Builder, CheckpointError, CheckpointInfo, KeyMap, WeightStorage, load_module
from ltx_backend.models.audio_vae.config import (
    audio_decoder_key,
    audio_encoder_key,
    build_audio_decoder,
    build_audio_encoder,
    build_vocoder,
    vocoder_key,
)
from ltx_backend.models.text_encoder.config import embeddings_processor_key
from ltx_backend.models.transformer.config import build_transformer, transformer_key
from ltx_backend.models.video_vae.config import build_video_decoder, build_video_encoder, video_decoder_key, video_encoder_key


@dataclass(frozen=True)
class CheckpointPart:
    name: str
    build: Builder
    key_map: KeyMap


CHECKPOINT_PARTS: dict[str, CheckpointPart] = {
    spec.name: spec
    for spec in (
        CheckpointPart("transformer", build_transformer, transformer_key),
        CheckpointPart("video_encoder", build_video_encoder, video_encoder_key),
        CheckpointPart("video_decoder", build_video_decoder, video_decoder_key),
        CheckpointPart("audio_decoder", build_audio_decoder, audio_decoder_key),
        CheckpointPart("vocoder", build_vocoder, vocoder_key),
        CheckpointPart("audio_encoder", build_audio_encoder, audio_encoder_key),  # audio-to-video's soundtrack
    )
}

# The text path (feature extractor + connectors) also reads this file; it is loaded with Gemma by
# models.text_encoder.encoder.load_text_encoder, since its input width comes from Gemma's config.
KEY_MAPS = (*(spec.key_map for spec in CHECKPOINT_PARTS.values()), embeddings_processor_key)


def load_part(info: CheckpointInfo, name: str, device: torch.device, dtype: torch.dtype,
              storage: WeightStorage | None = None) -> torch.nn.Module:
    spec = CHECKPOINT_PARTS[name]
    return load_module(info.path, spec.build, info.config, spec.key_map, device, dtype, name, storage)


def check_every_key_is_claimed(info: CheckpointInfo) -> None:
    """An official file whose keys a component would silently skip is a different model: say which keys."""
    from safetensors import safe_open

    with safe_open(str(info.path), framework="pt") as f:
        extra = unclaimed_keys(list(f.keys()))
    if extra:
        shown = ", ".join(extra[:8]) + (f", ... ({len(extra)} in all)" if len(extra) > 8 else "")
        raise CheckpointError(f"{info.path.name}: {len(extra)} unexpected key(s) no component loads: {shown}")


def unclaimed_keys(keys: list[str]) -> list[str]:
    """Keys of a checkpoint that no component loads: a file from an unknown model variant has some."""
    return [
        k for k in keys if all(key_map(k) is None for key_map in KEY_MAPS)
    ]
