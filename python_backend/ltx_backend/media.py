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


def _source(data: bytes | str | Path) -> io.BytesIO | str:
    """What PyAV and PIL open: encoded bytes as a file object, or a path."""
    return io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else str(data)


def as_stereo(waveform: np.ndarray) -> np.ndarray:
    """[C, S] -> [2, S]: a mono track in both channels, a stereo one as it is (more channels: the first two)."""
    return np.repeat(waveform, 2, axis=0) if waveform.shape[0] == 1 else waveform[:2]


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
        # a fixed count makes the same frames the same bytes on any machine, under any load. Except for frames
        # under 128 pixels a side: at 64x64, x264 (in PyAV's build) reads memory it did not initialise, and the same
        # frames give other bytes as the heap's contents change (with MALLOC_PERTURB_ set, one MP4 per fill byte;
        # 128x128, 256x256 and 768x512 give the same MP4 under any fill byte; 2026-12-07).
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
    stereo = as_stereo(waveform)
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
    with av.open(_source(data)) as container:
        vstream = container.streams.video[0]
        fps = float(vstream.average_rate)
        width, height = vstream.codec_context.width, vstream.codec_context.height
        num_frames = sum(1 for _ in container.decode(video=0))
    with av.open(_source(data)) as container:
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
        with Image.open(_source(data), formats=image_formats()) as image:
            return np.array(image.convert("RGB"))
    except UnidentifiedImageError as error:
        raise ValueError("not an image format ltx-triton reads (PNG, JPEG, WebP, AVIF, TIFF, ...)") from error
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise ValueError(f"not a readable image: {error}") from error


# ------------------------------------------------------------------------------------------ audio input

# Sample rates a soundtrack may have: the common ones, whose ratio to the encoder's 16 kHz reduces to small
# integers (the resampling filter bank has one filter per output phase: 44.1 kHz -> 16 kHz needs 160, an odd
# 44101 Hz would need 16000 filters of 44k taps), and that AAC can carry back out.
AUDIO_SAMPLE_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
MAX_AUDIO_CHANNELS = 2

_PCM_SCALE = {"s16": 32768.0, "s16p": 32768.0, "s32": 2147483648.0, "s32p": 2147483648.0}
_UNSIGNED_8_BIT = ("u8", "u8p")


class AudioInputError(ValueError):
    """A soundtrack that cannot be used: the message says why (request.py names the field)."""


def _frame_samples(frame: av.AudioFrame) -> np.ndarray:
    """An audio frame -> float32 [channels, samples] in [-1, 1] (PCM integers scaled; planar or interleaved)."""
    fmt = frame.format.name
    samples = frame.to_ndarray().astype(np.float32)
    if fmt in _PCM_SCALE:
        samples = samples / _PCM_SCALE[fmt]
    elif fmt in _UNSIGNED_8_BIT:  # offset binary: 128 is silence
        samples = (samples - 128.0) / 128.0
    if not frame.format.is_planar:  # interleaved: [1, samples * channels]
        samples = samples.reshape(-1, len(frame.layout.channels)).T
    return samples


def read_audio(data: bytes | str | Path, start_time: float, duration: float) -> tuple[np.ndarray, int]:
    """The first audio stream of a WAV / MP3 / FLAC / OGG / M4A file or of a video's soundtrack, from
    `start_time` for `duration` seconds (less if the stream ends first), as ltx-pipelines' decode_audio_from_file
    reads it: seek, decode the frames that overlap the window, trim to it. Returns (float32 [C, S], sample rate).
    Raises AudioInputError for data without a usable audio stream."""
    try:
        with av.open(_source(data)) as container:
            return _decode_window(container, start_time, duration)
    except AudioInputError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError, MemoryError) as error:
        raise AudioInputError(f"not readable audio: {_reason(error)}") from None


def _reason(error: Exception) -> str:
    """FFmpeg's words for what went wrong ("Invalid data found when processing input"), without the errno and the
    '<none>' file name of in-memory data that PyAV's message carries."""
    if isinstance(error, av.FFmpegError) and error.strerror:
        return error.strerror
    return str(error)


