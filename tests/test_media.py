import io

import numpy as np
import pytest
from PIL import Image

from ltx_backend.media import decode_image, encode_mp4, fit_audio_to_video, probe_mp4


def test_audio_is_fitted_to_the_video_duration():
    wave = np.ones((2, 1000), np.float32)
    assert fit_audio_to_video(wave, 16000, 25, 25.0).shape == (2, 16000)  # padded with silence
    assert fit_audio_to_video(wave, 16000, 25, 25.0)[:, 1000:].max() == 0.0
    assert fit_audio_to_video(np.ones((1, 48000), np.float32), 24000, 49, 24.0).shape == (1, 49000)  # trimmed


@pytest.mark.parametrize("channels,rate", [(1, 16000), (2, 24000), (2, 48000)])
def test_mp4_has_h264_video_and_aac_audio_of_the_video_length(channels, rate):
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (17, 64, 96, 3), dtype=np.uint8)
    wave = (0.1 * rng.standard_normal((channels, rate))).astype(np.float32)
    data = encode_mp4(frames, 24.0, wave, rate)
    info = probe_mp4(data)
    assert (info.width, info.height, info.num_frames, info.fps) == (96, 64, 17, 24.0)
    assert info.audio_streams == 1 and info.audio_sample_rate == rate
    assert abs(info.audio_duration - 17 / 24) <= 1024 / rate + 1e-6


def test_frames_must_be_uint8_rgb():
    with pytest.raises(ValueError, match="uint8"):
        encode_mp4(np.zeros((9, 32, 32, 3), np.float32), 24.0)


def test_decode_image_bytes_and_corrupt_data():
    buffer = io.BytesIO()
    Image.new("RGBA", (5, 3), (10, 20, 30, 255)).save(buffer, format="PNG")
    image = decode_image(buffer.getvalue())
    assert image.shape == (3, 5, 3) and image.dtype == np.uint8 and tuple(image[0, 0]) == (10, 20, 30)
    with pytest.raises(ValueError, match="not an image format ltx-triton reads"):
        decode_image(b"\x89PNG garbage")
    with pytest.raises(ValueError, match="not an image format ltx-triton reads"):  # EPS would run Ghostscript
        decode_image(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n")


_ENCODE = """
import hashlib, os, sys
import numpy as np
if sys.argv[1] == "one-cpu":
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from ltx_backend.media import encode_mp4
rng = np.random.default_rng(0)
frames = (rng.random((17, 384, 512, 3)) * 255).astype(np.uint8)
audio = rng.uniform(-0.5, 0.5, (2, 16000)).astype(np.float32)
print(hashlib.sha256(encode_mp4(frames, 24.0, audio, 24000)).hexdigest())
"""


def test_the_same_frames_give_the_same_mp4_bytes_on_any_cpus():
    """x264 follows the CPUs it may use unless told its thread count: one CPU and all of them, and ten encodes
    in one process, give one MP4 (issue #18: same request, same seed, same bytes). And whatever the heap holds:
    glibc's MALLOC_PERTURB_ fills fresh allocations with a byte, so a read of memory x264 did not initialise
    (as at 64x64) would give another MP4 per byte."""
    import hashlib
    import os
    import subprocess
    import sys

    digests = {subprocess.run([sys.executable, "-c", _ENCODE, cpus], capture_output=True, text=True, check=True,
                              env={**os.environ, **({"MALLOC_PERTURB_": fill} if fill else {})}).stdout.strip()
               for cpus, fill in (("one-cpu", None), ("all-cpus", None), ("all-cpus", "165"), ("all-cpus", "42"))}
    rng = np.random.default_rng(0)
    frames = (rng.random((17, 384, 512, 3)) * 255).astype(np.uint8)
    audio = rng.uniform(-0.5, 0.5, (2, 16000)).astype(np.float32)
    digests |= {hashlib.sha256(encode_mp4(frames, 24.0, audio, 24000)).hexdigest() for _ in range(10)}
    assert len(digests) == 1, digests


def test_undecodable_audio_and_video_say_why_without_pyav_internals():
    """FFmpeg's reason, not PyAV's "[Errno 1094995529] ...: '<none>'" (the errno and an in-memory file's name)."""
    from ltx_backend.media import AudioInputError, VideoInputError, iter_video_frames, probe_video, read_audio

    garbage = b"not a media file" * 64
    for decode, error, start in ((lambda: read_audio(garbage, 0.0, 5.0), AudioInputError, "not readable audio: "),
                                 (lambda: probe_video(garbage, 5), VideoInputError, "not a readable video: "),
                                 (lambda: list(iter_video_frames(garbage, 3)), VideoInputError, "not a readable video: ")):
        with pytest.raises(error) as refused:
            decode()
        message = str(refused.value)
        assert message.startswith(start) and len(message) > len(start), message
        assert "Errno" not in message and "<none>" not in message, message

