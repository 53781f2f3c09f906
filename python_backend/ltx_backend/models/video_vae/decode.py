"""Whole-clip helpers: latents -> uint8 frames (tiled when large), pixels -> latents (optionally tiled)."""
from __future__ import annotations

from collections.abc import Iterator

import torch

from .model import VideoDecoder, VideoEncoder
from .tiling import TilingConfig, decode_tiles, tiled_decode, tiled_encode


def to_uint8_frames(pixels: torch.Tensor) -> torch.Tensor:
    """[1, 3, F, H, W] in [-1, 1] -> [F, H, W, 3] uint8, as ltx-core's decode_video (truncation, not rounding)."""
    frames = (((pixels + 1.0) / 2.0).clamp(0.0, 1.0) * 255.0).to(torch.uint8)
    return frames[0].permute(1, 2, 3, 0)


def decode_chunks(
    latent: torch.Tensor, decoder: VideoDecoder, generator: torch.Generator | None = None, tiling: TilingConfig | None = None
) -> Iterator[torch.Tensor]:
    """Pixels [B, 3, T, H, W] of consecutive frame chunks. tiling=None: TilingConfig.default(), which decodes
    outputs up to 512 px (long side) and 64 frames as one tile, i.e. exactly as an untiled decode."""
    tiling = TilingConfig.default() if tiling is None else tiling
    if len(decode_tiles(latent.shape, tiling)) == 1:
        yield decoder(latent, generator=generator)
        return
    yield from tiled_decode(lambda tile: decoder(tile, generator=generator), latent, tiling)


def decode_video(
    latent: torch.Tensor, decoder: VideoDecoder, generator: torch.Generator | None = None, tiling: TilingConfig | None = None
) -> torch.Tensor:
    """Latent [1, 128, F', H', W'] -> uint8 frames [8(F'-1)+1, 32H', 32W', 3].

    `generator` feeds the decoder's decode-time noise (timestep-conditioned decoders, noise-injecting
    blocks), drawn tile by tile in ltx-core's order. Pass tiling=NO_TILING to decode in one piece."""
    return torch.cat([to_uint8_frames(chunk) for chunk in decode_chunks(latent, decoder, generator, tiling)])


def encode_video(pixels: torch.Tensor, encoder: VideoEncoder, tiling: TilingConfig | None = None) -> torch.Tensor:
    """Pixels [B, 3, 8k+1, H, W] in [-1, 1] -> normalised latents [B, 128, k+1, H/32, W/32].
    tiling=None encodes in one piece; a TilingConfig blends tiles as ltx-core's tiled_encode."""
    if tiling is None:
        return encoder(pixels)
    extra = (pixels.shape[2] - 1) % 8
    if extra:
        pixels = pixels[:, :, :-extra]
    pixels = pixels.to(next(encoder.parameters()))  # the reference accumulates on the encoder's device / dtype
    return tiled_encode(encoder, pixels, tiling, encoder.latent_channels)
