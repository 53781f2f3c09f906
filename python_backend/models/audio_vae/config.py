"""Builders for the audio decoder and vocoder from the checkpoint's metadata config, and checkpoint key maps.

Mirrors ltx-core's AudioDecoderConfigurator / VocoderConfigurator (same config keys, defaults and checks)
and AUDIO_VAE_DECODER_COMFY_KEYS_FILTER / VOCODER_COMFY_KEYS_FILTER.
"""
from __future__ import annotations

from enum import Enum
from typing import TypeVar

from .decoder import AudioDecoder
from .layers import CausalityAxis, NormType
from .vocoder import MelSTFT, Vocoder, VocoderWithBWE

E = TypeVar("E", bound=Enum)


def _check(cfg: dict, path: str, key: str, expected: object) -> None:
    actual = cfg.get(key)
    if actual != expected:
        raise ValueError(f"{path}.{key} is {actual!r}, expected {expected!r}")


def _enum(enum: type[E], value: object, name: str) -> E:
    try:
        return enum(value)
    except ValueError:
        allowed = [member.value for member in enum]
        raise ValueError(f"audio_vae.model.params.ddconfig.{name} is {value!r}, expected one of {allowed}") from None


def build_audio_decoder(config: dict) -> AudioDecoder:
    audio_vae = config.get("audio_vae", {})
    params = audio_vae.get("model", {}).get("params", {})
    ddconfig = params.get("ddconfig", {})
    preprocessing = audio_vae.get("preprocessing", {})
    stft = preprocessing.get("stft", {})
    mel_bins = (
        ddconfig.get("mel_bins")
        or preprocessing.get("mel", {}).get("n_mel_channels")
        or audio_vae.get("variables", {}).get("mel_bins")
    )
    return AudioDecoder(
        ch=ddconfig.get("ch", 128),
        out_ch=ddconfig.get("out_ch", 2),
        ch_mult=tuple(ddconfig.get("ch_mult", (1, 2, 4))),
        num_res_blocks=ddconfig.get("num_res_blocks", 2),
        attn_resolutions=set(ddconfig.get("attn_resolutions", {8, 16, 32})),
        resolution=ddconfig.get("resolution", 256),
        z_channels=ddconfig.get("z_channels", 8),
        norm_type=_enum(NormType, ddconfig.get("norm_type", "pixel"), "norm_type"),
        causality_axis=_enum(CausalityAxis, ddconfig.get("causality_axis", "height"), "causality_axis"),
        mid_block_add_attention=ddconfig.get("mid_block_add_attention", True),
        sample_rate=params.get("sampling_rate", 16000),
        mel_hop_length=stft.get("hop_length", 160),
        is_causal=stft.get("causal", True),
        mel_bins=mel_bins,
    )


def _generator(
    cfg: dict, *, output_sampling_rate: int | None = None, apply_final_activation: bool = True
) -> Vocoder:
    return Vocoder(
        resblock=cfg.get("resblock", "1"),
        resblock_kernel_sizes=cfg.get("resblock_kernel_sizes", [3, 7, 11]),
        resblock_dilation_sizes=cfg.get("resblock_dilation_sizes", [[1, 3, 5], [1, 3, 5], [1, 3, 5]]),
        upsample_rates=cfg.get("upsample_rates", [6, 5, 2, 2, 2]),
        upsample_kernel_sizes=cfg.get("upsample_kernel_sizes", [16, 15, 8, 4, 4]),
        upsample_initial_channel=cfg.get("upsample_initial_channel", 1024),
        output_sampling_rate=(
            output_sampling_rate if output_sampling_rate is not None else cfg.get("output_sampling_rate", 24000)
        ),
        use_tanh_at_final=cfg.get("use_tanh_at_final", True),
        apply_final_activation=apply_final_activation,
        use_bias_at_final=cfg.get("use_bias_at_final", True),
    )


def build_vocoder(config: dict) -> Vocoder | VocoderWithBWE:
    """LTX-2: flat "vocoder" section -> HiFi-GAN Vocoder. LTX-2.3: nested "vocoder" + "bwe" -> VocoderWithBWE."""
    cfg = config.get("vocoder", {})
    if "bwe" not in cfg:
        _check(cfg, "vocoder", "resblock", "1")
        _check(cfg, "vocoder", "stereo", True)
        return _generator(cfg)

    vocoder_cfg, bwe_cfg = cfg.get("vocoder", {}), cfg["bwe"]
    for path, section in (("vocoder.vocoder", vocoder_cfg), ("vocoder.bwe", bwe_cfg)):
        _check(section, path, "resblock", "AMP1")
        _check(section, path, "stereo", True)
        _check(section, path, "activation", "snakebeta")
    return VocoderWithBWE(
        vocoder=_generator(vocoder_cfg, output_sampling_rate=bwe_cfg["input_sampling_rate"]),
        bwe_generator=_generator(
            bwe_cfg, output_sampling_rate=bwe_cfg["output_sampling_rate"], apply_final_activation=False
        ),
        mel_stft=MelSTFT(n_fft=bwe_cfg["n_fft"], hop_length=bwe_cfg["hop_length"], n_mels=bwe_cfg["num_mels"]),
        input_sampling_rate=bwe_cfg["input_sampling_rate"],
        output_sampling_rate=bwe_cfg["output_sampling_rate"],
        hop_length=bwe_cfg["hop_length"],
    )


