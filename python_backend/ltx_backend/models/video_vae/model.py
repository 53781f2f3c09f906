"""Video VAE encoder and decoder (LTX-2 / LTX-2.3): pixels [B, 3, F, H, W] in [-1, 1] <-> normalised
latents [B, 128, (F-1)/8+1, H/32, W/32]. A 4x4 space-to-depth patchify and the encoder's / decoder's
block lists (from the checkpoint config) give the 32x32x8 compression."""
from __future__ import annotations

import torch
from torch import nn

from ltx_backend.models.transformer.adaln import TimestepEmbedding

from .layers import CausalConv3d, DepthToSpaceUpsample, PerChannelStatistics, ResBlocks, ResnetBlock3D, SpaceToDepthDownsample, make_norm

LOG_VAR_CHANNELS = {"per_channel": lambda c: 2 * c, "uniform": lambda c: c + 1, "constant": lambda c: c + 1, "none": lambda c: c}
STRIDES = {"compress_time": (2, 1, 1), "compress_space": (1, 2, 2), "compress_all": (2, 2, 2)}  # (time, height, width)


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, F, H*q, W*r] -> [B, C*r*q, F, H, W] (channel order c, r, q: width offset before height offset)."""
    b, c, f, h, w = x.shape
    x = x.reshape(b, c, f, h // patch, patch, w // patch, patch)
    return x.permute(0, 1, 6, 4, 2, 3, 5).reshape(b, c * patch * patch, f, h // patch, w // patch)


def unpatchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    b, c, f, h, w = x.shape
    x = x.reshape(b, c // (patch * patch), patch, patch, f, h, w)  # c, r, q
    return x.permute(0, 1, 4, 5, 3, 6, 2).reshape(b, c // (patch * patch), f, h * patch, w * patch)


def _block_config(params) -> dict:
    return {"num_layers": params} if isinstance(params, int) else dict(params)


def _encoder_block(name: str, cfg: dict, channels: int, norm: str, padding_mode: str) -> tuple[nn.Module, int]:
    """One entry of vae.encoder_blocks -> (module, output channels)."""
    multiplier = cfg.get("multiplier", 2)
    if name == "res_x":
        return ResBlocks(channels, cfg["num_layers"], norm, padding_mode), channels
    if name == "res_x_y":
        return ResnetBlock3D(channels, channels * multiplier, norm, padding_mode), channels * multiplier
    if name.endswith("_res") and name[: -len("_res")] in STRIDES:
        stride = STRIDES[name[: -len("_res")]]
        return SpaceToDepthDownsample(channels, channels * multiplier, stride, padding_mode), channels * multiplier
    if name in STRIDES:  # strided convolution, same width
        return CausalConv3d(channels, channels, stride=STRIDES[name], padding_mode=padding_mode), channels
    if name == "compress_all_x_y":
        conv = CausalConv3d(channels, channels * multiplier, stride=STRIDES["compress_all"], padding_mode=padding_mode)
        return conv, channels * multiplier
    raise ValueError(f"invalid vae.encoder_blocks entry {name!r}: unknown block")


class VideoEncoder(nn.Module):
    def __init__(self, blocks: list, latent_channels: int = 128, in_channels: int = 3, patch_size: int = 4,
                 norm: str = "pixel_norm", latent_log_var: str = "uniform", padding_mode: str = "zeros"):
        super().__init__()
        self.patch_size = patch_size
        self.latent_channels = latent_channels
        self.per_channel_statistics = PerChannelStatistics(latent_channels)
        channels = latent_channels
        self.conv_in = CausalConv3d(in_channels * patch_size**2, channels, padding_mode=padding_mode)
        self.down_blocks = nn.ModuleList()
        for name, params in blocks:
            block, channels = _encoder_block(name, _block_config(params), channels, norm, padding_mode)
            self.down_blocks.append(block)
        self.conv_norm_out = make_norm(norm, channels)
        self.conv_out = CausalConv3d(channels, LOG_VAR_CHANNELS[latent_log_var](latent_channels), padding_mode=padding_mode)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """[B, 3, 8k+1, H, W] in [-1, 1] -> normalised latent means [B, 128, k+1, H/32, W/32].

        Extra frames beyond 8k+1 are dropped, as the reference does. The log-variance channels are unused."""
        extra = (pixels.shape[2] - 1) % 8
        if extra:
            pixels = pixels[:, :, :-extra]
        x = self.conv_in(patchify(pixels, self.patch_size))
        for block in self.down_blocks:
            x = block(x)
        x = self.conv_out(nn.functional.silu(self.conv_norm_out(x)))
        return self.per_channel_statistics.normalize(x[:, : self.latent_channels])


def _decoder_block(name: str, cfg: dict, channels: int, norm: str, padding_mode: str, timestep_conditioning: bool) -> tuple[nn.Module, int]:
    """One entry of vae.decoder_blocks (applied in reverse order) -> (module, output channels)."""
    noise = cfg.get("inject_noise", False)
    if name == "res_x":
        return ResBlocks(channels, cfg["num_layers"], norm, padding_mode, noise, timestep_conditioning), channels
    if name == "res_x_y":
        out = channels // cfg.get("multiplier", 2)
        return ResnetBlock3D(channels, out, norm, padding_mode, noise), out
    if name in STRIDES:
        reduction = cfg.get("multiplier", 1)
        residual = cfg.get("residual", False) if name == "compress_all" else False
        return DepthToSpaceUpsample(channels, STRIDES[name], padding_mode, residual, reduction), channels // reduction
    raise ValueError(
        f"invalid vae.decoder_blocks entry {name!r}: not supported (res_x, res_x_y, compress_time, compress_space, compress_all)"
    )


class VideoDecoder(nn.Module):
    decode_noise_scale = 0.025
    decode_timestep = 0.05

    def __init__(self, blocks: list, latent_channels: int = 128, out_channels: int = 3, patch_size: int = 4,
                 norm: str = "pixel_norm", causal: bool = False, timestep_conditioning: bool = True,
                 padding_mode: str = "reflect", base_channels: int = 128):
        super().__init__()
        self.patch_size = patch_size
        self.causal = causal
        self.timestep_conditioning = timestep_conditioning
        self.per_channel_statistics = PerChannelStatistics(latent_channels)
        channels = base_channels * 8
        self.conv_in = CausalConv3d(latent_channels, channels, padding_mode=padding_mode)
        self.up_blocks = nn.ModuleList()
        for name, params in reversed(blocks):
            block, channels = _decoder_block(name, _block_config(params), channels, norm, padding_mode, timestep_conditioning)
            self.up_blocks.append(block)
        self.conv_norm_out = make_norm(norm, channels)
        self.conv_out = CausalConv3d(channels, out_channels * patch_size**2, padding_mode=padding_mode)
        if timestep_conditioning:
            self.timestep_scale_multiplier = nn.Parameter(torch.tensor(1000.0))
            self.last_time_embedder = TimestepEmbedding(channels * 2)
            self.last_scale_shift_table = nn.Parameter(torch.empty(2, channels))

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        """[B, 128, F', H', W'] -> pixels [B, 3, 8(F'-1)+1, 32H', 32W'] in about [-1, 1].

        Timestep-conditioned decoders first blend in a little noise drawn from `generator` and
        decode as at timestep 0.05 (the reference's defaults)."""
        b = latent.shape[0]
        x = latent
        if self.timestep_conditioning:
            noise = torch.randn(x.size(), generator=generator, dtype=x.dtype, device=x.device)
            x = noise * self.decode_noise_scale + (1.0 - self.decode_noise_scale) * x
            if timestep is None:
                timestep = torch.full((b,), self.decode_timestep, device=x.device, dtype=x.dtype)
        x = self.conv_in(self.per_channel_statistics.un_normalize(x), causal=self.causal)
        scaled = timestep * self.timestep_scale_multiplier.to(x) if self.timestep_conditioning else None
        for block in self.up_blocks:
            if isinstance(block, ResBlocks):
                x = block(x, self.causal, scaled, generator)
            elif isinstance(block, ResnetBlock3D):
                x = block(x, self.causal, None, generator)
            else:
                x = block(x, causal=self.causal)
        x = self.conv_norm_out(x)
        if self.timestep_conditioning:
            emb = self.last_time_embedder(scaled.flatten(), x.dtype).view(b, 2, -1, 1, 1, 1)
            shift, scale = (self.last_scale_shift_table[None, :, :, None, None, None].to(x) + emb).unbind(dim=1)
            x = x * (1 + scale) + shift
        x = self.conv_out(nn.functional.silu(x), causal=self.causal)
        return unpatchify(x, self.patch_size)
