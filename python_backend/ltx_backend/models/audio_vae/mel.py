"""Waveform -> log-mel spectrogram, the audio encoder's input (ltx-core's AudioProcessor).

torchaudio's definitions, written in torch (torchaudio has no build for the torch we run): `resample` is
`torchaudio.functional.resample` (Hann-windowed sinc, 6 zero crossings, roll-off 0.99), `mel_filterbank`
is `melscale_fbanks` with the Slaney mel scale and area normalisation, and `log_mel_spectrogram` is
`MelSpectrogram(center=True, pad_mode="reflect", power=1.0)` followed by log(max(mel, 1e-5)).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AudioGeometry

LOG_FLOOR = 1e-5

# The Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
_HZ_PER_MEL = 200.0 / 3
_LOG_START_HZ = 1000.0
_LOG_START_MEL = _LOG_START_HZ / _HZ_PER_MEL
_LOGSTEP = math.log(6.4) / 27.0  # natural-log step per mel above 1 kHz


def hz_to_mel(hz: float) -> float:
    if hz < _LOG_START_HZ:
        return hz / _HZ_PER_MEL
    return _LOG_START_MEL + math.log(hz / _LOG_START_HZ) / _LOGSTEP


def mel_to_hz(mels: torch.Tensor) -> torch.Tensor:
    linear = mels * _HZ_PER_MEL
    logarithmic = _LOG_START_HZ * torch.exp(_LOGSTEP * (mels - _LOG_START_MEL))
    return torch.where(mels >= _LOG_START_MEL, logarithmic, linear)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float, f_max: float) -> torch.Tensor:
    """Triangular filters [n_freqs, n_mels], evenly spaced in Slaney mels, each divided by its width in Hz / 2."""
    freqs = torch.linspace(0, sample_rate // 2, n_freqs)  # the STFT bins
    edges = mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))  # [n_mels + 2] Hz
    widths = edges[1:] - edges[:-1]
    slopes = edges.unsqueeze(0) - freqs.unsqueeze(1)  # [n_freqs, n_mels + 2]
    rising = -slopes[:, :-2] / widths[:-1]
    falling = slopes[:, 2:] / widths[1:]
    filters = torch.clamp(torch.minimum(rising, falling), min=0.0)
    return filters * (2.0 / (edges[2:] - edges[:-2])).unsqueeze(0)


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int, lowpass_filter_width: int = 6,
              rolloff: float = 0.99) -> torch.Tensor:
    """[..., S] at orig_rate -> [..., ceil(S * new_rate / orig_rate)] at new_rate: polyphase windowed-sinc
    interpolation, low-passed at rolloff x the lower Nyquist (so downsampling does not alias)."""
    if orig_rate == new_rate:
        return waveform
    gcd = math.gcd(orig_rate, new_rate)
    orig, new = orig_rate // gcd, new_rate // gcd
    cutoff = min(orig, new) * rolloff  # in cycles per `orig` input samples
    width = math.ceil(lowpass_filter_width * orig / cutoff)  # input samples of context per side
    dtype = waveform.dtype
    # One filter per output phase j (time of output j relative to input samples, in input-sample units):
    positions = torch.arange(-width, width + orig, dtype=dtype)[None, None] / orig
    t = (torch.arange(0, -new, -1, dtype=dtype)[:, None, None] / new + positions) * cutoff  # [new, 1, K]
    t = t.clamp(-lowpass_filter_width, lowpass_filter_width)
    window = torch.cos(t * math.pi / lowpass_filter_width / 2) ** 2
    t = t * math.pi
    kernels = torch.where(t == 0, torch.ones((), dtype=dtype), t.sin() / t) * (window * (cutoff / orig))

    shape = waveform.shape
    x = F.pad(waveform.reshape(-1, shape[-1]), (width, width + orig))
    y = F.conv1d(x[:, None], kernels.to(waveform.device), stride=orig)  # [N, new phases, S / orig]
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    length = math.ceil(new * shape[-1] / orig)
    return y[:, :length].reshape(*shape[:-1], -1)


def log_mel_spectrogram(waveform: torch.Tensor, sample_rate: int, geometry: AudioGeometry) -> torch.Tensor:
    """waveform [B, C, S] in [-1, 1] at sample_rate -> log-mel [B, C, S' // hop + 1, mel_bins] at the encoder's
    rate (S': the sample count after resampling)."""
    waveform = resample(waveform, sample_rate, geometry.sample_rate)
    b, c, s = waveform.shape
    n_fft = geometry.n_fft
    window = torch.hann_window(n_fft, dtype=waveform.dtype, device=waveform.device)
    spectrum = torch.stft(
        waveform.reshape(b * c, s), n_fft, geometry.hop_length, n_fft, window, center=True, pad_mode="reflect",
        return_complex=True,
    ).abs()  # [B*C, n_fft/2 + 1, frames]
    filters = mel_filterbank(n_fft // 2 + 1, geometry.mel_bins, geometry.sample_rate, 0.0, geometry.sample_rate / 2.0)
    mel = torch.matmul(spectrum.transpose(-1, -2), filters.to(spectrum))  # [B*C, frames, mel_bins]
    return torch.log(mel.clamp(min=LOG_FLOOR)).reshape(b, c, *mel.shape[-2:])
