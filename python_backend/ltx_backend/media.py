"""Frames + waveform -> MP4 (H.264 video, AAC audio) with PyAV; image decoding.

The audio track is made to last exactly as long as the video (num_frames / fps): the vocoder's output
is trimmed or zero-padded to that many samples before encoding.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class MediaInfo:
    """What PyAV reads back from an MP4: used by tests and the client to check outputs."""

    width: int
    height: int
    num_frames: int
    fps: float
    video_duration: float
    audio_streams: int
    audio_sample_rate: int | None
    audio_duration: float | None


def fit_audio_to_video(waveform: np.ndarray, sample_rate: int, num_frames: int, fps: float) -> np.ndarray:
    """[C, S] float32 -> [C, round(num_frames / fps * sample_rate)]: trimmed, or padded with silence."""
    target = int(round(num_frames / fps * sample_rate))
    if waveform.shape[1] >= target:
        return waveform[:, :target]
    return np.pad(waveform, ((0, 0), (0, target - waveform.shape[1])))


MP4_ENCODER_THREADS = 4


def encode_mp4(
    frames: np.ndarray,
    fps: float,
    waveform: np.ndarray | None = None,
    sample_rate: int | None = None,
    crf: int = 18,
) -> bytes:
    """frames uint8 [F, H, W, 3]; waveform float32 [C, S] in [-1, 1] (C = 1 or 2). Returns MP4 bytes."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 [F, H, W, 3], got {frames.dtype} {list(frames.shape)}")
    num_frames, height, width, _ = frames.shape
    rate = Fraction(fps).limit_denominator(1001)
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"crf": str(crf)}
        # x264's output depends on its thread count, which by default follows the CPUs the process may use:
        # a fixed count makes the same frames the same bytes on any machine, under any load.
        video.codec_context.thread_count = MP4_ENCODER_THREADS
        video.codec_context.thread_type = "FRAME"
        audio = None
        if waveform is not None:
            audio = container.add_stream("aac", rate=sample_rate)
            audio.layout = "stereo"
        for frame in frames:
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if audio is not None:
            _encode_audio(container, audio, fit_audio_to_video(waveform, sample_rate, num_frames, fps), sample_rate)
    return buffer.getvalue()


def _encode_audio(container, stream, waveform: np.ndarray, sample_rate: int) -> None:
    stereo = np.repeat(waveform, 2, axis=0) if waveform.shape[0] == 1 else waveform[:2]
    pcm = (np.clip(stereo, -1.0, 1.0) * 32767.0).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T).reshape(1, -1), format="s16", layout="stereo")
    frame.sample_rate = sample_rate
    frame.pts = 0
    resampler = av.audio.resampler.AudioResampler(format=stream.codec_context.format or "fltp", layout="stereo", rate=sample_rate)
    for resampled in resampler.resample(frame) + resampler.resample(None):
        for packet in stream.encode(resampled):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


def write_mp4(path: str | Path, frames: np.ndarray, fps: float, waveform: np.ndarray | None, sample_rate: int | None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_mp4(frames, fps, waveform, sample_rate))
    return path


def probe_mp4(data: bytes | str | Path) -> MediaInfo:
    """Decode an MP4 completely and report its streams (frame count is counted, not read from headers)."""
    source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else str(data)
    with av.open(source) as container:
        vstream = container.streams.video[0]
        fps = float(vstream.average_rate)
        width, height = vstream.codec_context.width, vstream.codec_context.height
        num_frames = sum(1 for _ in container.decode(video=0))
    with av.open(io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else str(data)) as container:
        astreams = container.streams.audio
        rate = duration = None
        if astreams:
            rate = astreams[0].codec_context.sample_rate
            samples = sum(f.samples for f in container.decode(audio=0))
            duration = samples / rate
    return MediaInfo(width, height, num_frames, fps, num_frames / fps, len(astreams), rate, duration)


def image_formats() -> tuple[str, ...]:
    """The image formats PIL may open for a request: all it knows but EPS (which runs Ghostscript)."""
    from PIL import Image

    Image.init()
    return tuple(f for f in Image.OPEN if f != "EPS")


def decode_image(data: bytes | str | Path) -> np.ndarray:
    """Encoded image (bytes or path) -> uint8 [H, W, 3]. Raises ValueError on data that is not an image."""
    from PIL import Image, UnidentifiedImageError

    try:
        source = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else str(data)
        with Image.open(source, formats=image_formats()) as image:
            return np.array(image.convert("RGB"))
    except UnidentifiedImageError as error:
        raise ValueError("not an image format this server reads (PNG, JPEG, WebP, AVIF, TIFF, ...)") from error
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"not a readable image: {error}") from error
