"""The soundtrack of an audio-to-video request: reading (as ltx-pipelines' decode_audio_from_file), validation
(each bad soundtrack an InvalidRequest naming the field), mono input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from audio_files import encode_audio_file, tones, write_audio
from ltx_backend.errors import InvalidRequest
from ltx_backend.media import read_audio
from ltx_backend.pipelines.registry import AUDIO_TO_VIDEO, TWO_STAGE
from ltx_backend.request import MAX_MEDIA_BYTES, GenerationRequest

A2V = dict(prompt="a drum solo", pipeline_class_name=AUDIO_TO_VIDEO, width=64, height=64, num_frames=9, num_inference_steps=2)
WAV = encode_audio_file(tones(1.0, 44100), 44100)


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".m4a"])
@pytest.mark.parametrize(("start", "duration"), [(0.0, 0.375), (0.3, 0.5), (0.9, 0.5)])
def test_read_audio_matches_the_reference_reader(suffix, start, duration, tmp_path):
    from ltx_pipelines.utils.media_io import decode_audio_from_file

    path = write_audio(tmp_path / f"a{suffix}", tones(1.2, 48000, seed=3), 48000)
    ours, rate = read_audio(str(path), start, duration)
    reference = decode_audio_from_file(str(path), torch.device("cpu"), start, duration)
    assert rate == reference.sampling_rate == 48000
    np.testing.assert_array_equal(ours, reference.waveform[0].numpy())
    expected = min(duration, 1.2 - start) * rate  # the window, or what is left of the stream
    assert abs(ours.shape[1] - expected) <= 2048 and ours.shape[0] == 2
    assert np.abs(ours).max() > 0.3


def test_bytes_and_path_read_the_same(tmp_path):
    path = tmp_path / "a.wav"
    path.write_bytes(WAV)
    from_path, _ = read_audio(str(path), 0.1, 0.4)
    from_bytes, _ = read_audio(WAV, 0.1, 0.4)
    np.testing.assert_array_equal(from_path, from_bytes)
    assert from_path.shape == (2, round(0.4 * 44100))


def test_unsigned_8_bit_pcm_is_centred(tmp_path):
    """u8 PCM is offset binary (128 = silence); ltx-pipelines divides it by 128 without the offset (a +1 DC)."""
    import av

    path = tmp_path / "u8.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_u8", rate=16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.full((1, 8000), 128, np.uint8), format="u8", layout="mono")
        frame.sample_rate, frame.pts = 16000, 0
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    waveform, _ = read_audio(str(path), 0.0, 0.5)
    assert waveform.shape == (1, 8000) and np.abs(waveform).max() == 0.0


BAD = [
    # (name, request fields, field named)
    ("no soundtrack", {}, "audio"),
    ("both path and bytes", {"audio": WAV, "audio_path": "/x.wav"}, "audio"),
    ("soundtrack for another class", {"audio": WAV, "pipeline_class_name": TWO_STAGE}, "audio"),
    ("path for another class", {"audio_path": "/x.wav", "pipeline_class_name": TWO_STAGE}, "audio_path"),
    ("missing file", {"audio_path": "/nonexistent/a.wav"}, "audio_path"),
    ("not audio", {"audio": b"RIFF\x00\x00\x00\x00WAVEjunk"}, "audio"),
    ("empty bytes", {"audio": b""}, "audio"),
    ("text, not bytes", {"audio": "a.wav"}, "audio"),
    ("truncated", {"audio": WAV[:300]}, "audio"),
    ("a video without sound", {"audio": None}, "audio"),
    ("too short", {"audio": encode_audio_file(tones(0.2, 16000), 16000)}, "audio"),
    ("start past the end", {"audio": WAV, "audio_start_time": 2.0}, "audio"),
    ("negative start", {"audio": WAV, "audio_start_time": -0.5}, "audio_start_time"),
    ("start not a number", {"audio": WAV, "audio_start_time": "0"}, "audio_start_time"),
    ("max duration shorter than the video", {"audio": WAV, "audio_max_duration": 0.1}, "audio_max_duration"),
    ("max duration too long", {"audio": WAV, "audio_max_duration": 60.0}, "audio_max_duration"),
    ("5.1 channels", {"audio": encode_audio_file(tones(1.0, 48000, channels=6), 48000)}, "audio"),
    ("odd sample rate", {"audio": encode_audio_file(tones(1.0, 44101), 44101)}, "audio"),
    ("over the media limit", {"audio": b"\x00" * (MAX_MEDIA_BYTES + 1)}, "audio"),
]


@pytest.mark.parametrize("name,fields,field", BAD, ids=[b[0] for b in BAD])
def test_bad_soundtrack_is_invalid_request_naming_the_field(name, fields, field):
    if name == "a video without sound":
        from ltx_backend.media import encode_mp4

        fields = {"audio": encode_mp4(np.zeros((9, 64, 64, 3), np.uint8), 24.0)}
    with pytest.raises(InvalidRequest) as error:
        GenerationRequest(**{**A2V, **fields}).resolve("2")
    assert error.value.field == field, str(error.value)


def test_a_video_file_soundtrack_and_the_defaults():
    """A video's audio track is read (its own sample rate); audio_max_duration defaults to the video's length."""
    from ltx_backend.media import encode_mp4

    wave = tones(1.0, 48000)
    mp4 = encode_mp4(np.zeros((25, 64, 64, 3), np.uint8), 24.0, wave, 48000)
    request = GenerationRequest(**A2V, audio=mp4).resolve("2")
    assert request.audio_max_duration == 9 / 24 and request.audio_start_time == 0.0
    waveform, rate = read_audio(mp4, 0.0, request.audio_max_duration)
    assert rate == 48000 and waveform.shape == (2, 18000)


def test_a_mono_soundtrack_is_encoded_as_both_channels(tiny_checkpoints):
    """The encoder takes stereo: a mono soundtrack makes the video its duplicate makes, and the output carries the
    mono track as read (ltx-pipelines fails on mono input: its encoder's first conv wants 2 channels)."""
    from ltx_backend.runtime.local_components import load_pipeline

    mono = tones(1.0, 22050, channels=1)
    pipeline = load_pipeline(str(tiny_checkpoints["2"]), torch.device("cpu"), torch.float32, pipeline_class_name=AUDIO_TO_VIDEO)
    from_mono = pipeline(GenerationRequest(**A2V, audio=encode_audio_file(mono, 22050)).resolve("2"))
    from_stereo = pipeline(GenerationRequest(**A2V, audio=encode_audio_file(np.repeat(mono, 2, axis=0), 22050)).resolve("2"))
    np.testing.assert_array_equal(from_mono.frames, from_stereo.frames)
    assert from_mono.audio.shape == (1, round(9 / 24 * 22050)) and from_stereo.audio.shape[0] == 2
