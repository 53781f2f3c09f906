"""Latent upsampler of LTX-2 / LTX-2.3 (ltx-core's LatentUpsampler, same parameter names): a convolutional
network on un-normalised VAE latents [B, 128, F, H, W] that doubles H and W (or F, or scales H, W by a
rational factor) with a learned sub-pixel convolution."""
from __future__ import annotations

import math

import torch
from torch import nn

GROUPS = 32


def _conv(dims: int, in_channels: int, out_channels: int) -> nn.Module:
    return (nn.Conv2d if dims == 2 else nn.Conv3d)(in_channels, out_channels, kernel_size=3, padding=1)


def frames_as_batch(x: torch.Tensor) -> torch.Tensor:
    """[B, C, F, H, W] -> [B*F, C, H, W]."""
    b, c, f, h, w = x.shape
    return x.transpose(1, 2).reshape(b * f, c, h, w)


def batch_as_frames(x: torch.Tensor, b: int) -> torch.Tensor:
    """[B*F, C, H, W] -> [B, C, F, H, W]."""
    bf, c, h, w = x.shape
    return x.reshape(b, bf // b, c, h, w).transpose(1, 2)


class ResBlock(nn.Module):
    """conv -> GroupNorm -> SiLU -> conv -> GroupNorm, then SiLU(x + residual)."""

    def __init__(self, channels: int, dims: int = 3):
        super().__init__()
        self.conv1 = _conv(dims, channels, channels)
        self.norm1 = nn.GroupNorm(GROUPS, channels)
        self.conv2 = _conv(dims, channels, channels)
        self.norm2 = nn.GroupNorm(GROUPS, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.silu(self.norm1(self.conv1(x)))
        return nn.functional.silu(self.norm2(self.conv2(h)) + x)


class PixelShuffleND(nn.Module):
    """Channels -> the `dims` axes after them: [N, C*p1*..*pk, A1, .., Ak, rest] -> [N, C, A1*p1, .., Ak*pk, rest]
    (channel order c, p1, .., pk). dims 1: time of [B, C, F, H, W]; 2: H, W of [N, C, H, W]; 3: F, H, W."""

    def __init__(self, dims: int, factors: tuple[int, int, int] = (2, 2, 2)):
        super().__init__()
        self.factors = tuple(factors[:dims])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, factors = len(self.factors), self.factors
        n, c = x.shape[0], x.shape[1] // math.prod(factors)
        axes, rest = x.shape[2 : 2 + k], x.shape[2 + k :]
        x = x.reshape(n, c, *factors, *x.shape[2:])
        interleaved = [i for j in range(k) for i in (2 + k + j, 2 + j)]  # each axis, then its factor
        x = x.permute(0, 1, *interleaved, *range(2 + 2 * k, x.dim()))
        return x.reshape(n, c, *(a * p for a, p in zip(axes, factors)), *rest)


class BlurDownsample(nn.Module):
    """Anti-aliased downsampling of [N, C, H, W] by an integer stride: depthwise 5x5 binomial blur, strided."""

    def __init__(self, stride: int, kernel_size: int = 5):
        super().__init__()
        self.stride = stride
        taps = torch.tensor([math.comb(kernel_size - 1, k) for k in range(kernel_size)])
        kernel = taps[:, None] @ taps[None, :]
        self.register_buffer("kernel", (kernel / kernel.sum()).float()[None, None])  # [1, 1, k, k], in the checkpoint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1:
            return x
        c, size = x.shape[1], self.kernel.shape[-1]
        weight = self.kernel.expand(c, 1, size, size)
        return nn.functional.conv2d(x, weight, stride=self.stride, padding=size // 2, groups=c)


RATIONAL_SCALES = {0.75: (3, 4), 1.5: (3, 2), 2.0: (2, 1), 4.0: (4, 1)}  # scale -> (up, down)


class SpatialRationalResampler(nn.Module):
    """Per frame: scale H, W by up/down (sub-pixel convolution up, then blurred strided downsampling)."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        up, down = RATIONAL_SCALES[float(scale)]
        self.conv = nn.Conv2d(channels, up * up * channels, kernel_size=3, padding=1)
        self.pixel_shuffle = PixelShuffleND(2, (up, up))
        self.blur_down = BlurDownsample(stride=down)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, F, H, W] -> [B, C, F, H*up/down, W*up/down]."""
        return batch_as_frames(self.blur_down(self.pixel_shuffle(self.conv(frames_as_batch(x)))), x.shape[0])


class LatentUpsampler(nn.Module):
    def __init__(self, in_channels: int = 128, mid_channels: int = 512, num_blocks_per_stage: int = 4, dims: int = 3,
                 spatial_upsample: bool = True, temporal_upsample: bool = False, spatial_scale: float = 2.0,
                 rational_resampler: bool = False):
        super().__init__()
        if not (spatial_upsample or temporal_upsample):
            raise ValueError("invalid latent upsampler config: spatial_upsample or temporal_upsample must be true")
        self.dims = dims
        self.temporal_upsample = temporal_upsample
        self.initial_conv = _conv(dims, in_channels, mid_channels)
        self.initial_norm = nn.GroupNorm(GROUPS, mid_channels)
        self.res_blocks = nn.ModuleList(ResBlock(mid_channels, dims) for _ in range(num_blocks_per_stage))
        if temporal_upsample:  # x2 in time (and in H, W with spatial_upsample)
            shuffle = 3 if spatial_upsample else 1
            self.upsampler = nn.Sequential(nn.Conv3d(mid_channels, 2**shuffle * mid_channels, 3, padding=1), PixelShuffleND(shuffle))
        elif rational_resampler:
            self.upsampler = SpatialRationalResampler(mid_channels, spatial_scale)
        else:  # x2 in H, W, per frame
            self.upsampler = nn.Sequential(nn.Conv2d(mid_channels, 4 * mid_channels, 3, padding=1), PixelShuffleND(2))
        self.post_upsample_res_blocks = nn.ModuleList(ResBlock(mid_channels, dims) for _ in range(num_blocks_per_stage))
        self.final_conv = _conv(dims, mid_channels, in_channels)

    def _upsample(self, x: torch.Tensor) -> torch.Tensor:
        if self.temporal_upsample:
            return self.upsampler(x)[:, :, 1:]  # the first latent frame stands for one pixel frame: drop its copy
        if isinstance(self.upsampler, SpatialRationalResampler):
            return self.upsampler(x)
        return batch_as_frames(self.upsampler(frames_as_batch(x)), x.shape[0])

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        """Un-normalised latents [B, C, F, H, W] -> [B, C, F', H', W'] (x2 in H, W for the spatial x2 model)."""
        b = latent.shape[0]
        x = frames_as_batch(latent) if self.dims == 2 else latent
        x = nn.functional.silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        x = self.upsampler(x) if self.dims == 2 else self._upsample(x)
        for block in self.post_upsample_res_blocks:
            x = block(x)
        x = self.final_conv(x)
        return batch_as_frames(x, b) if self.dims == 2 else x
