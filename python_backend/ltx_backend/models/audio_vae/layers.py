"""2-D building blocks of the audio VAE: causal conv, norms, ResNet block, attention, 2x down- and upsampling.

Spectrogram tensors are [B, C, time, mel]; the reference calls the time axis "height".
"""
from __future__ import annotations

from enum import Enum

import torch
import torch.nn.functional as F
from torch import nn


class CausalityAxis(Enum):
    """Which axis the convolutions are causal along (values as in the checkpoint config)."""

    NONE = None
    WIDTH = "width"
    HEIGHT = "height"
    WIDTH_COMPATIBILITY = "width-compatibility"


class NormType(Enum):
    GROUP = "group"
    PIXEL = "pixel"


class PixelNorm(nn.Module):
    """x / sqrt(mean over channels of x^2 + eps), at every (time, mel) position."""

    def __init__(self, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + self.eps)


def make_norm(channels: int, norm_type: NormType) -> nn.Module:
    if norm_type == NormType.GROUP:
        return nn.GroupNorm(num_groups=32, num_channels=channels, eps=1e-6, affine=True)
    return PixelNorm(eps=1e-6)


class CausalConv2d(nn.Module):
    """Conv2d (stride 1) whose padding is all on the past side of the causal axis, centred on the other."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, causality_axis: CausalityAxis
    ) -> None:
        super().__init__()
        total = kernel_size - 1
        before, after = total // 2, total - total // 2
        # F.pad order: (mel_left, mel_right, time_top, time_bottom)
        if causality_axis == CausalityAxis.NONE:
            self.padding = (before, after, before, after)
        elif causality_axis in (CausalityAxis.WIDTH, CausalityAxis.WIDTH_COMPATIBILITY):
            self.padding = (total, 0, before, after)
        else:  # HEIGHT: causal in time
            self.padding = (before, after, total, 0)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


class ResnetBlock(nn.Module):
    """norm -> SiLU -> conv -> norm -> SiLU -> conv, plus a (1x1-projected when widths differ) skip."""

    def __init__(
        self, in_channels: int, out_channels: int, norm_type: NormType, causality_axis: CausalityAxis
    ) -> None:
        super().__init__()
        if causality_axis != CausalityAxis.NONE and norm_type == NormType.GROUP:
            raise ValueError("Causal ResnetBlock with GroupNorm is not supported.")
        self.norm1 = make_norm(in_channels, norm_type)
        self.conv1 = CausalConv2d(in_channels, out_channels, 3, causality_axis)
        self.norm2 = make_norm(out_channels, norm_type)
        self.conv2 = CausalConv2d(out_channels, out_channels, 3, causality_axis)
        if in_channels != out_channels:
            self.nin_shortcut = CausalConv2d(in_channels, out_channels, 1, causality_axis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        skip = self.nin_shortcut(x) if hasattr(self, "nin_shortcut") else x
        return skip + h


class AttnBlock(nn.Module):
    """Single-head self-attention over all (time, mel) positions, with a residual connection."""

    def __init__(self, channels: int, norm_type: NormType) -> None:
        super().__init__()
        self.norm = make_norm(channels, norm_type)
        self.q = nn.Conv2d(channels, channels, 1)
        self.k = nn.Conv2d(channels, channels, 1)
        self.v = nn.Conv2d(channels, channels, 1)
        self.proj_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, f = x.shape
        h = self.norm(x)
        q = self.q(h).reshape(b, c, t * f).transpose(1, 2)  # [B, N, C]
        k = self.k(h).reshape(b, c, t * f)  # [B, C, N]
        v = self.v(h).reshape(b, c, t * f)  # [B, C, N]
        weights = torch.softmax(torch.bmm(q, k) * c**-0.5, dim=2)  # [B, N_query, N_key]
        h = torch.bmm(v, weights.transpose(1, 2)).reshape(b, c, t, f)
        return x + self.proj_out(h)


class Upsample(nn.Module):
    """Nearest 2x in both axes, then a causal 3x3 conv; along a causal time/mel axis the first output row is
    dropped (it only saw padding and the first input row), so n rows become 2n - 1."""

    def __init__(self, channels: int, causality_axis: CausalityAxis) -> None:
        super().__init__()
        self.causality_axis = causality_axis
        self.conv = CausalConv2d(channels, channels, 3, causality_axis)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        if self.causality_axis == CausalityAxis.HEIGHT:
            return x[:, :, 1:, :]
        if self.causality_axis == CausalityAxis.WIDTH:
            return x[:, :, :, 1:]
        return x


class Downsample(nn.Module):
    """A 3x3 conv of stride 2, padded by one row/column on the far side of each axis, or by two on the past side
    of a causal axis: n rows become ceil(n / 2) (causal: (n - 1) // 2 + 1)."""

    _PADDING = {  # F.pad order: (mel_left, mel_right, time_top, time_bottom)
        CausalityAxis.NONE: (0, 1, 0, 1),
        CausalityAxis.WIDTH: (2, 0, 0, 1),
        CausalityAxis.HEIGHT: (0, 1, 2, 0),
        CausalityAxis.WIDTH_COMPATIBILITY: (1, 0, 0, 1),
    }

    def __init__(self, channels: int, causality_axis: CausalityAxis) -> None:
        super().__init__()
        self.padding = self._PADDING[causality_axis]
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.pad(x, self.padding))


class ResolutionStage(nn.Module):
    """ResNet blocks (each optionally followed by attention) at one resolution of the encoder or the decoder, then
    an optional change of resolution, stored under the name the checkpoint gives it (`downsample` / `upsample`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_blocks: int,
        attention: bool,
        norm_type: NormType,
        causality_axis: CausalityAxis,
        resample: tuple[str, nn.Module] | None = None,
    ) -> None:
        super().__init__()
        widths = [in_channels] + [out_channels] * num_blocks
        self.block = nn.ModuleList(
            ResnetBlock(widths[i], out_channels, norm_type, causality_axis) for i in range(num_blocks)
        )
        self.attn = nn.ModuleList(AttnBlock(out_channels, norm_type) for _ in range(num_blocks if attention else 0))
        self.resample_name = None
        if resample is not None:
            self.resample_name, module = resample
            self.add_module(self.resample_name, module)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, block in enumerate(self.block):
            x = block(x)
            if len(self.attn):
                x = self.attn[i](x)
        return getattr(self, self.resample_name)(x) if self.resample_name else x
