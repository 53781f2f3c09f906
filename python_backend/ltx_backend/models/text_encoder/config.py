"""Builders for the text-encoder modules from the checkpoint's metadata config, and checkpoint key maps.

Mirrors ltx-core's EmbeddingsProcessorConfigurator / Embeddings1DConnectorConfigurator /
AudioEmbeddings1DConnectorConfigurator (same keys of the "transformer" section, same defaults), except
that the Gemma width and depth come from the checkpoint's text_encoder/config.json instead of a
hard-coded Gemma 3 12B config.
"""
from __future__ import annotations

from typing import Protocol

from .connector import Embeddings1DConnector
from .embeddings_processor import EmbeddingsProcessor
from .feature_extractor import FeatureExtractorV1, FeatureExtractorV2
from .rope_1d import ROPE_TYPES


class GemmaTextDims(Protocol):
    """What the feature extractor needs from the Gemma text config (transformers' Gemma3TextConfig fits)."""

    hidden_size: int
    num_hidden_layers: int


# Present (all four, with exactly these values) in LTX-2.3 configs: feature extractor V2.
V2_FIXED_VALUES = {
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}


def uses_feature_extractor_v2(transformer_config: dict) -> bool:
    """False when no V2 key is present (LTX-2); True when all are, with the expected values (LTX-2.3)."""
    present = transformer_config.keys() & V2_FIXED_VALUES.keys()
    if not present:
        return False
    missing = sorted(V2_FIXED_VALUES.keys() - present)
    if missing:
        raise ValueError(f"partial LTX-2.3 text-projection config: missing keys {', '.join(missing)}")
    for key in sorted(present):
        if transformer_config[key] != V2_FIXED_VALUES[key]:
            raise ValueError(
                f"transformer.{key}={transformer_config[key]!r} is not supported (expected {V2_FIXED_VALUES[key]!r})"
            )
    return True


def build_feature_extractor(config: dict, gemma: GemmaTextDims) -> FeatureExtractorV1 | FeatureExtractorV2:
    transformer = config.get("transformer", {})
    num_hidden_states = gemma.num_hidden_layers + 1  # + the embedding layer's output
    if not uses_feature_extractor_v2(transformer):
        return FeatureExtractorV1(gemma.hidden_size, num_hidden_states)
    video_dim = transformer["num_attention_heads"] * transformer["attention_head_dim"]
    audio_dim = transformer["audio_num_attention_heads"] * transformer["audio_attention_head_dim"]
    return FeatureExtractorV2(gemma.hidden_size, num_hidden_states, video_dim, audio_dim)


def _connector(transformer: dict, heads: int, head_dim: int, num_layers: int) -> Embeddings1DConnector:
    rope_type = transformer.get("rope_type", "interleaved")
    if rope_type not in ROPE_TYPES:
        raise ValueError(f"transformer.rope_type={rope_type!r} is not supported (expected one of {ROPE_TYPES})")
    max_pos = transformer.get("connector_positional_embedding_max_pos", [1])
    if len(max_pos) != 1:
        raise ValueError(
            f"transformer.connector_positional_embedding_max_pos={max_pos!r} must have one entry (1-D positions)"
        )
    return Embeddings1DConnector(
        heads,
        head_dim,
        num_layers,
        rope_type=rope_type,
        double_precision_rope=transformer.get("frequencies_precision", False) == "float64",
        rope_max_pos=max_pos[0],
        gated_attention=transformer.get("connector_apply_gated_attention", False),
    )


def build_video_connector(config: dict) -> Embeddings1DConnector:
    transformer = config.get("transformer", {})
    return _connector(
        transformer,
        heads=transformer.get("connector_num_attention_heads", 30),
        head_dim=transformer.get("connector_attention_head_dim", 128),
        num_layers=transformer.get("connector_num_layers", 2),
    )


def build_audio_connector(config: dict) -> Embeddings1DConnector:
    """Own audio_connector_* sizes when present, else the video connector's."""
    transformer = config.get("transformer", {})
    return _connector(
        transformer,
        heads=transformer.get("audio_connector_num_attention_heads", transformer.get("connector_num_attention_heads", 30)),
        head_dim=transformer.get("audio_connector_attention_head_dim", transformer.get("connector_attention_head_dim", 128)),
        num_layers=transformer.get("audio_connector_num_layers", transformer.get("connector_num_layers", 2)),
    )


def build_embeddings_processor(config: dict, gemma: GemmaTextDims) -> EmbeddingsProcessor:
    """Feature extractor (V1 or V2) + video and audio connectors from the full metadata config."""
    return EmbeddingsProcessor(
        feature_extractor=build_feature_extractor(config, gemma),
        video_connector=build_video_connector(config),
        audio_connector=build_audio_connector(config),
    )


# Checkpoint key prefix -> EmbeddingsProcessor prefix (ltx-core's EMBEDDINGS_PROCESSOR_KEY_OPS).
EMBEDDINGS_PROCESSOR_PREFIXES = (
    ("text_embedding_projection.aggregate_embed.", "feature_extractor.aggregate_embed."),
    ("text_embedding_projection.video_aggregate_embed.", "feature_extractor.video_aggregate_embed."),
    ("text_embedding_projection.audio_aggregate_embed.", "feature_extractor.audio_aggregate_embed."),
    ("model.diffusion_model.video_embeddings_connector.", "video_connector."),
    ("model.diffusion_model.audio_embeddings_connector.", "audio_connector."),
)


def embeddings_processor_key(checkpoint_key: str) -> str | None:
    """The EmbeddingsProcessor state-dict key of a checkpoint key, or None if it is not one of its weights."""
    for checkpoint_prefix, module_prefix in EMBEDDINGS_PROCESSOR_PREFIXES:
        if checkpoint_key.startswith(checkpoint_prefix):
            return module_prefix + checkpoint_key[len(checkpoint_prefix) :]
    return None


def checkpoint_key(module_key: str) -> str:
    """Inverse of :func:`embeddings_processor_key` (for writing checkpoints)."""
    for checkpoint_prefix, module_prefix in EMBEDDINGS_PROCESSOR_PREFIXES:
        if module_key.startswith(module_prefix):
            return checkpoint_prefix + module_key[len(module_prefix) :]
    raise KeyError(f"{module_key!r} is not an EmbeddingsProcessor key")


# Gemma 3 checkpoint -> transformers' Gemma3TextModel keys: the hub layout (what ltx-core reads) and the
# module layout transformers >= 4.52 uses in memory.
GEMMA_TEXT_PREFIXES = ("language_model.model.", "model.language_model.")


def gemma_text_key(checkpoint_key: str) -> str | None:
    """The Gemma3TextModel key of a Gemma3ForConditionalGeneration checkpoint key (None: not the text tower)."""
    for prefix in GEMMA_TEXT_PREFIXES:
        if checkpoint_key.startswith(prefix):
            return checkpoint_key[len(prefix) :]
    return None


