"""Building blocks of the video VAE: causal 3-D convolution, pixel norm, ResNet blocks, and the
space<->depth resampling blocks. Tensors are [B, C, F, H, W] throughout."""
from __future__ import annotations

import math

import torch
from torch import nn

from ltx_backend.models.transformer.adaln import TimestepEmbedding

NORM_EPS = 1e-6
GROUPS = 32


class CausalConv3d(nn.Module):
    """3x3x3 convolution padded in time by repeating the first frame (causal) or the first and last
    frames (non-causal); spatial padding by the Conv3d's own padding mode."""

    def __init__(self, in_channels: int, out_channels: int, stride: int | tuple[int, int, int] = 1, padding_mode: str = "zeros"):
        super().__init__()
        self.conv = nn.Conv3d(in_channels, out_channels, 3, stride=stride, padding=(0, 1, 1), padding_mode=padding_mode)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        first, last = x[:, :, :1], x[:, :, -1:]
        if causal:
            x = torch.cat([first, first, x], dim=2)
        else:
            x = torch.cat([first, x, last], dim=2)
        return self.conv(x)


class PixelNorm(nn.Module):
    """x / sqrt(mean over channels of x^2 + eps)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + self.eps)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "group_norm":
        return nn.GroupNorm(GROUPS, channels, eps=NORM_EPS)
    return PixelNorm()


class ResnetBlock3D(nn.Module):
    """norm -> (AdaLN) -> SiLU -> conv -> (noise) -> norm -> (AdaLN) -> SiLU -> conv, plus the shortcut."""

    def __init__(self, in_channels: int, out_channels: int, norm: str, padding_mode: str,
                 inject_noise: bool = False, timestep_conditioning: bool = False):
        super().__init__()
        self.norm1 = make_norm(norm, in_channels)
        self.conv1 = CausalConv3d(in_channels, out_channels, padding_mode=padding_mode)
        self.norm2 = make_norm(norm, out_channels)
        self.conv2 = CausalConv3d(out_channels, out_channels, padding_mode=padding_mode)
        self.inject_noise = inject_noise
        if inject_noise:
            self.per_channel_scale1 = nn.Parameter(torch.zeros(in_channels, 1, 1))
            self.per_channel_scale2 = nn.Parameter(torch.zeros(in_channels, 1, 1))
        if in_channels != out_channels:
            self.conv_shortcut = nn.Conv3d(in_channels, out_channels, 1)
            self.norm3 = nn.GroupNorm(1, in_channels, eps=NORM_EPS)
        else:
            self.conv_shortcut = self.norm3 = nn.Identity()
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.scale_shift_table = nn.Parameter(torch.zeros(4, in_channels))  # shift1, scale1, shift2, scale2

    @staticmethod
    def _add_spatial_noise(x: torch.Tensor, scale: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        noise = torch.randn(x.shape[-2:], device=x.device, dtype=x.dtype, generator=generator)  # [H, W], shared
        return x + (noise[None] * scale.to(x))[None, :, None]

    def forward(self, x: torch.Tensor, causal: bool = True, embedding: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        h = self.norm1(x)
        if self.timestep_conditioning:
            # embedding [B, 4*C, 1, 1, 1] -> per-sample (shift, scale) for both norms
            ada = self.scale_shift_table[None, :, :, None, None, None].to(h) + embedding.reshape(x.shape[0], 4, -1, 1, 1, 1)
            shift1, scale1, shift2, scale2 = ada.unbind(dim=1)
            h = h * (1 + scale1) + shift1
        h = self.conv1(nn.functional.silu(h), causal=causal)
        if self.inject_noise:
            h = self._add_spatial_noise(h, self.per_channel_scale1, generator)
        h = self.norm2(h)
        if self.timestep_conditioning:
            h = h * (1 + scale2) + shift2
        h = self.conv2(nn.functional.silu(h), causal=causal)
        if self.inject_noise:
            h = self._add_spatial_noise(h, self.per_channel_scale2, generator)
        return self.conv_shortcut(self.norm3(x)) + h


class ResBlocks(nn.Module):
    """`num_layers` same-width ResNet blocks sharing one timestep embedding (ltx-core's UNetMidBlock3D)."""

    def __init__(self, channels: int, num_layers: int, norm: str, padding_mode: str,
                 inject_noise: bool = False, timestep_conditioning: bool = False):
        super().__init__()
        self.timestep_conditioning = timestep_conditioning
        if timestep_conditioning:
            self.time_embedder = TimestepEmbedding(channels * 4)
        self.res_blocks = nn.ModuleList(
            ResnetBlock3D(channels, channels, norm, padding_mode, inject_noise, timestep_conditioning) for _ in range(num_layers)
        )

    def forward(self, x: torch.Tensor, causal: bool = True, timestep: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> torch.Tensor:
        embedding = None
        if self.timestep_conditioning:
            embedding = self.time_embedder(timestep.flatten(), x.dtype).view(x.shape[0], -1, 1, 1, 1)
        for block in self.res_blocks:
            x = block(x, causal, embedding, generator)
        return x


def space_to_depth(x: torch.Tensor, stride: tuple[int, int, int]) -> torch.Tensor:
    """[B, C, F*p1, H*p2, W*p3] -> [B, C*p1*p2*p3, F, H, W] (channel order c, p1, p2, p3)."""
    b, c, f, h, w = x.shape
    p1, p2, p3 = stride
    x = x.reshape(b, c, f // p1, p1, h // p2, p2, w // p3, p3)
    return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(b, c * p1 * p2 * p3, f // p1, h // p2, w // p3)


def depth_to_space(x: torch.Tensor, stride: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of space_to_depth."""
    b, c, f, h, w = x.shape
    p1, p2, p3 = stride
    x = x.reshape(b, c // (p1 * p2 * p3), p1, p2, p3, f, h, w)
    return x.permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, c // (p1 * p2 * p3), f * p1, h * p2, w * p3)


class SpaceToDepthDownsample(nn.Module):
    """Downsample by `stride`: conv then space->depth, plus a parameter-free residual (space->depth, group mean)."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], padding_mode: str):
        super().__init__()
        self.stride = stride
        self.group_size = in_channels * math.prod(stride) // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // math.prod(stride), padding_mode=padding_mode)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        if self.stride[0] == 2:
            x = torch.cat([x[:, :, :1], x], dim=2)  # the first frame stands alone in time
        residual = space_to_depth(x, self.stride)
        b, c, f, h, w = residual.shape
        residual = residual.reshape(b, c // self.group_size, self.group_size, f, h, w).mean(dim=2)
        return space_to_depth(self.conv(x, causal=causal), self.stride) + residual


class DepthToSpaceUpsample(nn.Module):
    """Upsample by `stride`: conv then depth->space (dropping the extra first frame of a time step)."""

    def __init__(self, in_channels: int, stride: tuple[int, int, int], padding_mode: str, residual: bool = False, reduction: int = 1):
        super().__init__()
        self.stride = stride
        self.residual = residual
        self.reduction = reduction
        self.conv = CausalConv3d(in_channels, math.prod(stride) * in_channels // reduction, padding_mode=padding_mode)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        if self.residual:
            skip = depth_to_space(x, self.stride).repeat(1, math.prod(self.stride) // self.reduction, 1, 1, 1)
        x = depth_to_space(self.conv(x, causal=causal), self.stride)
        if self.stride[0] == 2:
            x = x[:, :, 1:]
            if self.residual:
                skip = skip[:, :, 1:]
        return x + skip if self.residual else x


class PerChannelStatistics(nn.Module):
    """The latent space's per-channel mean and std (learned statistics stored in the checkpoint)."""

    def __init__(self, channels: int):
        super().__init__()
        self.register_buffer("std-of-means", torch.empty(channels))
        self.register_buffer("mean-of-means", torch.empty(channels))

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1, 1, 1, 1)
        return self.get_buffer("mean-of-means").view(shape).to(x), self.get_buffer("std-of-means").view(shape).to(x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return (x - mean) / std

    def un_normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return x * std + mean
