"""The transformer from the checkpoint's metadata config, its checkpoint key map, and reference configs.

`build_transformer` mirrors ltx-core's LTXModelConfigurator.from_config: it reads the "transformer"
section of the full metadata config, with the same defaults and the same fixed-value checks.
"""
from __future__ import annotations

import copy
from typing import Any

from .model import AVTransformer, AVTransformerConfig
from .rope import RopeType

# Keys the reference requires to hold exactly these values (a missing key reads as None).
FIXED_VALUES: dict[str, Any] = {
    "dropout": 0.0,
    "attention_bias": True,
    "num_vector_embeds": None,
    "activation_fn": "gelu-approximate",
    "num_embeds_ada_norm": 1000,
    "use_linear_projection": False,
    "only_cross_attention": False,
    "cross_attention_norm": True,
    "double_self_attention": False,
    "upcast_attention": False,
    "standardization_norm": "rms_norm",
    "norm_elementwise_affine": False,
    "qk_norm": "rms_norm",
    "positional_embedding_type": "rope",
    "use_audio_video_cross_attention": True,
    "share_ff": False,
    "av_cross_ada_norm": True,
    "use_middle_indices_grid": True,
}

# ltx-core's attention_type choices; every attention here goes through ltx_kernels.attention instead.
ATTENTION_TYPES = ("pytorch", "xformers", "flash_attention_3", "default")


def check_config_value(config: dict, key: str, expected: Any) -> None:
    actual = config.get(key)
    if actual != expected:
        raise ValueError(f"transformer config value {key} is {actual!r}, expected {expected!r}")


def read_transformer_config(config: dict) -> AVTransformerConfig:
    """The AVTransformerConfig of a full metadata config (sections "transformer", "vae", ...)."""
    t = config.get("transformer", {})
    for key, expected in FIXED_VALUES.items():
        check_config_value(t, key, expected)
    attention_type = t.get("attention_type", "default")
    if attention_type not in ATTENTION_TYPES:
        raise ValueError(
            f"transformer config value attention_type is {attention_type!r}, expected one of {ATTENTION_TYPES}"
        )
    rope_type = t.get("rope_type", "interleaved")
    if rope_type not in {r.value for r in RopeType}:
        raise ValueError(f"transformer config value rope_type is {rope_type!r}, expected 'interleaved' or 'split'")

    caption_channels = None
    if not t.get("caption_proj_before_connector", False):  # LTX-2: the projection sits in the transformer
        if "caption_channels" not in t:
            raise ValueError("transformer config needs caption_channels when caption_proj_before_connector is false")
        caption_channels = t["caption_channels"]

    return AVTransformerConfig(
        num_attention_heads=t.get("num_attention_heads", 32),
        attention_head_dim=t.get("attention_head_dim", 128),
        in_channels=t.get("in_channels", 128),
        out_channels=t.get("out_channels", 128),
        num_layers=t.get("num_layers", 48),
        cross_attention_dim=t.get("cross_attention_dim", 4096),
        norm_eps=t.get("norm_eps", 1e-06),
        positional_embedding_theta=t.get("positional_embedding_theta", 10000.0),
        positional_embedding_max_pos=tuple(t.get("positional_embedding_max_pos", [20, 2048, 2048])),
        timestep_scale_multiplier=t.get("timestep_scale_multiplier", 1000),
        audio_num_attention_heads=t.get("audio_num_attention_heads", 32),
        audio_attention_head_dim=t.get("audio_attention_head_dim", 64),
        audio_in_channels=t.get("audio_in_channels", 128),
        audio_out_channels=t.get("audio_out_channels", 128),
        audio_cross_attention_dim=t.get("audio_cross_attention_dim", 2048),
        audio_positional_embedding_max_pos=tuple(t.get("audio_positional_embedding_max_pos", [20])),
        av_ca_timestep_scale_multiplier=t.get("av_ca_timestep_scale_multiplier", 1),
        rope_type=RopeType(rope_type),
        double_precision_rope=t.get("frequencies_precision", False) == "float64",
        apply_gated_attention=t.get("apply_gated_attention", False),
        cross_attention_adaln=t.get("cross_attention_adaln", False),
        caption_channels=caption_channels,
    )