def audio_decoder_key(checkpoint_key: str) -> str | None:
    """Checkpoint key -> AudioDecoder state_dict key (None: not the decoder's)."""
    if not checkpoint_key.startswith(("audio_vae.decoder.", "audio_vae.per_channel_statistics.")):
        return None
    key = checkpoint_key.replace("audio_vae.decoder.", "")
    return key.replace("audio_vae.per_channel_statistics.", "per_channel_statistics.")


def vocoder_key(checkpoint_key: str) -> str | None:
    """Checkpoint key -> vocoder state_dict key: strip one leading "vocoder." (LTX-2.3 keeps "vocoder.vocoder." ->
    "vocoder.", "vocoder.bwe_generator." -> "bwe_generator.", "vocoder.mel_stft." -> "mel_stft.")."""
    if not checkpoint_key.startswith("vocoder."):
        return None
    return checkpoint_key.removeprefix("vocoder.")


# Tiny configs: the published sample rates, mel geometry and hop lengths (16 kHz mel at hop 160 = 100 mel
# frames/s, 4 mel frames per latent = 25 latents/s); only widths and depths shrink.


def tiny_audio_vae_config(version: str) -> dict:
    """The "audio_vae" section of a tiny checkpoint (same for "2" and "2.3")."""
    _check_version(version)
    return {
        "model": {
            "params": {
                "sampling_rate": 16000,
                "ddconfig": {
                    # ch must stay 128: the per-channel statistics cover 8 latent channels x 16 latent mel bins.
                    "ch": 128,
                    "out_ch": 2,
                    "ch_mult": [1, 1, 1],
                    "num_res_blocks": 0,
                    "attn_resolutions": [8],  # resolution 32 // 4 = 8: attention at the coarsest level
                    "resolution": 32,
                    "z_channels": 8,
                    "double_z": True,
                    "in_channels": 2,
                    "norm_type": "pixel",
                    "causality_axis": "height",
                    "dropout": 0.0,
                    "mid_block_add_attention": True,
                    "mel_bins": 64,
                },
            }
        },
        "preprocessing": {
            "stft": {"filter_length": 1024, "hop_length": 160, "causal": True},
            "mel": {"n_mel_channels": 64},
        },
    }


def tiny_vocoder_config(version: str) -> dict:
    """The "vocoder" section of a tiny checkpoint: LTX-2 HiFi-GAN at 24 kHz; LTX-2.3 BigVGAN at 16 kHz + BWE to 48 kHz."""
    _check_version(version)
    if version == "2":
        return {
            "resblock": "1",
            "stereo": True,
            "resblock_kernel_sizes": [3, 7],
            "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]],
            "upsample_rates": [6, 5, 2, 2, 2],  # x240: 100 mel frames/s -> 24 kHz
            "upsample_kernel_sizes": [16, 15, 8, 4, 4],
            "upsample_initial_channel": 64,
            "output_sampling_rate": 24000,
        }
    amp = {"resblock": "AMP1", "stereo": True, "activation": "snakebeta", "use_tanh_at_final": False,
           "use_bias_at_final": False, "resblock_kernel_sizes": [3, 7],
           "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5]]}  # fmt: skip
    return {
        "vocoder": {
            **amp,
            "upsample_rates": [5, 2, 2, 2, 2, 2],  # x160: 100 mel frames/s -> 16 kHz
            "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4],
            "upsample_initial_channel": 128,
        },
        "bwe": {
            **amp,
            "upsample_rates": [6, 5, 2, 2, 2],  # x240: 200 mel frames/s (16 kHz, hop 80) -> 48 kHz
            "upsample_kernel_sizes": [12, 11, 4, 4, 4],
            "upsample_initial_channel": 64,
            "input_sampling_rate": 16000,
            "output_sampling_rate": 48000,
            "n_fft": 512,
            "hop_length": 80,
            "num_mels": 64,
        },
    }


def _check_version(version: str) -> None:
    if version not in ("2", "2.3"):
        raise ValueError(f"version is {version!r}, expected '2' or '2.3'")
