"""Configs of the tiny random-weight checkpoints (build/make_tiny_checkpoints.py, the tests): each published
section (models/*/config.py) shrunk to a few channels and layers, with the same keys, and merged into the one
JSON the official file carries. Test fixtures, not part of the product."""
from __future__ import annotations

from ltx_backend.models.audio_vae.config import published_audio_vae_config, published_vocoder_config
from ltx_backend.models.latent_upsampler.config import published_upsampler_config
from ltx_backend.models.text_encoder.config import V2_FIXED_VALUES
from ltx_backend.models.transformer.config import FIXED_VALUES
from ltx_backend.models.video_vae.config import published_vae_config


def _blocks(*entries: tuple[str, dict]) -> list:
    return [[name, dict(params)] for name, params in entries]


# ch stays 128: the per-channel statistics cover the packed latent (8 channels x 16 latent mel bins).
_TINY_DDCONFIG = {"ch_mult": [1, 1, 1], "num_res_blocks": 1}
_TINY_VOCODER_WIDTH = 128
_TINY_BWE_WIDTH = 64


def tiny_transformer_config(version: str) -> dict:
    """The "transformer" section (transformer keys only) of the tiny test checkpoints.

    Video 2 heads x 16, audio 2 heads x 8, 2 layers, text widths 32 / 16, 128 latent channels.
    Like the real models: split RoPE with float64 frequencies, av_ca_timestep_scale_multiplier 1000.
    LTX-2 projects 64-wide captions (tiny Gemma) in the transformer; LTX-2.3 adds gated attention and
    cross-attention AdaLN, and projects captions in the text encoder.
    """
    if version not in ("2", "2.3"):
        raise ValueError(f"version={version!r} is not supported (expected '2' or '2.3')")
    config = {
        **FIXED_VALUES,
        "num_attention_heads": 2,
        "attention_head_dim": 16,
        "in_channels": 128,
        "out_channels": 128,
        "num_layers": 2,
        "cross_attention_dim": 32,
        "audio_num_attention_heads": 2,
        "audio_attention_head_dim": 8,
        "audio_in_channels": 128,
        "audio_out_channels": 128,
        "audio_cross_attention_dim": 16,
        "norm_eps": 1e-06,
        "attention_type": "default",
        "positional_embedding_theta": 10000.0,
        "positional_embedding_max_pos": [20, 2048, 2048],
        "audio_positional_embedding_max_pos": [20],
        "timestep_scale_multiplier": 1000,
        "av_ca_timestep_scale_multiplier": 1000.0,
        "rope_type": "split",
        "frequencies_precision": "float64",
        "caption_channels": 64,
    }
    if version == "2.3":
        config.update(apply_gated_attention=True, cross_attention_adaln=True, caption_proj_before_connector=True)
    return config


def tiny_connector_config(version: str) -> dict:
    """The "transformer"-section keys the tiny checkpoints need for the text path (besides the
    transformer's own num_attention_heads / attention_head_dim / audio_* sizes, rope_type and
    frequencies_precision, which the feature extractor V2 and the connectors also read).

    Tiny Gemma: hidden 64, 2 layers. LTX-2: connectors 2 x 32 = 64 wide (the caption projection in the
    transformer maps 64 -> 32 / 16). LTX-2.3: V2 projects to the transformer widths (video 32, audio 16),
    connectors 2 x 16 (video) and 2 x 8 (audio), gated attention, max position 4096 as in the real config.
    """
    if version == "2":
        return {
            "caption_channels": 64,
            "connector_num_attention_heads": 2,
            "connector_attention_head_dim": 32,
            "connector_num_layers": 2,
            "connector_positional_embedding_max_pos": [1],
            "connector_num_learnable_registers": 128,
        }
    if version == "2.3":
        return {
            "caption_channels": 64,
            **V2_FIXED_VALUES,
            "connector_num_attention_heads": 2,
            "connector_attention_head_dim": 16,
            "connector_num_layers": 2,
            "audio_connector_num_attention_heads": 2,
            "audio_connector_attention_head_dim": 8,
            "audio_connector_num_layers": 1,
            "connector_apply_gated_attention": True,
            "connector_positional_embedding_max_pos": [4096],
            "connector_num_learnable_registers": 128,
        }
    raise ValueError(f"version={version!r} is not supported (expected '2' or '2.3')")


