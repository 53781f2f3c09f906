"""`ltx-triton generate` on the tiny checkpoints: the MP4 it writes, the raw arrays, and its errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ltx_backend.media import probe_mp4

CLI = [sys.executable, "-m", "ltx_client.cli", "generate"]


def run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=600)


def test_generate_writes_mp4_with_video_and_audio(tiny_checkpoints, tmp_path):
    out = tmp_path / "fox.mp4"
    raw = tmp_path / "fox.npz"
    result = run([
        "--model-path", str(tiny_checkpoints["2.3"]), "--prompt", "A fox in the snow", "--seed", "3",
        "--width", "128", "--height", "96", "--num-frames", "25", "--num-inference-steps", "3", "--fps", "24",
        "--save-output", "--output-path", str(out), "--save-raw", str(raw),
    ])
    assert result.returncode == 0, result.stderr
    assert "stage 1 denoising" in result.stderr  # the tqdm bar over steps
    info = probe_mp4(out)
    assert (info.width, info.height, info.num_frames, info.fps) == (128, 96, 25, 24.0)
    assert info.audio_streams == 1
    # AAC pads its last 1024-sample frame: the track lasts as long as the video, to within one frame
    assert abs(info.audio_duration - 25 / 24) <= 1024 / info.audio_sample_rate + 1e-6
    arrays = np.load(raw)
    assert arrays["frames"].shape == (25, 96, 128, 3) and arrays["frames"].dtype == np.uint8
    assert arrays["audio"].dtype == np.float32 and arrays["audio"].ndim == 2
    assert int(arrays["sample_rate"]) == info.audio_sample_rate
    assert arrays["audio"].shape[1] == round(25 / 24 * int(arrays["sample_rate"])) or arrays["audio"].shape[1] > 0


BAD_ARGS = [
    (["--width", "100"], "invalid width=100"),
    (["--height", "50"], "invalid height=50"),
    (["--num-frames", "24"], "invalid num_frames=24"),
    (["--num-frames", "100000"], "invalid num_frames=100000"),
    (["--num-inference-steps", "0"], "invalid num_inference_steps=0"),
    (["--guidance-scale", "nan"], "invalid guidance_scale=nan"),
    (["--fps", "0"], "invalid fps=0.0"),
    (["--seed", "-5"], "invalid seed=-5"),
    (["--prompt", ""], "invalid prompt=''"),
    (["--pipeline-class-name", "Nope"], "invalid pipeline_class_name='Nope'"),
    (["--pipeline-class-name", "LTX2TwoStageHQPipeline"], "invalid pipeline_class_name='LTX2TwoStageHQPipeline'"),
    (["--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
]


@pytest.mark.parametrize("extra,message", BAD_ARGS, ids=[m.split("=")[0] for _, m in BAD_ARGS])
def test_bad_values_give_a_clear_error_not_a_traceback(tiny_checkpoints, extra, message):
    args = ["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--num-frames", "9"] + extra
    result = run(args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_path_is_a_clear_error(tmp_path):
    result = run(["--model-path", str(tmp_path / "nowhere" / "x"), "--prompt", "a cat"])
    assert result.returncode == 2
    assert "invalid model_path=" in result.stderr and "Traceback" not in result.stderr
