"""Builders for the audio encoder, decoder and vocoder from the checkpoint's metadata config, and checkpoint key maps.

Mirrors ltx-core's AudioEncoderConfigurator / AudioDecoderConfigurator / VocoderConfigurator (same config keys,
defaults and checks) and AUDIO_VAE_ENCODER_/DECODER_COMFY_KEYS_FILTER / VOCODER_COMFY_KEYS_FILTER.
"""
from __future__ import annotations

import copy
import math
from enum import Enum
from typing import NamedTuple, TypeVar

from .decoder import LATENT_DOWNSAMPLE_FACTOR, AudioDecoder
from .encoder import AudioEncoder
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


def _mel_bins(audio_vae: dict) -> int | None:
    """Mel bins of the spectrogram: ddconfig, else preprocessing.mel, else variables (None: keep the latent's)."""
    return (
        audio_vae.get("model", {}).get("params", {}).get("ddconfig", {}).get("mel_bins")
        or audio_vae.get("preprocessing", {}).get("mel", {}).get("n_mel_channels")
        or audio_vae.get("variables", {}).get("mel_bins")
    )


def _ddconfig(config: dict) -> dict:
    return config.get("audio_vae", {}).get("model", {}).get("params", {}).get("ddconfig", {})


def _levels(ddconfig: dict) -> dict:
    """The arguments the encoder and the decoder share, with the reference configurators' defaults."""
    return dict(
        ch=ddconfig.get("ch", 128),
        ch_mult=tuple(ddconfig.get("ch_mult", (1, 2, 4))),
        num_res_blocks=ddconfig.get("num_res_blocks", 2),
        attn_resolutions=set(ddconfig.get("attn_resolutions", {8, 16, 32})),
        resolution=ddconfig.get("resolution", 256),
        z_channels=ddconfig.get("z_channels", 8),
        norm_type=_enum(NormType, ddconfig.get("norm_type", "pixel"), "norm_type"),
        causality_axis=_enum(CausalityAxis, ddconfig.get("causality_axis", "height"), "causality_axis"),
        mid_block_add_attention=ddconfig.get("mid_block_add_attention", True),
    )


def build_audio_decoder(config: dict) -> AudioDecoder:
    ddconfig = _ddconfig(config)
    return AudioDecoder(**_levels(ddconfig), out_ch=ddconfig.get("out_ch", 2), mel_bins=_mel_bins(config.get("audio_vae", {})))


def build_audio_encoder(config: dict) -> AudioEncoder:
    ddconfig = _ddconfig(config)
    if not ddconfig.get("resamp_with_conv", True):
        raise ValueError("audio_vae.model.params.ddconfig.resamp_with_conv is False, expected True (strided-conv downsampling)")
    return AudioEncoder(**_levels(ddconfig), in_channels=ddconfig.get("in_channels", 2), double_z=ddconfig.get("double_z", True),
                        geometry=audio_geometry(config))


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


def audio_encoder_key(checkpoint_key: str) -> str | None:
    """Checkpoint key -> AudioEncoder state_dict key (None: not the encoder's)."""
    if not checkpoint_key.startswith(("audio_vae.encoder.", "audio_vae.per_channel_statistics.")):
        return None
    key = checkpoint_key.replace("audio_vae.encoder.", "")
    return key.replace("audio_vae.per_channel_statistics.", "per_channel_statistics.")


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


# Output rate and latent geometry, read from the metadata config.


def audio_sample_rate(config: dict) -> int:
    """Sampling rate (Hz) of the waveform `decode_audio` returns: the vocoder's, or its BWE's for LTX-2.3."""
    vocoder = config.get("vocoder", {})
    if "bwe" in vocoder:
        return vocoder["bwe"]["output_sampling_rate"]
    return vocoder.get("output_sampling_rate", 24000)


class AudioGeometry(NamedTuple):
    """The audio latent layout implied by the "audio_vae" section (LTX-2 / 2.3: 16 kHz, hop 160, 8 x 16 latents)."""

    sample_rate: int  # rate of the mel spectrogram's waveform (Hz)
    hop_length: int  # waveform samples per mel frame
    n_fft: int  # STFT size (and Hann window length) of the encoder's mel spectrogram
    mel_bins: int  # mel bins of the decoded spectrogram
    latent_channels: int
    latent_mel_bins: int  # mel_bins halved once per decoder upsampling level

    @property
    def mel_frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def latents_per_second(self) -> float:
        return self.mel_frames_per_second / LATENT_DOWNSAMPLE_FACTOR

    @property
    def latent_features(self) -> int:
        """Width of one packed latent frame (channels x latent mel bins) = transformer audio in_channels."""
        return self.latent_channels * self.latent_mel_bins


