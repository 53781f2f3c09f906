"""Soundtracks for the audio-input tests, written with PyAV: WAV (16-bit PCM), FLAC, MP3, M4A (AAC)."""
from __future__ import annotations

from pathlib import Path

import av
import numpy as np

CODECS = {".wav": ("pcm_s16le", "s16"), ".flac": ("flac", "s16"), ".mp3": ("libmp3lame", "fltp"), ".m4a": ("aac", "fltp")}


def tones(seconds: float, rate: int, channels: int = 2, seed: int = 0) -> np.ndarray:
    """float32 [channels, samples]: a few tones and some noise, each channel its own, peak below 0.8."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * rate))) / rate
    rows = [0.3 * np.sin(2 * np.pi * (220 + 110 * c) * t) + 0.2 * np.sin(2 * np.pi * 1800 * t * (1 + 0.1 * c))
            + 0.05 * rng.standard_normal(t.shape) for c in range(channels)]
    return np.stack(rows).astype(np.float32)


def write_audio(path: Path, waveform: np.ndarray, rate: int) -> Path:
    path.write_bytes(encode_audio_file(waveform, rate, path.suffix))
    return path


def encode_audio_file(waveform: np.ndarray, rate: int, suffix: str = ".wav") -> bytes:
    """float32 [C, S] -> the bytes of a `suffix` file (C channels: mono, stereo, or up to 5.1 for WAV)."""
    import io

    codec, fmt = CODECS[suffix]
    layout = {1: "mono", 2: "stereo", 6: "5.1"}[waveform.shape[0]]
    buffer = io.BytesIO()
    with av.open(buffer, "w", format={".m4a": "mp4", ".mp3": "mp3", ".flac": "flac", ".wav": "wav"}[suffix]) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = layout
        if fmt == "s16":
            data = (np.clip(waveform, -1, 1) * 32767).astype(np.int16).T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format="s16", layout=layout)
        else:
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(waveform), format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        resampler = av.audio.resampler.AudioResampler(format=stream.codec_context.format, layout=layout, rate=rate)
        for chunk in resampler.resample(frame) + resampler.resample(None):
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()
