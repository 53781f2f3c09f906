"""Latent grids <-> token sequences.

Video: [B, C, F, H, W] -> [B, F*(H/p)*(W/p), C*p*p], tokens in (frame, row, column) order.
Audio: [B, C, T, M]    -> [B, T, C*M], one token per latent frame.
"""
from __future__ import annotations

import torch

from ltx_backend.latents.shapes import AudioLatentShape, VideoLatentShape


def patchify_video(latent: torch.Tensor, patch_size: int = 1) -> torch.Tensor:
    b, c, f, h, w = latent.shape
    p = patch_size
    x = latent.reshape(b, c, f, h // p, p, w // p, p)
    x = x.permute(0, 2, 3, 5, 1, 4, 6)  # b f h w c p p
    return x.reshape(b, f * (h // p) * (w // p), c * p * p)


def unpatchify_video(tokens: torch.Tensor, shape: VideoLatentShape, patch_size: int = 1) -> torch.Tensor:
    p = patch_size
    b, f, h, w = tokens.shape[0], shape.frames, shape.height // p, shape.width // p
    x = tokens.reshape(b, f, h, w, -1, p, p)
    x = x.permute(0, 4, 1, 2, 5, 3, 6)  # b c f h p w p
    return x.reshape(b, -1, f, h * p, w * p)


def patchify_audio(latent: torch.Tensor) -> torch.Tensor:
    b, c, t, m = latent.shape
    return latent.permute(0, 2, 1, 3).reshape(b, t, c * m)


def unpatchify_audio(tokens: torch.Tensor, shape: AudioLatentShape) -> torch.Tensor:
    b, t = tokens.shape[:2]
    return tokens.reshape(b, t, shape.channels, shape.mel_bins).permute(0, 2, 1, 3)
