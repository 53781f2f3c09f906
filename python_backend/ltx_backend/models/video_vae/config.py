"""Video VAE from the checkpoint's "vae" config section, its checkpoint keys, and the tiny test configs."""
from __future__ import annotations

from .model import VideoDecoder, VideoEncoder

NORMS = ("pixel_norm", "group_norm")
LOG_VARS = ("per_channel", "uniform", "constant", "none")
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _choice(section: dict, key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = section.get(key, default)
    if value not in allowed:
        raise ValueError(f"invalid vae.{key}={value!r}: one of {', '.join(allowed)}")
    return value


def _check_dims(section: dict) -> None:
    if section.get("dims", 3) != 3:
        raise ValueError(f"invalid vae.dims={section.get('dims')!r}: only 3-D convolutions (3) are supported")


def build_video_encoder(config: dict) -> VideoEncoder:
    """As ltx-core's VideoEncoderConfigurator: the "vae" section with its defaults."""
    vae = config.get("vae", {})
    _check_dims(vae)
    return VideoEncoder(
        blocks=vae.get("encoder_blocks", []),
        latent_channels=vae.get("latent_channels", 128),
        in_channels=vae.get("in_channels", 3),
        patch_size=vae.get("patch_size", 4),
        norm=_choice(vae, "norm_layer", "pixel_norm", NORMS),
        latent_log_var=_choice(vae, "latent_log_var", "uniform", LOG_VARS),
        padding_mode=_choice(vae, "spatial_padding_mode", "zeros", PADDING_MODES),
    )


def build_video_decoder(config: dict) -> VideoDecoder:
    """As ltx-core's VideoDecoderConfigurator: the "vae" section with its defaults."""
    vae = config.get("vae", {})
    _check_dims(vae)
    return VideoDecoder(
        blocks=vae.get("decoder_blocks", []),
        latent_channels=vae.get("latent_channels", 128),
        out_channels=vae.get("out_channels", 3),
        patch_size=vae.get("patch_size", 4),
        norm=_choice(vae, "norm_layer", "pixel_norm", NORMS),
        causal=vae.get("causal_decoder", False),
        timestep_conditioning=vae.get("timestep_conditioning", True),
        padding_mode=_choice(vae, "spatial_padding_mode", "reflect", PADDING_MODES),
        base_channels=vae.get("decoder_base_channels", 128),
    )


_STATISTICS = "vae.per_channel_statistics."


def _vae_key(half: str, key: str) -> str | None:
    if key.startswith(half):
        return key[len(half) :]
    if key.startswith(_STATISTICS):
        return "per_channel_statistics." + key[len(_STATISTICS) :]
    return None


def video_encoder_key(checkpoint_key: str) -> str | None:
    return _vae_key("vae.encoder.", checkpoint_key)


def video_decoder_key(checkpoint_key: str) -> str | None:
    return _vae_key("vae.decoder.", checkpoint_key)


def _blocks(*entries: tuple[str, dict]) -> list:
    return [[name, dict(params)] for name, params in entries]


def published_vae_config(version: str) -> dict:
    """The "vae" section of the published checkpoints (LTX-2 19B, LTX-2.3 22B); for tests at full size."""
    if version == "2":
        return {
            "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "patch_size": 4,
            "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
            "timestep_conditioning": True, "decoder_base_channels": 128,  # padding: encoder zeros, decoder reflect (defaults)
            "encoder_blocks": _blocks(
                ("res_x", {"num_layers": 4}), ("compress_space_res", {"multiplier": 2}), ("res_x", {"num_layers": 6}),
                ("compress_time_res", {"multiplier": 2}), ("res_x", {"num_layers": 6}), ("compress_all_res", {"multiplier": 2}),
                ("res_x", {"num_layers": 2}), ("compress_all_res", {"multiplier": 2}), ("res_x", {"num_layers": 2}),
            ),
            "decoder_blocks": _blocks(
                ("res_x", {"num_layers": 5, "inject_noise": False}), ("compress_all", {"residual": True, "multiplier": 2}),
                ("res_x", {"num_layers": 5, "inject_noise": False}), ("compress_all", {"residual": True, "multiplier": 2}),
                ("res_x", {"num_layers": 5, "inject_noise": False}), ("compress_all", {"residual": True, "multiplier": 2}),
                ("res_x", {"num_layers": 5, "inject_noise": False}),
            ),
        }
    return {
        "dims": 3, "in_channels": 3, "out_channels": 3, "latent_channels": 128, "patch_size": 4,
        "norm_layer": "pixel_norm", "latent_log_var": "uniform", "causal_decoder": False,
        "timestep_conditioning": False, "decoder_base_channels": 128, "spatial_padding_mode": "zeros",
        "encoder_blocks": _blocks(
            ("res_x", {"num_layers": 4}), ("compress_space_res", {"multiplier": 2}), ("res_x", {"num_layers": 6}),
            ("compress_time_res", {"multiplier": 2}), ("res_x", {"num_layers": 4}), ("compress_all_res", {"multiplier": 2}),
            ("res_x", {"num_layers": 2}), ("compress_all_res", {"multiplier": 1}), ("res_x", {"num_layers": 2}),
        ),
        "decoder_blocks": _blocks(
            ("res_x", {"num_layers": 4}), ("compress_space", {"multiplier": 2}), ("res_x", {"num_layers": 6}),
            ("compress_time", {"multiplier": 2}), ("res_x", {"num_layers": 4}), ("compress_all", {"multiplier": 1}),
            ("res_x", {"num_layers": 2}), ("compress_all", {"multiplier": 2}), ("res_x", {"num_layers": 2}),
        ),
    }


