"""Audio VAE encoder: log-mel spectrogram [B, 2, T, mel_bins] -> normalised latents [B, 8, T', mel_bins / 4].

The audio-to-video pipeline encodes its input soundtrack with it (the mel spectrogram: mel.py). Only the
posterior's means are kept, normalised with the same per-channel statistics the decoder un-normalises with.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .decoder import MidBlock, PerChannelStatistics
from .layers import CausalConv2d, CausalityAxis, Downsample, NormType, ResolutionStage, make_norm

if TYPE_CHECKING:
    from .config import AudioGeometry


class AudioEncoder(nn.Module):
    """Mel spectrogram -> latent. `down[level]` runs finest level first; every level but the last halves both axes."""

    def __init__(
        self,
        *,
        ch: int,
        in_channels: int,
        ch_mult: tuple[int, ...],
        num_res_blocks: int,
        attn_resolutions: set[int],
        resolution: int,
        z_channels: int,
        double_z: bool,
        norm_type: NormType,
        causality_axis: CausalityAxis,
        mid_block_add_attention: bool,
        geometry: AudioGeometry,
    ) -> None:
        super().__init__()
        self.geometry = geometry  # the mel spectrogram it takes: sample rate, hop, n_fft, mel bins
        self.in_channels = in_channels
        self.per_channel_statistics = PerChannelStatistics(ch)  # packed (channels x mel bins) features, as the decoder's
        self.conv_in = CausalConv2d(in_channels, ch, 3, causality_axis)

        stages = []
        width, res = ch, resolution
        for level, mult in enumerate(ch_mult):
            last = level == len(ch_mult) - 1
            resample = None if last else ("downsample", Downsample(ch * mult, causality_axis))
            stages.append(ResolutionStage(width, ch * mult, num_res_blocks, res in attn_resolutions, norm_type, causality_axis, resample))
            width = ch * mult
            res = res if last else res // 2
        self.down = nn.ModuleList(stages)

        self.mid = MidBlock(width, norm_type, causality_axis, mid_block_add_attention)
        self.norm_out = make_norm(width, norm_type)
        self.conv_out = CausalConv2d(width, 2 * z_channels if double_z else z_channels, 3, causality_axis)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel: [B, in_channels, T, mel_bins] log-mel -> normalised posterior means [B, z_channels, T', F']."""
        h = self.conv_in(mel)
        for stage in self.down:
            h = stage(h)
        h = self.conv_out(F.silu(self.norm_out(self.mid(h))))
        means = torch.chunk(h, 2, dim=1)[0]  # with double_z the second half is the log-variance; else one chunk
        b, c, t, f = means.shape
        packed = means.permute(0, 2, 1, 3).reshape(b, t, c * f)  # [B, T', C*F']
        normalised = self.per_channel_statistics.normalize(packed)
        return normalised.reshape(b, t, c, f).permute(0, 2, 1, 3)


def encode_audio(waveform: torch.Tensor, sample_rate: int, encoder: AudioEncoder) -> torch.Tensor:
    """waveform [B, 2, S] float32 at sample_rate -> normalised latents [B, 8, T, 16] (ltx-core's encode_audio: the
    log-mel spectrogram in float32, the encoder in its own dtype)."""
    from .mel import log_mel_spectrogram

    parameter = next(encoder.parameters())
    mel = log_mel_spectrogram(waveform.to(parameter.device, torch.float32), sample_rate, encoder.geometry)
    return encoder(mel.to(parameter.dtype))
