"""Latent -> waveform: the audio decoder, then the vocoder."""
from __future__ import annotations

import torch

from .decoder import AudioDecoder
from .vocoder import Vocoder, VocoderWithBWE


def decode_audio(
    latent: torch.Tensor, decoder: AudioDecoder, vocoder: Vocoder | VocoderWithBWE
) -> tuple[torch.Tensor, int]:
    """latent [1, 8, T, 16] -> (waveform float32 [2, samples], sampling rate in Hz)."""
    waveform = vocoder(decoder(latent)).squeeze(0).float()
    return waveform, vocoder.output_sampling_rate