def build_transformer(config: dict) -> AVTransformer:
    """The audio+video transformer of a full metadata config (build it under torch.device("meta") to load)."""
    return AVTransformer(read_transformer_config(config))


CHECKPOINT_PREFIX = "model.diffusion_model."

# First names of the transformer's state-dict keys. Other keys under the checkpoint prefix belong to
# other components (the text connectors: video_embeddings_connector.*, audio_embeddings_connector.*).
TOP_LEVEL_NAMES = frozenset(
    {
        "patchify_proj", "audio_patchify_proj",
        "caption_projection", "audio_caption_projection",
        "adaln_single", "audio_adaln_single",
        "prompt_adaln_single", "audio_prompt_adaln_single",
        "av_ca_video_scale_shift_adaln_single", "av_ca_audio_scale_shift_adaln_single",
        "av_ca_a2v_gate_adaln_single", "av_ca_v2a_gate_adaln_single",
        "transformer_blocks",
        "scale_shift_table", "audio_scale_shift_table",
        "proj_out", "audio_proj_out",
    }
)


def transformer_key(checkpoint_key: str) -> str | None:
    """Our state-dict key of a single-file checkpoint key, or None if the transformer does not load it."""
    if not checkpoint_key.startswith(CHECKPOINT_PREFIX):
        return None
    key = checkpoint_key[len(CHECKPOINT_PREFIX) :]
    return key if key.split(".", 1)[0] in TOP_LEVEL_NAMES else None


# The "transformer" sections of the published checkpoints' metadata (ltx-2-19b-*.safetensors and
# ltx-2.3-22b-*.safetensors), text-connector keys included.
_FULL_COMMON: dict[str, Any] = {
    "_class_name": "AVTransformer3DModel",
    **FIXED_VALUES,
    "attention_head_dim": 128,
    "attention_type": "default",
    "audio_attention_head_dim": 64,
    "audio_cross_attention_dim": 2048,
    "audio_num_attention_heads": 32,
    "audio_out_channels": 128,
    "audio_positional_embedding_max_pos": [20],
    "av_ca_timestep_scale_multiplier": 1000.0,
    "caption_channels": 3840,
    "causal_temporal_positioning": True,
    "connector_attention_head_dim": 128,
    "connector_norm_output": True,
    "connector_num_learnable_registers": 128,
    "connector_positional_embedding_max_pos": [4096],
    "cross_attention_dim": 4096,
    "frequencies_precision": "float64",
    "in_channels": 128,
    "norm_eps": 1e-06,
    "norm_num_groups": 32,
    "num_attention_heads": 32,
    "num_layers": 48,
    "out_channels": 128,
    "positional_embedding_max_pos": [20, 2048, 2048],
    "positional_embedding_theta": 10000.0,
    "rope_type": "split",
    "timestep_scale_multiplier": 1000,
    "use_embeddings_connector": True,
}

_FULL_LTX2: dict[str, Any] = {
    **_FULL_COMMON,
    "_diffusers_version": "0.25.1",
    "connector_num_attention_heads": 30,
    "connector_num_layers": 2,
}

_FULL_LTX23: dict[str, Any] = {
    **_FULL_COMMON,
    "apply_gated_attention": True,
    "cross_attention_adaln": True,
    "caption_proj_before_connector": True,
    "caption_proj_input_norm": False,
    "caption_projection_first_linear": False,
    "caption_projection_second_linear": False,
    "connector_apply_gated_attention": True,
    "connector_learnable_registers_std": 1,
    "connector_num_attention_heads": 32,
    "connector_num_layers": 8,
    "audio_connector_attention_head_dim": 64,
    "audio_connector_num_attention_heads": 32,
    "text_encoder_norm_type": "per_token_rms",
}


def full_transformer_config(version: str) -> dict:
    """The published full-size "transformer" section: LTX-2 (19B) or LTX-2.3 (22B)."""
    configs = {"2": _FULL_LTX2, "2.3": _FULL_LTX23}
    if version in configs:
        return copy.deepcopy(configs[version])
    raise ValueError(f"version={version!r} is not supported (expected '2' or '2.3')")
