"""Windowed-sinc resampling of [B, C, T] waveforms / feature maps (per channel).

* Kaiser-windowed sinc 2x up / down filters of the BigVGAN v2 anti-aliased activations; their taps are
  persistent buffers in the checkpoint (`upsample.filter`, `downsample.lowpass.filter`).
* The Hann-windowed sinc integer upsampler of the bandwidth extension (torchaudio-style resampling); it is
  not stored in the checkpoint, so its taps are computed on the fly.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel_size: int) -> torch.Tensor:
    """Low-pass FIR taps [1, 1, K]: Kaiser window (Kaiser's beta formula for the transition width) x sinc,
    normalised to unit DC gain. Frequencies are in cycles per sample."""
    half = kernel_size // 2
    attenuation = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    if attenuation > 50.0:
        beta = 0.1102 * (attenuation - 8.7)
    elif attenuation >= 21.0:
        beta = 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21.0)
    else:
        beta = 0.0
    window = torch.kaiser_window(kernel_size, periodic=False, beta=beta)
    if kernel_size % 2 == 0:
        t = torch.arange(-half, half) + 0.5
    else:
        t = torch.arange(kernel_size) - half
    taps = 2 * cutoff * window * torch.sinc(2 * cutoff * t)
    return (taps / taps.sum()).view(1, 1, kernel_size)


def depthwise(taps: torch.Tensor, channels: int, like: torch.Tensor) -> torch.Tensor:
    """[1, 1, K] taps -> [C, 1, K] weight for a grouped (per-channel) convolution."""
    return taps.to(dtype=like.dtype, device=like.device).expand(channels, -1, -1)


class KaiserUpSample1d(nn.Module):
    """2x upsampling: replicate-pad, zero-stuff + low-pass (transposed conv), trim to exactly 2T samples."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.ratio = ratio
        self.pad = kernel_size // ratio - 1  # input samples of context per side
        self.trim_left = self.pad * ratio + (kernel_size - ratio) // 2
        self.trim_right = self.pad * ratio + (kernel_size - ratio + 1) // 2
        self.register_buffer("filter", kaiser_sinc_filter(0.5 / ratio, 0.6 / ratio, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        weight = depthwise(self.filter, x.shape[1], x)
        x = self.ratio * F.conv_transpose1d(x, weight, stride=self.ratio, groups=x.shape[1])
        return x[..., self.trim_left : -self.trim_right]


class LowPassFilter1d(nn.Module):
    """Replicate-padded low-pass FIR with a stride (decimation)."""

    def __init__(self, cutoff: float, half_width: float, stride: int, kernel_size: int) -> None:
        super().__init__()
        self.stride = stride
        self.pad_left = kernel_size // 2 - int(kernel_size % 2 == 0)
        self.pad_right = kernel_size // 2
        self.register_buffer("filter", kaiser_sinc_filter(cutoff, half_width, kernel_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad_left, self.pad_right), mode="replicate")
        return F.conv1d(x, depthwise(self.filter, x.shape[1], x), stride=self.stride, groups=x.shape[1])


class KaiserDownSample1d(nn.Module):
    """2x downsampling: low-pass at the new Nyquist, keep every second sample."""

    def __init__(self, ratio: int = 2, kernel_size: int = 12) -> None:
        super().__init__()
        self.lowpass = LowPassFilter1d(0.5 / ratio, 0.6 / ratio, stride=ratio, kernel_size=kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lowpass(x)


def hann_sinc_filter(ratio: int, lowpass_filter_width: int = 6, rolloff: float = 0.99) -> torch.Tensor:
    """Interpolation taps [1, 1, 2 * width * ratio + 1] for upsampling by `ratio`: a sinc with cutoff
    `rolloff` x the input Nyquist, under a Hann window spanning `lowpass_filter_width` zero crossings per side."""
    width = math.ceil(lowpass_filter_width / rolloff)  # input samples per side
    t = (torch.arange(2 * width * ratio + 1) / ratio - width) * rolloff  # in input samples, scaled by rolloff
    window = torch.cos(t.clamp(-lowpass_filter_width, lowpass_filter_width) * math.pi / lowpass_filter_width / 2) ** 2
    return (torch.sinc(t) * window * rolloff / ratio).view(1, 1, -1)


class HannSincUpsampler(nn.Module):
    """Integer-ratio upsampling [B, C, T] -> [B, C, ratio * T] with Hann-windowed sinc interpolation."""

    lowpass_filter_width = 6
    rolloff = 0.99

    def __init__(self, ratio: int) -> None:
        super().__init__()
        self.ratio = ratio

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = hann_sinc_filter(self.ratio, self.lowpass_filter_width, self.rolloff)
        kernel_size = taps.shape[-1]
        pad = math.ceil(self.lowpass_filter_width / self.rolloff)
        x = F.pad(x, (pad, pad), mode="replicate")
        x = self.ratio * F.conv_transpose1d(x, depthwise(taps, x.shape[1], x), stride=self.ratio, groups=x.shape[1])
        # Trim the padded context: (T + 2 pad - 1) * ratio + K samples -> T * ratio.
        return x[..., 2 * pad * self.ratio : -(kernel_size - self.ratio)]
