"""LTX-2 / LTX-2.3 published in the diffusers layout -> our modules.

    <root>/model_index.json
    <root>/transformer/   LTX2VideoTransformer3DModel    -> "transformer"
    <root>/connectors/    LTX2TextConnectors             -> "embeddings_processor" (feature extractor + connectors)
    <root>/vae/           AutoencoderKLLTX2Video         -> "video_encoder", "video_decoder"
    <root>/audio_vae/     AutoencoderKLLTX2Audio         -> "audio_encoder", "audio_decoder"
    <root>/vocoder/       LTX2Vocoder / LTX2VocoderWithBWE -> "vocoder"
    <root>/text_encoder/, tokenizer/                     Gemma 3 (read by models.text_encoder as for single files)

Each component's config.json is turned into the section of the official checkpoint's metadata config
("transformer", "vae", "audio_vae", "vocoder") that our builders read; a diffusers setting the official
config cannot express is an error naming it. Weight names follow diffusers' conversion script
(scripts/convert_ltx2_to_diffusers.py) in reverse: for each key of the module we build, the diffusers key
it was converted to is computed, and the component's files are read through that table (strict: missing
or unexpected keys are an error naming them).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import torch

from ltx_backend.loading.checkpoint import Builder, CheckpointError, WeightStorage, load_module
from ltx_backend.models.transformer.config import FIXED_VALUES

SUBFOLDERS = {
    "transformer": "transformer",
    "embeddings_processor": "connectors",
    "video_encoder": "vae",
    "video_decoder": "vae",
    "audio_decoder": "audio_vae",
    "audio_encoder": "audio_vae",
    "vocoder": "vocoder",
}


class DiffusersLayoutError(CheckpointError):
    pass


# --------------------------------------------------------------------------------------------------- configs


def read_component_config(root: Path, subfolder: str) -> dict:
    path = Path(root) / subfolder / "config.json"
    if not path.is_file():
        raise DiffusersLayoutError(f"diffusers layout at {root}: missing {subfolder}/config.json")
    return json.loads(path.read_text())


def _require(config: dict, key: str, expected, where: str) -> None:
    """A diffusers setting our models hard-code (absent keys take diffusers' default, assumed equal)."""
    if key in config and _plain(config[key]) != _plain(expected):
        raise DiffusersLayoutError(f"{where}/config.json: {key}={config[key]!r} is not supported (expected {expected!r})")


def _plain(value):
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def _same(config: dict, key_a: str, key_b: str, where: str, default=None):
    a, b = config.get(key_a, default), config.get(key_b, default)
    if a != b:
        raise DiffusersLayoutError(f"{where}/config.json: {key_a}={a!r} and {key_b}={b!r} must be equal (one setting in LTX-2)")
    return a


def diffusers_model_version(root: str | Path) -> str:
    """"2.3" when the text projection sits before the connectors (per-modality projections), else "2"."""
    transformer = read_component_config(Path(root), "transformer")
    connectors = read_component_config(Path(root), "connectors")
    v23_transformer = not transformer.get("use_prompt_embeddings", True)
    v23_connectors = bool(connectors.get("per_modality_projections", False))
    if v23_transformer != v23_connectors:
        raise DiffusersLayoutError(
            f"diffusers layout at {root}: transformer use_prompt_embeddings={transformer.get('use_prompt_embeddings', True)!r} "
            f"contradicts connectors per_modality_projections={connectors.get('per_modality_projections', False)!r}"
        )
    return "2.3" if v23_transformer else "2"


# Keys the official "transformer" section always carries with these values (ltx-core checks each).
TRANSFORMER_FIXED_VALUES = FIXED_VALUES


def transformer_section(transformer: dict, connectors: dict) -> dict:
    """The official "transformer" section: the DiT's own keys and the text connectors' keys."""
    where = "transformer"
    for key, expected in {
        "patch_size": 1, "patch_size_t": 1, "audio_patch_size": 1, "audio_patch_size_t": 1,
        "vae_scale_factors": [8, 32, 32], "audio_scale_factor": 4, "audio_sampling_rate": 16000,
        "audio_hop_length": 160, "causal_offset": 1, "activation_fn": "gelu-approximate",
        "qk_norm": "rms_norm_across_heads", "norm_elementwise_affine": False, "attention_bias": True,
        "attention_out_bias": True, "ff_bias": True, "audio_ff_bias": True, "use_prompt_adaln_single": True,
        "use_keyframes_abs_pos_embedding": False,
    }.items():
        _require(transformer, key, expected, where)
    gated = _same(transformer, "gated_attn", "audio_gated_attn", where, False)
    cross_adaln = _same(transformer, "cross_attn_mod", "audio_cross_attn_mod", where, False)
    rope_type = transformer.get("rope_type", "interleaved")
    double_precision = transformer.get("rope_double_precision", True)
    section = {
        **TRANSFORMER_FIXED_VALUES,
        "num_attention_heads": transformer.get("num_attention_heads", 32),
        "attention_head_dim": transformer.get("attention_head_dim", 128),
        "in_channels": transformer.get("in_channels", 128),
        "out_channels": transformer.get("out_channels") or transformer.get("in_channels", 128),
        "num_layers": transformer.get("num_layers", 48),
        "cross_attention_dim": transformer.get("cross_attention_dim", 4096),
        "norm_eps": transformer.get("norm_eps", 1e-6),
        "positional_embedding_theta": transformer.get("rope_theta", 10000.0),
        "positional_embedding_max_pos": [
            transformer.get("pos_embed_max_pos", 20), transformer.get("base_height", 2048), transformer.get("base_width", 2048)
        ],
        "timestep_scale_multiplier": transformer.get("timestep_scale_multiplier", 1000),
        "audio_num_attention_heads": transformer.get("audio_num_attention_heads", 32),
        "audio_attention_head_dim": transformer.get("audio_attention_head_dim", 64),
        "audio_in_channels": transformer.get("audio_in_channels", 128),
        "audio_out_channels": transformer.get("audio_out_channels") or transformer.get("audio_in_channels", 128),
        "audio_cross_attention_dim": transformer.get("audio_cross_attention_dim", 2048),
        "audio_positional_embedding_max_pos": [transformer.get("audio_pos_embed_max_pos", 20)],
        "av_ca_timestep_scale_multiplier": transformer.get("cross_attn_timestep_scale_multiplier", 1000),
        "rope_type": rope_type,
        "frequencies_precision": "float64" if double_precision else "float32",
        "apply_gated_attention": gated,
        "cross_attention_adaln": cross_adaln,
        "caption_channels": transformer.get("caption_channels", 3840),
    }
    section.update(_connector_keys(connectors, section))
    return section


def _connector_keys(connectors: dict, transformer: dict) -> dict:
    where = "connectors"
    _require(connectors, "causal_temporal_positioning", False, where)
    _require(connectors, "rope_theta", 10000.0, where)
    _require(connectors, "rope_type", transformer["rope_type"], where)
    _require(connectors, "rope_double_precision", transformer["frequencies_precision"] == "float64", where)
    _require(connectors, "caption_channels", transformer["caption_channels"], where)
    for prefix in ("video", "audio"):
        _require(connectors, f"{prefix}_connector_num_learnable_registers", 128, where)
    keys = {
        "connector_num_attention_heads": connectors.get("video_connector_num_attention_heads", 30),
        "connector_attention_head_dim": connectors.get("video_connector_attention_head_dim", 128),
        "connector_num_layers": connectors.get("video_connector_num_layers", 2),
        "audio_connector_num_attention_heads": connectors.get("audio_connector_num_attention_heads", 30),
        "audio_connector_attention_head_dim": connectors.get("audio_connector_attention_head_dim", 128),
        "audio_connector_num_layers": connectors.get("audio_connector_num_layers", 2),
        "connector_apply_gated_attention": _same(connectors, "video_gated_attn", "audio_gated_attn", where, False),
        "connector_positional_embedding_max_pos": [connectors.get("connector_rope_base_seq_len", 4096)],
        "connector_num_learnable_registers": 128,
    }
    if connectors.get("per_modality_projections", False):  # LTX-2.3: feature extractor V2
        _require(connectors, "proj_bias", True, where)
        _require(connectors, "video_hidden_dim", transformer["num_attention_heads"] * transformer["attention_head_dim"], where)
        _require(connectors, "audio_hidden_dim", transformer["audio_num_attention_heads"] * transformer["audio_attention_head_dim"], where)
        keys.update({
            "caption_proj_before_connector": True,
            "caption_projection_first_linear": False,
            "caption_proj_input_norm": False,
            "caption_projection_second_linear": False,
        })
    else:
        _require(connectors, "proj_bias", False, where)
    return keys


def vae_plan(vae: dict) -> tuple[dict, dict[int, str], dict[int, str]]:
    """The official "vae" section, and for the encoder / decoder: block index -> diffusers module prefix."""
    where = "vae"
    for key, expected in {"patch_size_t": 1, "resnet_norm_eps": 1e-6, "encoder_causal": True}.items():
        _require(vae, key, expected, where)
    latent = vae.get("latent_channels", 128)

    # Encoder: per diffusers down block, res_x then (when scaling) a space-to-depth downsampler; mid_block last.
    down_channels = list(vae.get("block_out_channels", (256, 512, 1024, 2048)))
    layers = list(vae.get("layers_per_block", (4, 6, 6, 2, 2)))
    scaling = _per_block(vae.get("spatio_temporal_scaling", (True, True, True, True)), len(down_channels))
    down_types = list(vae.get("downsample_type", ("spatial", "temporal", "spatiotemporal", "spatiotemporal")))
    compress = {"spatial": "compress_space_res", "temporal": "compress_time_res", "spatiotemporal": "compress_all_res"}
    encoder_blocks: list = []
    encoder_names: dict[int, str] = {}
    channels = latent
    for i, out_channels in enumerate(down_channels):
        if vae.get("down_block_types", ["LTX2VideoDownBlock3D"] * len(down_channels))[i] != "LTX2VideoDownBlock3D":
            raise DiffusersLayoutError(f"vae/config.json: down_block_types[{i}] is not supported (expected 'LTX2VideoDownBlock3D')")
        encoder_names[len(encoder_blocks)] = f"down_blocks.{i}"
        encoder_blocks.append(["res_x", {"num_layers": layers[i]}])
        if scaling[i]:
            if down_types[i] not in compress or out_channels % channels:
                raise DiffusersLayoutError(f"vae/config.json: down block {i} ({down_types[i]!r}, {channels} -> {out_channels} channels) is not supported")
            encoder_names[len(encoder_blocks)] = f"down_blocks.{i}.downsamplers.0"
            encoder_blocks.append([compress[down_types[i]], {"multiplier": out_channels // channels}])
            channels = out_channels
        elif out_channels != channels:
            raise DiffusersLayoutError(f"vae/config.json: down block {i} changes channels without downsampling (not supported)")
    encoder_names[len(encoder_blocks)] = "mid_block"
    encoder_blocks.append(["res_x", {"num_layers": layers[-1]}])

    # Decoder, in decoding order: mid_block, then per up block (when scaling) a depth-to-space upsampler and res_x.
    up_channels = list(reversed(vae.get("decoder_block_out_channels", (256, 512, 1024))))
    n = len(up_channels)
    dec_layers = list(reversed(vae.get("decoder_layers_per_block", (5, 5, 5, 5))))
    dec_scaling = list(reversed(_per_block(vae.get("decoder_spatio_temporal_scaling", (True, True, True)), n)))
    noise = list(reversed(_per_block(vae.get("decoder_inject_noise", (False,) * (n + 1)), n + 1)))
    residual = list(reversed(_per_block(vae.get("upsample_residual", (True, True, True)), n)))
    factors = list(reversed(vae.get("upsample_factor", (2, 2, 2))))
    up_types = list(vae.get("upsample_type", ("spatiotemporal",) * n))  # diffusers keeps this one in decoding order
    expand = {"spatiotemporal": "compress_all", "temporal": "compress_time", "spatial": "compress_space"}
    decode_order: list = [["res_x", {"num_layers": dec_layers[0], "inject_noise": noise[0]}]]
    decoder_names = {0: "mid_block"}
    channels = up_channels[0]
    if channels % 8:
        raise DiffusersLayoutError(f"vae/config.json: decoder_block_out_channels[-1]={channels} is not a multiple of 8")
    for i in range(n):
        block_in, block_out = channels // factors[i], up_channels[i] // factors[i]
        if block_in != block_out or not dec_scaling[i] or up_types[i] not in expand:
            raise DiffusersLayoutError(
                f"vae/config.json: decoder up block {i} ({up_types[i]!r}, scaling {dec_scaling[i]}, {block_in} -> {block_out} channels) is not supported"
            )
        params = {"multiplier": factors[i]}
        if up_types[i] == "spatiotemporal":
            params["residual"] = bool(residual[i])
        elif residual[i]:
            raise DiffusersLayoutError(f"vae/config.json: upsample_residual for a {up_types[i]!r} upsampler is not supported")
        decoder_names[len(decode_order)] = f"up_blocks.{i}.upsamplers.0"
        decode_order.append([expand[up_types[i]], params])
        decoder_names[len(decode_order)] = f"up_blocks.{i}"
        decode_order.append(["res_x", {"num_layers": dec_layers[i + 1], "inject_noise": noise[i + 1]}])
        channels = block_out

    encoder_padding = vae.get("encoder_spatial_padding_mode", "zeros")
    decoder_padding = vae.get("decoder_spatial_padding_mode", "reflect")
    section = {
        "dims": 3,
        "in_channels": vae.get("in_channels", 3),
        "out_channels": vae.get("out_channels", 3),
        "latent_channels": latent,
        "patch_size": vae.get("patch_size", 4),
        "norm_layer": "pixel_norm",
        "latent_log_var": "uniform",
        "encoder_blocks": encoder_blocks,
        "decoder_blocks": list(reversed(decode_order)),
        "decoder_base_channels": up_channels[0] // 8,
        "causal_decoder": vae.get("decoder_causal", True),
        "timestep_conditioning": vae.get("timestep_conditioning", False),
    }
    # The official config has one padding mode for both halves; their defaults differ (zeros / reflect).
    if encoder_padding == decoder_padding:
        section["spatial_padding_mode"] = encoder_padding
    elif (encoder_padding, decoder_padding) != ("zeros", "reflect"):
        raise DiffusersLayoutError(
            f"vae/config.json: encoder_spatial_padding_mode={encoder_padding!r} with decoder_spatial_padding_mode={decoder_padding!r} is not supported"
        )
    # ltx-core's decoder maps block index i of the reversed list to up_blocks.i.
    return section, encoder_names, decoder_names


def _per_block(value, n: int) -> list:
    return [value] * n if isinstance(value, bool) else list(value)


def audio_vae_section(audio_vae: dict) -> dict:
    attn = audio_vae.get("attn_resolutions")
    mel_bins = audio_vae.get("mel_bins", 64)
    return {
        "model": {
            "params": {
                "ddconfig": {
                    "ch": audio_vae.get("base_channels", 128),
                    "out_ch": audio_vae.get("output_channels", 2),
                    "ch_mult": list(audio_vae.get("ch_mult", (1, 2, 4))),
                    "num_res_blocks": audio_vae.get("num_res_blocks", 2),
                    "attn_resolutions": list(attn) if attn else [],
                    "resolution": audio_vae.get("resolution", 256),
                    "z_channels": audio_vae.get("latent_channels", 8),
                    "double_z": audio_vae.get("double_z", True),
                    "in_channels": audio_vae.get("in_channels", 2),
                    "norm_type": audio_vae.get("norm_type", "pixel"),
                    "causality_axis": audio_vae.get("causality_axis", "height"),
                    "dropout": audio_vae.get("dropout", 0.0),
                    "mid_block_add_attention": audio_vae.get("mid_block_add_attention", False),
                    "mel_bins": mel_bins,
                },
                "sampling_rate": audio_vae.get("sample_rate", 16000),
            }
        },
        "preprocessing": {
            "stft": {"hop_length": audio_vae.get("mel_hop_length", 160), "causal": audio_vae.get("is_causal", True)},
            "mel": {"n_mel_channels": mel_bins},
        },
    }


def _generator_section(vocoder: dict, prefix: str, where: str) -> dict:
    get = lambda key, default=None: vocoder.get(prefix + key, default)  # noqa: E731
    for key, expected in {"in_channels": 128, "out_channels": 2, "leaky_relu_negative_slope": 0.1}.items():
        _require(vocoder, prefix + key, expected, where)
    act = get("act_fn", "leaky_relu")
    if act == "leaky_relu":
        _require(vocoder, prefix + "antialias", False, where)
        kind = {"resblock": "1"}
    elif act == "snakebeta":
        _require(vocoder, prefix + "antialias", True, where)
        _require(vocoder, prefix + "antialias_ratio", 2, where)
        _require(vocoder, prefix + "antialias_kernel_size", 12, where)
        kind = {"resblock": "AMP1", "activation": "snakebeta"}
    else:
        raise DiffusersLayoutError(f"{where}/config.json: {prefix}act_fn={act!r} is not supported (expected 'leaky_relu' or 'snakebeta')")
    final = get("final_act_fn", "tanh")
    if final not in ("tanh", None):
        raise DiffusersLayoutError(f"{where}/config.json: {prefix}final_act_fn={final!r} is not supported (expected 'tanh' or None)")
    return {
        **kind,
        "stereo": True,
        "upsample_initial_channel": get("hidden_channels", 1024),
        "upsample_rates": list(get("upsample_factors", [6, 5, 2, 2, 2])),
        "upsample_kernel_sizes": list(get("upsample_kernel_sizes", [16, 15, 8, 4, 4])),
        "resblock_kernel_sizes": list(get("resnet_kernel_sizes", [3, 7, 11])),
        "resblock_dilation_sizes": [list(d) for d in get("resnet_dilations", [[1, 3, 5]] * 3)],
        "use_tanh_at_final": final == "tanh",
        "use_bias_at_final": get("final_bias", True),
    }


def vocoder_section(vocoder: dict) -> dict:
    where = "vocoder"
    main = _generator_section(vocoder, "", where)
    if "bwe_hidden_channels" not in vocoder:  # LTX2Vocoder
        return {**main, "output_sampling_rate": vocoder.get("output_sampling_rate", 24000)}
    _same(vocoder, "filter_length", "window_length", where)
    bwe = _generator_section(vocoder, "bwe_", where)
    return {
        "vocoder": main,
        "bwe": {
            **bwe,
            "input_sampling_rate": vocoder.get("input_sampling_rate", 16000),
            "output_sampling_rate": vocoder.get("output_sampling_rate", 48000),
            "n_fft": vocoder.get("filter_length", 512),
            "hop_length": vocoder.get("hop_length", 80),
            "num_mels": vocoder.get("num_mel_channels", 64),
        },
    }


SECTIONS = {
    "transformer": lambda root: transformer_section(read_component_config(root, "transformer"), read_component_config(root, "connectors")),
    "vae": lambda root: vae_plan(read_component_config(root, "vae"))[0],
    "audio_vae": lambda root: audio_vae_section(read_component_config(root, "audio_vae")),
    "vocoder": lambda root: vocoder_section(read_component_config(root, "vocoder")),
}
# The metadata section each component's builder reads.
COMPONENT_SECTION = {
    "transformer": "transformer",
    "embeddings_processor": "transformer",
    "video_encoder": "vae",
    "video_decoder": "vae",
    "audio_decoder": "audio_vae",
    "audio_encoder": "audio_vae",
    "vocoder": "vocoder",
}


def diffusers_metadata_config(root: str | Path, sections: tuple[str, ...] = tuple(SECTIONS)) -> dict:
    """The official metadata config (sections transformer, vae, audio_vae, vocoder) of a diffusers-layout model."""
    return {section: SECTIONS[section](Path(root)) for section in sections}


def text_dims(root: str | Path) -> SimpleNamespace:
    """Gemma width / depth as the connectors were built for (caption_channels, text_proj_in_factor = layers + 1)."""
    connectors = read_component_config(Path(root), "connectors")
    return SimpleNamespace(
        hidden_size=connectors.get("caption_channels", 3840), num_hidden_layers=connectors.get("text_proj_in_factor", 49) - 1
    )


# ------------------------------------------------------------------------------------------------ key names

KeyRename = Callable[[str], str]

# Official (ltx-core) -> diffusers, applied in order as str.replace (as the conversion script does).
TRANSFORMER_RENAMES = (
    ("patchify_proj", "proj_in"),  # also audio_patchify_proj -> audio_proj_in
    ("av_ca_video_scale_shift_adaln_single", "av_cross_attn_video_scale_shift"),
    ("av_ca_a2v_gate_adaln_single", "av_cross_attn_video_a2v_gate"),
    ("av_ca_audio_scale_shift_adaln_single", "av_cross_attn_audio_scale_shift"),
    ("av_ca_v2a_gate_adaln_single", "av_cross_attn_audio_v2a_gate"),
    ("scale_shift_table_a2v_ca_video", "video_a2v_cross_attn_scale_shift_table"),
    ("scale_shift_table_a2v_ca_audio", "audio_a2v_cross_attn_scale_shift_table"),
    ("q_norm", "norm_q"),
    ("k_norm", "norm_k"),
    ("audio_prompt_adaln_single", "audio_prompt_adaln"),
    ("prompt_adaln_single", "prompt_adaln"),
)
TRANSFORMER_PREFIXES = (("adaln_single.", "time_embed."), ("audio_adaln_single.", "audio_time_embed."))

CONNECTOR_PREFIXES = (
    ("feature_extractor.aggregate_embed.", "text_proj_in."),
    ("feature_extractor.video_aggregate_embed.", "video_text_proj_in."),
    ("feature_extractor.audio_aggregate_embed.", "audio_text_proj_in."),
)
CONNECTOR_RENAMES = (("transformer_1d_blocks", "transformer_blocks"), ("q_norm", "norm_q"), ("k_norm", "norm_k"))

VOCODER_RENAMES = (
    ("resblocks", "resnets"),
    ("conv_pre", "conv_in"),
    ("conv_post", "conv_out"),
    ("act_post", "act_out"),
    ("downsample.lowpass", "downsample"),
)

LATENT_STATISTICS = {"per_channel_statistics.mean-of-means": "latents_mean", "per_channel_statistics.std-of-means": "latents_std"}


def _replace_all(key: str, renames) -> str:
    for old, new in renames:
        key = key.replace(old, new)
    return key


def _swap_prefix(key: str, prefixes) -> str:
    for old, new in prefixes:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def transformer_diffusers_key(key: str) -> str:
    return _swap_prefix(_replace_all(key, TRANSFORMER_RENAMES), TRANSFORMER_PREFIXES)


def connectors_diffusers_key(key: str) -> str:
    return _replace_all(_swap_prefix(key, CONNECTOR_PREFIXES), CONNECTOR_RENAMES)


def vocoder_diffusers_key(key: str) -> str:
    key = "upsamplers." + key[len("ups."):] if key.startswith("ups.") else key.replace(".ups.", ".upsamplers.")
    return _replace_all(key, VOCODER_RENAMES)


def audio_decoder_diffusers_key(key: str) -> str:
    return LATENT_STATISTICS.get(key) or "decoder." + key


def audio_encoder_diffusers_key(key: str) -> str:
    return LATENT_STATISTICS.get(key) or "encoder." + key


def _vae_key(half: str, blocks: dict[int, str]) -> KeyRename:
    """ltx-core VideoEncoder / VideoDecoder key -> AutoencoderKLLTX2Video key."""
    top = {"last_time_embedder.": "time_embedder.", "last_scale_shift_table": "scale_shift_table"}
    collection = "down_blocks." if half == "encoder" else "up_blocks."

    def rename(key: str) -> str:
        if key in LATENT_STATISTICS:
            return LATENT_STATISTICS[key]
        if key.startswith(collection):
            index, rest = key[len(collection):].split(".", 1)
            key = f"{blocks[int(index)]}.{rest}".replace("res_blocks.", "resnets.")
        else:
            key = _swap_prefix(key, top.items())
        return f"{half}.{key}"

    return rename


# ------------------------------------------------------------------------------------------------- loading


def _default_builder(name: str, root: Path) -> Builder:
    if name == "embeddings_processor":
        from ltx_backend.models.text_encoder import build_embeddings_processor

        dims = text_dims(root)
        return lambda config: build_embeddings_processor(config, dims)
    from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS

    return CHECKPOINT_PARTS[name].build


def component_key_map(root: Path, name: str) -> tuple[KeyRename, Callable[[str], bool]]:
    """Module key -> diffusers key, and which keys of the subfolder's files belong to this component."""
    everything = lambda key: True  # noqa: E731
    if name == "transformer":
        return transformer_diffusers_key, everything
    if name == "embeddings_processor":
        return connectors_diffusers_key, everything
    if name == "vocoder":
        return vocoder_diffusers_key, everything
    stats = set(LATENT_STATISTICS.values())
    if name == "audio_decoder":
        return audio_decoder_diffusers_key, lambda key: key.startswith("decoder.") or key in stats
    if name == "audio_encoder":
        return audio_encoder_diffusers_key, lambda key: key.startswith("encoder.") or key in stats
    _, encoder_blocks, decoder_blocks = vae_plan(read_component_config(root, "vae"))
    half, blocks = ("encoder", encoder_blocks) if name == "video_encoder" else ("decoder", decoder_blocks)
    return _vae_key(half, blocks), lambda key: key.startswith(half + ".") or key in stats


def weight_files(root: Path, subfolder: str) -> list[Path]:
    files = sorted((Path(root) / subfolder).glob("*.safetensors"))
    if not files:
        raise DiffusersLayoutError(f"diffusers layout at {root}: no *.safetensors in {subfolder}/")
    return files


def load_diffusers_component(
    root: str | Path, name: str, device: torch.device | str, dtype: torch.dtype, build: Builder | None = None,
    storage: WeightStorage | None = None,
) -> torch.nn.Module:
    """Build `name` (transformer, video_encoder, video_decoder, audio_encoder, audio_decoder, vocoder, embeddings_processor)
    from the diffusers-layout model at `root`, weights read straight onto `device` / `dtype`; strict.

    `build` replaces our builder for `name` (it takes the official metadata config).
    """
    root = Path(root)
    if name not in SUBFOLDERS:
        raise ValueError(f"unknown component {name!r} (expected one of {', '.join(SUBFOLDERS)})")
    device = torch.device(device)
    config = diffusers_metadata_config(root, (COMPONENT_SECTION[name],))
    build = build or _default_builder(name, root)
    rename, claims = component_key_map(root, name)
    with torch.device("meta"):
        module_keys = list(build(config).state_dict().keys())
    to_module: dict[str, str] = {}
    for module_key in module_keys:
        diffusers_key = rename(module_key)
        if diffusers_key in to_module:
            raise DiffusersLayoutError(f"{name}: {module_key} and {to_module[diffusers_key]} both map to {diffusers_key}")
        to_module[diffusers_key] = module_key

    def key_map(diffusers_key: str) -> str | None:
        if not claims(diffusers_key):
            return None
        return to_module.get(diffusers_key, f"<unmapped diffusers key> {diffusers_key}")

    return load_module(weight_files(root, SUBFOLDERS[name]), build, config, key_map, device, dtype, name, storage)