def tiny_vae_config(version: str) -> dict:
    """The published block structure of each version with one layer per res_x and small widths.

    The encoder's width starts at the 128 latent channels, so its multipliers stay 1 at high resolution.
    Decoder width: decoder_base_channels (16) x 8 = 128 at the latent, 16 at the output. LTX-2's tiny
    decoder also injects noise in one block (the published one does not) so the generator path is tested.
    """
    base = published_vae_config(version)
    if version == "2":
        encoder = _blocks(
            ("compress_space_res", {"multiplier": 1}), ("res_x", {"num_layers": 1}), ("compress_time_res", {"multiplier": 1}),
            ("compress_all_res", {"multiplier": 1}), ("res_x", {"num_layers": 1}), ("compress_all_res", {"multiplier": 2}),
            ("res_x", {"num_layers": 1}),
        )
        decoder = _blocks(
            ("res_x", {"num_layers": 1}), ("compress_all", {"residual": True, "multiplier": 2}),
            ("res_x", {"num_layers": 1, "inject_noise": True}), ("compress_all", {"residual": True, "multiplier": 2}),
            ("res_x", {"num_layers": 1}), ("compress_all", {"residual": True, "multiplier": 2}), ("res_x", {"num_layers": 1}),
        )
    else:
        encoder = _blocks(
            ("compress_space_res", {"multiplier": 1}), ("res_x", {"num_layers": 1}), ("compress_time_res", {"multiplier": 1}),
            ("compress_all_res", {"multiplier": 2}), ("res_x", {"num_layers": 1}), ("compress_all_res", {"multiplier": 1}),
            ("res_x", {"num_layers": 1}),
        )
        decoder = _blocks(
            ("res_x", {"num_layers": 1}), ("compress_space", {"multiplier": 2}), ("res_x", {"num_layers": 1}),
            ("compress_time", {"multiplier": 2}), ("res_x", {"num_layers": 1}), ("compress_all", {"multiplier": 1}),
            ("res_x", {"num_layers": 1}), ("compress_all", {"multiplier": 2}), ("res_x", {"num_layers": 1}),
        )
    return {**base, "decoder_base_channels": 16, "encoder_blocks": encoder, "decoder_blocks": decoder}


def tiny_audio_vae_config(version: str) -> dict:
    """The published "audio_vae" section with all levels 128 wide and 1 + 1 ResNet blocks per level."""
    config = published_audio_vae_config(version)
    config["model"]["params"]["ddconfig"].update(_TINY_DDCONFIG)
    return config


def tiny_vocoder_config(version: str) -> dict:
    """The published "vocoder" section with narrow generators (128 channels at the first stage; BWE 64)."""
    config = published_vocoder_config(version)
    if version == "2":
        config["upsample_initial_channel"] = _TINY_VOCODER_WIDTH
    else:
        config["vocoder"]["upsample_initial_channel"] = _TINY_VOCODER_WIDTH
        config["bwe"]["upsample_initial_channel"] = _TINY_BWE_WIDTH
    return config


def tiny_upsampler_config() -> dict:
    """The spatial x2 model with one ResBlock per stage and 32 middle channels (GroupNorm needs 32 | width)."""
    return {**published_upsampler_config(), "mid_channels": 32, "num_blocks_per_stage": 1}


def tiny_checkpoint_config(version: str) -> dict:
    return {
        "transformer": {**tiny_transformer_config(version), **tiny_connector_config(version)},
        "vae": tiny_vae_config(version),
        "audio_vae": tiny_audio_vae_config(version),
        "vocoder": tiny_vocoder_config(version),
    }
