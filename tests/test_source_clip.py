"""The clip a retake request edits: reading (as ltx-pipelines' get_videostream_metadata / decode_video_from_file),
validation (each bad clip or window an InvalidRequest naming the field), the temporal mask's windows."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from audio_files import encode_audio_file, tones
from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.conditioning import TemporalRegionMask
from ltx_backend.latents.layout import AudioLatentLayout, VideoLatentLayout
from ltx_backend.latents.shapes import VideoPixelShape
from ltx_backend.media import encode_mp4, iter_video_frames, probe_video
from ltx_backend.pipelines.registry import DISTILLED_RETAKE, ONE_STAGE, RETAKE
from ltx_backend.request import MAX_MEDIA_BYTES, GenerationRequest


def clip(frames: int = 9, width: int = 64, height: int = 64, fps: float = 24.0, sound: bool = True) -> bytes:
    pictures = np.random.default_rng(frames).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    return encode_mp4(pictures, fps, tones(frames / fps, 48000) if sound else None, 48000 if sound else None)


CLIP = clip()
RETAKE_REQUEST = dict(prompt="a cat", pipeline_class_name=RETAKE, retake_start=0.1, retake_end=0.3)


def test_probe_and_frames_match_the_reference_reader(tmp_path):
    from ltx_pipelines.utils.media_io import decode_video_from_file, get_videostream_metadata

    path = tmp_path / "clip.mp4"
    path.write_bytes(clip(frames=17, width=96))
    info = probe_video(str(path), 481)
    assert (info.fps, info.num_frames, info.width, info.height) == get_videostream_metadata(str(path)) == (24.0, 17, 96, 64)
    ours = np.stack(list(iter_video_frames(path.read_bytes(), 17)))
    theirs = torch.cat(list(decode_video_from_file(str(path), 17, "cpu"))).numpy()
    np.testing.assert_array_equal(ours, theirs)
    assert np.stack(list(iter_video_frames(str(path), 9))).shape == (9, 64, 96, 3)


def test_resolve_takes_the_clips_size_frames_and_fps():
    request = GenerationRequest(**RETAKE_REQUEST, video=clip(frames=17, width=96, fps=25.0)).resolve("2.3")
    assert (request.width, request.height, request.num_frames, request.fps) == (96, 64, 17, 25.0)
    assert (request.num_inference_steps, request.seed, request.negative_prompt) == (40, 42, "")  # the reference's retake
    assert request.retake_video and request.retake_audio


BAD = [
    # (name, request fields, field named)
    ("no clip", {}, "video"),
    ("path and bytes", {"video": CLIP, "video_path": "/x.mp4"}, "video"),
    ("a clip for another class", {"video": CLIP, "pipeline_class_name": ONE_STAGE}, "video"),
    ("a window for another class", {"pipeline_class_name": ONE_STAGE, "video": None}, "retake_start"),
    ("missing file", {"video_path": "/nonexistent/clip.mp4"}, "video_path"),
    ("not a video", {"video": b"\x00\x00\x00\x18ftypisom nothing else"}, "video"),
    ("a soundtrack, not a video", {"video": encode_audio_file(tones(1.0, 16000), 16000)}, "video"),
    ("text, not bytes", {"video": "clip.mp4"}, "video"),
    ("truncated", {"video": CLIP[:500]}, "video"),
    ("10 frames", {"video": clip(frames=10)}, "video"),
    ("80 pixels wide", {"video": clip(width=80)}, "video"),
    ("a width given", {"video": CLIP, "width": 64}, "width"),
    ("fps given", {"video": CLIP, "fps": 24.0}, "fps"),
    ("images given", {"video": CLIP, "images": (b"png",)}, "images"),
    ("no start", {"video": CLIP, "retake_start": None}, "retake_start"),
    ("no end", {"video": CLIP, "retake_end": None}, "retake_end"),
    ("end past the clip", {"video": CLIP, "retake_end": 1.0}, "retake_end"),
    ("negative start", {"video": CLIP, "retake_start": -0.1}, "retake_start"),
    ("empty window", {"video": CLIP, "retake_start": 0.2, "retake_end": 0.2}, "retake_end"),
    ("nothing regenerated", {"video": CLIP, "retake_video": False, "retake_audio": False}, "retake_video"),
    ("switch not a bool", {"video": CLIP, "retake_audio": "no"}, "retake_audio"),
    ("over the media limit", {"video": b"\x00" * (MAX_MEDIA_BYTES + 1)}, "video"),
    ("steps for the distilled retake", {"video": CLIP, "pipeline_class_name": DISTILLED_RETAKE, "num_inference_steps": 4},
     "num_inference_steps"),
]


@pytest.mark.parametrize("name,fields,field", BAD, ids=[b[0] for b in BAD])
def test_bad_clip_is_invalid_request_naming_the_field(name, fields, field):
    request = {**RETAKE_REQUEST, **fields}
    if name == "a window for another class":
        request.pop("video")
    with pytest.raises(InvalidRequest) as error:
        GenerationRequest(**request).resolve("2")
    assert error.value.field == field, str(error.value)


@pytest.mark.parametrize(("start", "end", "video_frames", "audio_frames"), [
    (0.0, 0.05, [0, 1], [0, 1]),  # latent frame 0 is pixel frame 0 only: [0, 1/24); audio 0 [0, 10 ms), 1 [10, 50 ms)
    (0.2, 0.5, [1, 2], list(range(5, 14))),  # audio frame i >= 1 spans [40 i - 30, 40 i + 10) ms
    (0.0, 0.0, [], []),  # retake_video / retake_audio off: nothing regenerates
])
def test_temporal_mask_regenerates_the_tokens_overlapping_the_window(start, end, video_frames, audio_frames):
    """17 frames at 24 fps: latent frames span [0, 1/24), [1/24, 9/24), [9/24, 17/24) s (the causal first frame);
    audio latent frames start at 0 and every 40 ms from 3 mel frames in (the causal shift)."""
    shape = VideoPixelShape(1, 17, 64, 96, 24.0)
    video_layout, audio_layout = VideoLatentLayout.for_pixels(shape), AudioLatentLayout.for_video(shape)
    mask = TemporalRegionMask(start, end)
    video = mask.apply_to(video_layout.initial_state(torch.device("cpu"), torch.float32), video_layout).denoise_mask
    per_frame = video.reshape(3, -1)  # [latent frames, tokens of a frame]
    assert [f for f in range(3) if per_frame[f].all()] == [f for f in video_frames if f < 3]
    assert set(per_frame.unique().tolist()) <= {0.0, 1.0}
    audio = mask.apply_to(audio_layout.initial_state(torch.device("cpu"), torch.float32), audio_layout).denoise_mask.reshape(-1)
    assert audio.shape == (18,)  # 17 / 24 s at 25 audio latent frames a second
    assert [i for i, m in enumerate(audio.tolist()) if m == 1.0] == audio_frames
    assert set(audio.unique().tolist()) <= {0.0, 1.0}