def audio_geometry(config: dict) -> AudioGeometry:
    """Read with the builders' defaults; without any mel_bins setting the published 64."""
    audio_vae = config.get("audio_vae", {})
    params = audio_vae.get("model", {}).get("params", {})
    ddconfig = params.get("ddconfig", {})
    mel_bins = _mel_bins(audio_vae) or 64
    return AudioGeometry(
        sample_rate=params.get("sampling_rate", 16000),
        hop_length=audio_vae.get("preprocessing", {}).get("stft", {}).get("hop_length", 160),
        n_fft=audio_vae.get("preprocessing", {}).get("stft", {}).get("filter_length", 1024),
        mel_bins=mel_bins,
        latent_channels=ddconfig.get("z_channels", 8),
        latent_mel_bins=mel_bins // 2 ** (len(ddconfig.get("ch_mult", (1, 2, 4))) - 1),
    )


def decoded_audio_samples(config: dict, latent_frames: int) -> int:
    """Waveform samples per channel `decode_audio` returns for `latent_frames` latents: 4T mel frames (4T - 3
    when causal), each becoming prod(upsample_rates) samples, x output / input rate with the BWE."""
    ddconfig = _ddconfig(config)
    mel_frames = latent_frames * LATENT_DOWNSAMPLE_FACTOR
    if ddconfig.get("causality_axis", "height") is not None:
        mel_frames = max(mel_frames - (LATENT_DOWNSAMPLE_FACTOR - 1), 1)
    vocoder = config.get("vocoder", {})
    if "bwe" not in vocoder:
        return mel_frames * math.prod(vocoder.get("upsample_rates", [6, 5, 2, 2, 2]))
    bwe = vocoder["bwe"]
    low_rate = mel_frames * math.prod(vocoder.get("vocoder", {}).get("upsample_rates", [6, 5, 2, 2, 2]))
    return low_rate * bwe["output_sampling_rate"] // bwe["input_sampling_rate"]


# Published metadata sections and tiny ones derived from them. The tiny configs keep every rate, mel setting,
# hop length, kernel size and the number of levels (so 25 latents/s and the published output rates hold);
# only channel widths and the number of decoder ResNet blocks shrink.

_PUBLISHED_AUDIO_VAE = {
    "model": {
        "params": {
            "ddconfig": {
                "double_z": True,
                "mel_bins": 64,
                "z_channels": 8,
                "resolution": 256,
                "downsample_time": False,
                "in_channels": 2,
                "out_ch": 2,
                "ch": 128,
                "ch_mult": [1, 2, 4],
                "num_res_blocks": 2,
                "attn_resolutions": [],
                "dropout": 0.0,
                "mid_block_add_attention": False,
                "norm_type": "pixel",
                "causality_axis": "height",
            },
            "sampling_rate": 16000,
        }
    },
    "preprocessing": {
        "audio": {"sampling_rate": 16000},
        "stft": {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "causal": True},
        "mel": {"n_mel_channels": 64, "mel_fmin": 0, "mel_fmax": 8000},
    },
}

_RESBLOCKS = {"resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]]}
_BIGVGAN = {"resblock": "AMP1", "stereo": True, "use_tanh_at_final": False, "activation": "snakebeta",
            "use_bias_at_final": False, **_RESBLOCKS}  # fmt: skip

_PUBLISHED_VOCODER = {
    # HiFi-GAN, x240: 100 mel frames/s -> 24 kHz (output_sampling_rate is not in the metadata: default 24000).
    "2": {"resblock": "1", "stereo": True, "upsample_initial_channel": 1024, "upsample_rates": [6, 5, 2, 2, 2],
          "upsample_kernel_sizes": [16, 15, 8, 4, 4], **_RESBLOCKS},
    "2.3": {
        # BigVGAN v2, x160: 100 mel frames/s -> 16 kHz.
        "vocoder": {**_BIGVGAN, "upsample_initial_channel": 1536, "upsample_rates": [5, 2, 2, 2, 2, 2],
                    "upsample_kernel_sizes": [11, 4, 4, 4, 4, 4]},
        # Bandwidth extension, x240: log-mel of the 16 kHz audio at hop 80 (200 frames/s) -> 48 kHz residual.
        "bwe": {**_BIGVGAN, "upsample_initial_channel": 512, "upsample_rates": [6, 5, 2, 2, 2],
                "upsample_kernel_sizes": [12, 11, 4, 4, 4], "apply_final_activation": False,
                "input_sampling_rate": 16000, "output_sampling_rate": 48000, "hop_length": 80, "n_fft": 512,
                "win_size": 512, "num_mels": 64},
    },
}  # fmt: skip


def published_audio_vae_config(version: str) -> dict:
    """The "audio_vae" section of the released LTX-2 / LTX-2.3 checkpoints (the same for both)."""
    _check_version(version)
    return copy.deepcopy(_PUBLISHED_AUDIO_VAE)


def published_vocoder_config(version: str) -> dict:
    """The "vocoder" section of the released checkpoints: flat HiFi-GAN (2) or nested vocoder + bwe (2.3)."""
    _check_version(version)
    return copy.deepcopy(_PUBLISHED_VOCODER[version])


def _check_version(version: str) -> None:
    if version not in ("2", "2.3"):
        raise ValueError(f"version is {version!r}, expected '2' or '2.3'")