def _decode_window(container, start_time: float, duration: float) -> tuple[np.ndarray, int]:
    streams = container.streams.audio
    if not streams:
        raise AudioInputError("no audio stream")
    stream = streams[0]
    rate, channels = stream.rate, stream.codec_context.channels
    if rate not in AUDIO_SAMPLE_RATES:
        raise AudioInputError(f"a sample rate of {rate} Hz; allowed: {', '.join(str(r) for r in AUDIO_SAMPLE_RATES)} Hz")
    if not 1 <= channels <= MAX_AUDIO_CHANNELS:
        raise AudioInputError(f"{channels} channels; allowed: mono or stereo")
    time_base = stream.time_base
    end_time = start_time + duration
    container.seek(int(start_time / time_base), stream=stream)
    chunks, first_time, decoded = [], None, 0
    limit = (duration + 1.0) * rate  # a window's worth and a second: no stream decodes further
    for frame in container.decode(stream):
        if frame.pts is None:
            continue
        frame_time = float(frame.pts * time_base)
        if frame_time + frame.samples / frame.sample_rate < start_time:
            continue
        if frame_time > end_time:
            break
        if frame.sample_rate != rate or len(frame.layout.channels) != channels:
            raise AudioInputError("a stream whose sample rate or channel count changes")
        if first_time is None:
            first_time = frame_time
        chunks.append(_frame_samples(frame))
        decoded += frame.samples
        if decoded > limit:
            break
    if not chunks:
        raise AudioInputError(f"no audio from {start_time:g} s (the stream ends before)")
    waveform = np.concatenate(chunks, axis=-1)
    skip = round((start_time - first_time) * rate)  # codec frames need not start at start_time
    if skip > 0:
        waveform = waveform[:, skip:]
    waveform = waveform[:, : round(duration * rate)]
    if not np.isfinite(waveform).all():
        raise AudioInputError("samples that are not finite numbers")
    return np.ascontiguousarray(waveform, dtype=np.float32), rate


# ------------------------------------------------------------------------------------------ video input


@dataclass(frozen=True)
class VideoInfo:
    """A source clip's first video stream, as ltx-pipelines' get_videostream_metadata reads it."""

    fps: float  # the stream's average frame rate
    num_frames: int  # from the header, else counted by decoding
    width: int
    height: int


class VideoInputError(ValueError):
    """A source clip that cannot be used: the message says why (request.py names the field)."""


def probe_video(data: bytes | str | Path, max_frames: int) -> VideoInfo:
    """Read a clip's header (decoding to count its frames when the header does not say, at most max_frames + 1).
    Raises VideoInputError for data without a decodable video stream."""
    try:
        with av.open(_source(data)) as container:
            streams = container.streams.video
            if not streams:
                raise VideoInputError("no video stream")
            stream = streams[0]
            if not stream.average_rate:
                raise VideoInputError("a video stream without a frame rate")
            num_frames = stream.frames or 0
            if num_frames == 0:
                for num_frames, _ in enumerate(container.decode(stream), start=1):
                    if num_frames > max_frames:
                        break
            return VideoInfo(float(stream.average_rate), num_frames, stream.codec_context.width, stream.codec_context.height)
    except VideoInputError:
        raise
    except (av.FFmpegError, OSError, ValueError, IndexError, ZeroDivisionError, MemoryError) as error:
        raise VideoInputError(f"not a readable video: {_reason(error)}") from None


def iter_video_frames(data: bytes | str | Path, frame_cap: int):
    """The first `frame_cap` frames of a clip's first video stream, one uint8 RGB [H, W, 3] at a time (ltx-pipelines'
    decode_video_from_file). Raises VideoInputError when they do not decode."""
    count = 0
    try:
        with av.open(_source(data)) as container:
            for frame in container.decode(container.streams.video[0]):
                yield frame.to_rgb().to_ndarray()
                count += 1
                if count == frame_cap:
                    break
    except (av.FFmpegError, OSError, ValueError, IndexError, MemoryError) as error:
        raise VideoInputError(f"not a readable video: {_reason(error)}") from None
    if count == 0:
        raise VideoInputError("no frame decodes")

