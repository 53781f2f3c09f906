"""LTX2RetakePipeline / LTX2DistilledRetakePipeline vs ltx-pipelines 1.0.0's RetakePipeline (distilled=False / True)
on the same tiny checkpoint, source clip, window, prompt and seed (CPU, fp32). The reference runs in
.venv-reference with the real torchaudio (tests/reference_runs/retake.py), as the clip's sound is encoded."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from audio_files import tones
from conftest import checkpoint_file
from ltx_backend.media import encode_mp4
from ltx_backend.pipelines.registry import DISTILLED_RETAKE, RETAKE
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline
from parity import compare
from reference_side import run_reference_script

CPU = torch.device("cpu")


def source_clip(path, frames: int = 17, sound: bool = True):
    """A 96x64 clip at 24 fps: moving colour ramps, and (with sound) tones at 48 kHz, a little longer than the frames."""
    y, x = np.mgrid[0:64, 0:96]
    pictures = np.stack([np.stack([(x * 2 + 9 * i) % 256, (y * 3 + 5 * i) % 256, np.full_like(x, (40 + 25 * i) % 256)], -1)
                         for i in range(frames)]).astype(np.uint8)
    audio = tones(frames / 24 + 0.2, 48000, seed=6) if sound else None
    path.write_bytes(encode_mp4(pictures, 24.0, audio, 48000 if sound else None))
    return path


def reference(directory, request: GenerationRequest, tmp_path, distilled: bool) -> tuple:
    settings = dict(
        directory=str(directory), checkpoint=str(checkpoint_file(directory)),
        params="LTX_2_3_PARAMS" if "2.3" in directory.name else "LTX_2_PARAMS", video_path=request.video_path,
        prompt=request.prompt, negative_prompt=request.negative_prompt, seed=request.seed,
        num_inference_steps=request.num_inference_steps, start=request.retake_start, end=request.retake_end,
        regenerate_video=request.retake_video, regenerate_audio=request.retake_audio, distilled=distilled,
    )
    (tmp_path / "settings.json").write_text(json.dumps(settings))
    out = run_reference_script("retake", tmp_path, None, str(tmp_path / "settings.json"))
    return out["frames"], out["audio"], int(out["rate"])


CASES = [
    # (id, version, class, request fields, sound)
    ("both", "2.3", RETAKE, dict(retake_start=0.2, retake_end=0.5), True),
    ("video only", "2", RETAKE, dict(retake_start=0.0, retake_end=0.3, retake_audio=False), True),
    ("audio only", "2.3", RETAKE, dict(retake_start=0.3, retake_end=0.7, retake_video=False), True),
    ("silent clip", "2", RETAKE, dict(retake_start=0.1, retake_end=0.4), False),
    ("distilled", "2.3", DISTILLED_RETAKE, dict(retake_start=0.2, retake_end=0.6), True),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,version,cls,fields,sound", CASES, ids=[c[0] for c in CASES])
def test_retake_matches_reference(name, version, cls, fields, sound, tiny_checkpoints, tmp_path):
    directory = tiny_checkpoints[version]
    clip = source_clip(tmp_path / "clip.mp4", sound=sound)
    steps = {} if cls == DISTILLED_RETAKE else {"num_inference_steps": 3}
    request = GenerationRequest(prompt="The cat jumps onto the table", pipeline_class_name=cls, video_path=str(clip), seed=11,
                                **steps, **fields).resolve(version)
    assert (request.width, request.height, request.num_frames, request.fps) == (96, 64, 17, 24.0)
    # the distilled class takes the checkpoint file by path (the tiny folder names no distilled file)
    model = checkpoint_file(directory) if cls == DISTILLED_RETAKE else directory
    ours = load_pipeline(str(model), CPU, torch.float32, pipeline_class_name=cls)(request)
    theirs = reference(directory, request, tmp_path, distilled=cls == DISTILLED_RETAKE)
    compare(f"LTX-{version} retake ({name})", ours, theirs, request)
