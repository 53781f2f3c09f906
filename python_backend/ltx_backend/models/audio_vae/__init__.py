"""Audio VAE encoder (log-mel -> latent) and decoder (latent -> log-mel), vocoders (log-mel -> waveform, LTX-2.3 with
bandwidth extension), and the encoder's mel spectrogram of a waveform."""
from .config import (
    AudioGeometry,
    audio_decoder_key,
    audio_encoder_key,
    audio_geometry,
    audio_sample_rate,
    build_audio_decoder,
    build_audio_encoder,
    build_vocoder,
    decoded_audio_samples,
    published_audio_vae_config,
    published_vocoder_config,
    vocoder_key,
)
from .decode import decode_audio
from .decoder import LATENT_DOWNSAMPLE_FACTOR, AudioDecoder
from .encoder import AudioEncoder, encode_audio
from .mel import log_mel_spectrogram
from .vocoder import MelSTFT, Vocoder, VocoderWithBWE

__all__ = [
    "LATENT_DOWNSAMPLE_FACTOR",
    "AudioDecoder",
    "AudioEncoder",
    "AudioGeometry",
    "MelSTFT",
    "Vocoder",
    "VocoderWithBWE",
    "audio_decoder_key",
    "audio_encoder_key",
    "audio_geometry",
    "audio_sample_rate",
    "build_audio_decoder",
    "build_audio_encoder",
    "build_vocoder",
    "decode_audio",
    "decoded_audio_samples",
    "encode_audio",
    "log_mel_spectrogram",
    "published_audio_vae_config",
    "published_vocoder_config",
    "vocoder_key",
]
