"""Audio VAE decoder (latent -> log-mel) and vocoders (log-mel -> waveform, LTX-2.3 with bandwidth extension)."""
from .config import (
    AudioGeometry,
    audio_decoder_key,
    audio_geometry,
    audio_sample_rate,
    build_audio_decoder,
    build_vocoder,
    decoded_audio_samples,
    published_audio_vae_config,
    published_vocoder_config,
    vocoder_key,
)
from .decode import decode_audio
from .decoder import LATENT_DOWNSAMPLE_FACTOR, AudioDecoder
from .vocoder import MelSTFT, Vocoder, VocoderWithBWE

__all__ = [
    "LATENT_DOWNSAMPLE_FACTOR",
    "AudioDecoder",
    "AudioGeometry",
    "MelSTFT",
    "Vocoder",
    "VocoderWithBWE",
    "audio_decoder_key",
    "audio_geometry",
    "audio_sample_rate",
    "build_audio_decoder",
    "build_vocoder",
    "decode_audio",
    "decoded_audio_samples",
    "published_audio_vae_config",
    "published_vocoder_config",
    "vocoder_key",
]
