"""Audio VAE decoder: normalised latents [B, 8, T, 16] -> log-mel spectrogram [B, 2, 4T - 3, mel_bins]."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import AttnBlock, CausalConv2d, CausalityAxis, NormType, ResnetBlock, ResolutionStage, Upsample, make_norm

LATENT_DOWNSAMPLE_FACTOR = 4  # mel frames per latent frame


class PerChannelStatistics(nn.Module):
    """Dataset statistics of the packed latent features (channels x mel bins): the encoder normalises with them,
    the decoder un-normalises."""

    def __init__(self, num_features: int) -> None:
        super().__init__()
        self.register_buffer("std-of-means", torch.empty(num_features))
        self.register_buffer("mean-of-means", torch.empty(num_features))

    def un_normalize(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., num_features]."""
        return x * self.get_buffer("std-of-means").to(x) + self.get_buffer("mean-of-means").to(x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """x: [..., num_features]."""
        return (x - self.get_buffer("mean-of-means").to(x)) / self.get_buffer("std-of-means").to(x)


class MidBlock(nn.Module):
    def __init__(self, channels: int, norm_type: NormType, causality_axis: CausalityAxis, attention: bool) -> None:
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels, norm_type, causality_axis)
        self.attn_1 = AttnBlock(channels, norm_type) if attention else nn.Identity()
        self.block_2 = ResnetBlock(channels, channels, norm_type, causality_axis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block_2(self.attn_1(self.block_1(x)))


class AudioDecoder(nn.Module):
    """Latent -> mel spectrogram. `up[level]` runs coarsest level first (level = len(ch_mult) - 1 ... 0)."""

    def __init__(
        self,
        *,
        ch: int,
        out_ch: int,
        ch_mult: tuple[int, ...],
        num_res_blocks: int,
        attn_resolutions: set[int],
        resolution: int,
        z_channels: int,
        norm_type: NormType,
        causality_axis: CausalityAxis,
        mid_block_add_attention: bool,
        mel_bins: int | None,
    ) -> None:
        super().__init__()
        self.mel_bins = mel_bins
        self.out_ch = out_ch
        self.causality_axis = causality_axis

        # The statistics cover the packed latent features (z_channels x latent mel bins); the published
        # configs size them with `ch` (both are 128 there).
        self.per_channel_statistics = PerChannelStatistics(ch)

        num_levels = len(ch_mult)
        width = ch * ch_mult[-1]
        self.conv_in = CausalConv2d(z_channels, width, 3, causality_axis)
        self.mid = MidBlock(width, norm_type, causality_axis, mid_block_add_attention)

        stages: dict[int, ResolutionStage] = {}
        res = resolution // 2 ** (num_levels - 1)
        for level in reversed(range(num_levels)):
            out_width = ch * ch_mult[level]
            resample = ("upsample", Upsample(out_width, causality_axis)) if level != 0 else None
            stages[level] = ResolutionStage(
                width, out_width, num_res_blocks + 1, res in attn_resolutions, norm_type, causality_axis, resample
            )
            width = out_width
            res *= 2
        self.up = nn.ModuleList(stages[level] for level in range(num_levels))

        self.norm_out = make_norm(width, norm_type)
        self.conv_out = CausalConv2d(width, out_ch, 3, causality_axis)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """latent: [B, C, T, F] (normalised) -> mel: [B, out_ch, 4T - 3 (causal) or 4T, mel_bins]."""
        b, c, t, f = latent.shape
        packed = latent.permute(0, 2, 1, 3).reshape(b, t, c * f)  # [B, T, C*F]
        x = self.per_channel_statistics.un_normalize(packed).reshape(b, t, c, f).permute(0, 2, 1, 3)

        h = self.mid(self.conv_in(x))
        for stage in reversed(self.up):
            h = stage(h)
        h = self.conv_out(F.silu(self.norm_out(h)))

        frames = t * LATENT_DOWNSAMPLE_FACTOR
        if self.causality_axis != CausalityAxis.NONE:
            frames = max(frames - (LATENT_DOWNSAMPLE_FACTOR - 1), 1)
        return crop_or_pad(h[:, : self.out_ch], frames, self.mel_bins if self.mel_bins is not None else f)


def crop_or_pad(mel: torch.Tensor, frames: int, bins: int) -> torch.Tensor:
    """Crop [B, C, time, mel] to at most (frames, bins), then zero-pad up to exactly that."""
    mel = mel[:, :, :frames, :bins]
    return F.pad(mel, (0, bins - mel.shape[3], 0, frames - mel.shape[2]))
