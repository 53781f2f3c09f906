"""Comparing a generation with the reference's: frames PSNR, audio within 1e-3 of its scale."""
from __future__ import annotations

import math

import numpy as np

from ltx_backend.request import GenerationRequest


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)



def compare(name: str, ours, reference, request: GenerationRequest) -> float:
    ref_frames, ref_audio, ref_rate = reference
    side = 2 if request.skip_stage_2 else 1  # stage 1's half-size video
    assert ours.frames.shape == (request.num_frames, request.height // side, request.width // side, 3) and ours.frames.dtype == np.uint8
    assert ours.frames.shape == ref_frames.shape
    value = psnr(ours.frames, ref_frames)
    print(f"{name}: frames PSNR vs reference {value:.1f} dB")
    assert value >= 40.0
    assert ours.frames.std() > 1.0  # a real picture, not a constant
    assert ours.sample_rate == ref_rate
    assert ours.audio.ndim == 2 and ours.audio.shape == ref_audio.shape and ours.audio.shape[1] > 0
    scale = max(1e-6, float(np.abs(ref_audio).max()))
    assert np.abs(ours.audio - ref_audio).max() <= 1e-3 * scale
    return value
