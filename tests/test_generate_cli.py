"""`ltx-triton generate` on the tiny checkpoints: the MP4 it writes, the raw arrays, and its errors."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from ltx_backend.media import probe_mp4

CLI = [sys.executable, "-m", "ltx_client.cli", "generate"]


def run(args: list[str]) -> subprocess.CompletedProcess:
    """`ltx-triton generate ARGS` as its own process (what a user runs: exit code, stderr, files)."""
    return subprocess.run(CLI + args, capture_output=True, text=True, timeout=600)


def run_here(args: list[str], capsys) -> tuple[int, str]:
    """The same command through main() in this process (no interpreter start): (exit code, stderr). An
    exception that main() lets escape fails the test, as a traceback would."""
    from ltx_client.cli import main

    try:
        code = main(["generate", *args])
    except SystemExit as exit_:  # argparse's own errors
        code = exit_.code
    return code, capsys.readouterr().err


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


def test_seed_minus_one_prints_the_seed_drawn_and_names_the_file_after_it(tiny_checkpoints, tmp_path, capsys):
    import re

    code, err = run_here(["--model-path", str(tiny_checkpoints["2"]), "--prompt", "A fox", "--seed", "-1", "--width", "64",
                          "--height", "64", "--num-frames", "9", "--num-inference-steps", "1", "--save-output",
                          "--output-path", str(tmp_path)], capsys)
    assert code == 0, err
    (seed,) = re.findall(r"^seed: (\d+)$", err, re.MULTILINE)
    assert 0 <= int(seed) < 2**31
    assert [p.name for p in tmp_path.iterdir()] == [f"A_fox_{seed}.mp4"]


BAD_ARGS = [
    (["--width", "100"], "invalid --width=100"),
    (["--height", "50"], "invalid --height=50"),
    (["--num-frames", "24"], "invalid --num-frames=24"),
    (["--num-frames", "100000"], "invalid --num-frames=100000"),
    (["--num-inference-steps", "0"], "invalid --num-inference-steps=0"),
    (["--guidance-scale", "nan"], "invalid --guidance-scale=nan"),
    (["--stg-scale", "-1"], "invalid --stg-scale=-1.0"),
    (["--guidance-rescale", "3"], "invalid --guidance-rescale=3.0"),
    (["--skip-step", "-1"], "invalid --skip-step=-1"),
    (["--fps", "0"], "invalid --fps=0.0"),
    (["--seed", "-5"], "invalid --seed=-5"),
    (["--prompt", ""], "invalid --prompt=''"),
    (["--pipeline-class-name", "Nope"], "invalid --pipeline-class-name='Nope'"),
    (["--pipeline-class-name", "LTX2TwoStageHQPipeline"], "invalid --pipeline-class-name='LTX2TwoStageHQPipeline'"),
    (["--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
    (["--torch-compile-mode", "reduce-overhead"], "invalid --torch-compile-mode='reduce-overhead': only with --enable-torch-compile"),
    (["--enable-torch-compile", "--torch-compile-mode", "fast"], "argument --torch-compile-mode: invalid choice: 'fast'"),
    (["--enable-torch-compile", "--torch-compile-mode", "max-autotune", "--ltx2-two-stage-device-mode", "original"],
     "invalid --torch-compile-mode='max-autotune': default or max-autotune-no-cudagraphs with device_mode 'original'"),
]


@pytest.mark.parametrize("extra,message", BAD_ARGS, ids=[m.split("=")[0] for _, m in BAD_ARGS])
def test_bad_values_give_a_clear_error_not_a_traceback(tiny_checkpoints, capsys, extra, message):
    args = ["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--num-frames", "9"] + extra
    code, stderr = run_here(args, capsys)
    assert code == 2
    assert message in stderr


def test_bad_value_in_its_own_process_exits_2_without_a_traceback(tiny_checkpoints):
    result = run(["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--width", "100"])
    assert result.returncode == 2
    assert "invalid --width=100" in result.stderr and "Traceback" not in result.stderr


def test_missing_model_path_is_a_clear_error(tmp_path, capsys):
    code, stderr = run_here(["--model-path", str(tmp_path / "nowhere" / "x"), "--prompt", "a cat"], capsys)
    assert code == 2
    assert "invalid --model-path=" in stderr


def test_output_path_alone_writes_the_video(tiny_checkpoints, tmp_path, capsys):
    """Naming --output-path means "write it there" (--save-output is not needed as well)."""
    out = tmp_path / "clip.mp4"
    args = ["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--width", "64", "--height", "64",
            "--num-frames", "9", "--num-inference-steps", "1", "--output-path", str(out)]
    code, _ = run_here(args, capsys)
    assert code == 0
    assert probe_mp4(out).num_frames == 9


def _image(path):
    from PIL import Image

    Image.fromarray(np.random.default_rng(1).integers(0, 256, (70, 90, 3), dtype=np.uint8)).save(path)
    return path


@pytest.mark.slow
def test_two_stage_with_images_and_a_user_lora(tiny_checkpoints, tmp_path):
    from conftest import load_build_script

    lora = load_build_script("make_tiny_checkpoints").make_tiny_lora(tmp_path / "style.safetensors", "2.3", key_format="comfyui", alpha=2.0)
    image = _image(tmp_path / "first.png")
    common = [
        "--model-path", str(tiny_checkpoints["2.3"]), "--prompt", "A fox in the snow", "--pipeline-class-name", "LTX2TwoStagePipeline",
        "--width", "128", "--height", "128", "--num-frames", "17", "--num-inference-steps", "2",
        "--image-path", str(image), str(image), "--image-frame-index", "0", "8", "--image-strength", "1.0", "0.5",
    ]
    plain = run(common + ["--save-raw", str(tmp_path / "plain.npz")])
    assert plain.returncode == 0, plain.stderr
    styled = run(common + ["--lora-path", str(lora), "--lora-scale", "0.8", "--ltx2-two-stage-device-mode", "resident",
                           "--save-output", "--output-path", str(tmp_path / "styled.mp4"), "--save-raw", str(tmp_path / "styled.npz")])
    assert styled.returncode == 0, styled.stderr
    assert "stage 2 denoising" in styled.stderr
    assert "LoRA style covers" in styled.stderr  # the coverage summary, logged once per stage weights
    info = probe_mp4(tmp_path / "styled.mp4")
    assert (info.width, info.height, info.num_frames, info.audio_streams) == (128, 128, 17, 1)
    a, b = np.load(tmp_path / "plain.npz")["frames"], np.load(tmp_path / "styled.npz")["frames"]
    assert a.shape == b.shape == (17, 128, 128, 3)
    assert np.abs(a.astype(int) - b).mean() > 0.5  # the LoRA changed the video


@pytest.mark.parametrize("extra,message", [
    (["--lora-path", "/nonexistent/lora.safetensors"], "invalid --lora-path="),
    (["--image-path", "/nonexistent.png"], "invalid --image-path="),
    (["--image-path", "CORRUPT"], "invalid --image-path="),
    (["--image-path", "IMAGE", "--image-frame-index", "40"], "invalid --image-frame-index=40"),
    (["--image-path", "IMAGE", "--image-strength", "1.5"], "invalid --image-strength=1.5"),
], ids=["lora", "missing-image", "corrupt-image", "image-index", "image-strength"])
def test_bad_image_and_lora_values(tiny_checkpoints, tmp_path, capsys, extra, message):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    image = _image(tmp_path / "ok.png")
    extra = [str(corrupt) if a == "CORRUPT" else str(image) if a == "IMAGE" else a for a in extra]
    code, stderr = run_here(["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--num-frames", "9"] + extra, capsys)
    assert code == 2, stderr
    assert message in stderr


def test_url_without_a_server_is_a_clear_error():
    from ltx_client.server import free_port

    port = free_port()
    result = run(["--url", f"127.0.0.1:{port}", "--prompt", "a cat"])
    # exit 1: the server's side failed (unreachable); 2 is for the user's own mistakes
    assert result.returncode == 1, result.stderr
    assert "error:" in result.stderr and f"127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("extra,message", [
    (["--device", "foo"], "invalid --device='foo': cpu, cuda or cuda:N"),
    (["--device", "cuda:99"], "invalid --device='cuda:99'"),
    (["--device", "cpu", "--attention-backend", "triton"], "invalid --attention-backend='triton': auto or sdpa on CPU"),
    (["--num-frames", "1", "--fps", "60"], "invalid --fps=60.0: below 50 for 1 frame(s)"),
    (["--prompt", "a\udcffb"], "invalid --prompt='a\\udcffb': text in UTF-8"),
    (["--save-output", "--output-path", "FILE"], "invalid --output-path="),
    (["--save-raw", "FILE/raw.npz"], "invalid --save-raw="),
    (["--url", "URL", "--seed", str(2**64)], f"invalid --seed={2**64}"),
    (["--url", "URL", "--width", str(2**32 + 512)], f"invalid --width={2**32 + 512}"),
    (["--url", "URL", "--guidance-scale", "1e39"], "invalid --guidance-scale=1e+39"),
    (["--url", "URL", "--prompt", "a\udcffb"], "invalid --prompt='a\\udcffb'"),
    (["--url", "URL", "--image-path", "/proc/self/mem"], "invalid --image-path='/proc/self/mem': a readable image file"),
    (["--output-path", "TMP/clip.mov"], "--output-path='TMP/clip.mov': an .mp4 file, or a folder to write it in"),
    (["--output-path", "/proc/clip.mp4"], "invalid --output-path='/proc/clip.mp4': a path this user can write"),
    (["--output-path", "a" * 300 + ".mov"], ": a path this user can write ([Errno 36] File name too long"),  # value shortened
    (["--save-raw", "/proc/raw.npz"], "invalid --save-raw='/proc/raw.npz': a path this user can write"),
    (["--url", "URL", "--quantization", "fp8-cast"], "error: --quantization is chosen when the server starts"),
    (["--url", "URL", "--ltx2-two-stage-device-mode", "snapshot", "--lora-scale", "1"],
     "error: --lora-scale, --ltx2-two-stage-device-mode are chosen when the server starts"),
    (["--lora-scale", "2"], "invalid --lora-scale=2.0: only with --lora-path"),
    (["--no-retake-audio"], "invalid retake_audio=False: only with LTX2RetakePipeline"),
    (["--audio-start-time", "3"], "invalid --audio-start-time=3.0: only with LTX2AudioToVideoPipeline"),
    (["--audio-max-duration", "3"], "invalid --audio-max-duration=3.0: only with LTX2AudioToVideoPipeline"),
    (["--url", "http://localhost:8001"], "invalid --url='http://localhost:8001': HOST:PORT of the server's gRPC endpoint, without a scheme"),
], ids=["device", "device-index", "triton-on-cpu", "fps-one-frame", "prompt-bytes", "output-file", "raw-under-file", "url-seed",
        "url-width-wraps", "url-float32", "url-prompt-bytes", "url-unreadable-image", "output-not-mp4", "output-unwritable",
        "output-name-too-long",
        "raw-unwritable", "url-quantization", "url-server-flags-at-default", "lora-scale-alone", "retake-flag", "audio-start",
        "audio-duration", "url-with-scheme"])
def test_values_that_used_to_end_in_a_traceback(tiny_checkpoints, tmp_path, capsys, monkeypatch, extra, message):
    """In-process (main()), locally and with --url: each is refused before any model or server work."""
    from ltx_client.cli import main

    monkeypatch.delenv("TRITON_INTERPRET")  # as a user's shell: no Triton interpreter
    from ltx_client.server import free_port

    a_file = tmp_path / "a_file"
    a_file.write_bytes(b"x")
    extra = [a.replace("FILE", str(a_file)).replace("URL", f"127.0.0.1:{free_port()}").replace("TMP", str(tmp_path)) for a in extra]
    message = message.replace("TMP", str(tmp_path))
    base = ["generate", "--prompt", "a cat", "--num-frames", "9"]
    if "--url" not in extra:
        base += ["--model-path", str(tiny_checkpoints["2"])]
    assert main(base + extra) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("flag,file,message", [
    ("--spatial-upsampler-path", "missing", "cannot read spatial upsampler"),
    ("--spatial-upsampler-path", "lora", "distilled-lora.safetensors has no 'config' in its safetensors metadata"),
    ("--distilled-lora-path", "missing", "not an existing local file or folder"),
])
def test_a_bad_file_flag_is_refused_naming_it_before_the_transformer_loads(tiny_checkpoints, tmp_path, flag, file, message):
    model = tiny_checkpoints["2.3"]
    path = str(tmp_path / "none.safetensors") if file == "missing" else str(next(model.glob("*distilled-lora*.safetensors")))
    result = run(["--model-path", str(model), "--pipeline-class-name", "LTX2TwoStagePipeline", "--prompt", "a cat",
                  "--width", "128", "--height", "128", "--num-frames", "9", "--num-inference-steps", "1", flag, path])
    assert result.returncode == 2 and f"error: invalid {flag}='" in result.stderr and message in result.stderr, result.stderr
    assert "weight set" not in result.stderr and "transformer:" not in result.stderr  # no transformer was built


def test_flags_the_class_does_not_use_and_an_unsaved_video_are_said(tiny_checkpoints, capsys):
    args = ["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--width", "64", "--height", "64", "--num-frames", "9",
            "--num-inference-steps", "1", "--ltx2-two-stage-device-mode", "resident", "--spatial-upsampler-path", "/none"]
    code, err = run_here(args, capsys)
    assert code == 0, err
    assert "note: nothing will be written: add --save-output (outputs/<prompt>_<seed>.mp4) or --output-path" in err
    assert "note: --spatial-upsampler-path is not used by LTX2Pipeline" in err
    assert "note: --ltx2-two-stage-device-mode is not used by LTX2Pipeline" in err


def test_output_path_with_a_dot_and_a_slash_is_a_folder(tiny_checkpoints, tmp_path, capsys):
    """A folder whose name has a dot: said with a trailing /, the MP4 goes in it."""
    folder = tmp_path / "take.2"
    args = ["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--width", "64", "--height", "64",
            "--num-frames", "9", "--num-inference-steps", "1", "--seed", "4", "--output-path", f"{folder}/"]
    code, err = run_here(args, capsys)
    assert code == 0, err
    assert [p.name for p in folder.iterdir()] == ["a_cat_4.mp4"]


def test_ctrl_c_is_one_line_and_exit_130(monkeypatch, capsys):
    from ltx_client import cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "run_generate", interrupted)
    assert cli.main(["generate", "--prompt", "a cat"]) == 130
    assert capsys.readouterr().err == "cancelled\n"


def test_progress_bar_closes_at_the_stages_last_step(monkeypatch):
    """The bar's time per step is the denoising's: it closes at the last step, before the decoding."""
    from ltx_backend.types import StepProgress
    from ltx_client.progress import TqdmProgress

    with TqdmProgress() as progress:
        progress(StepProgress(stage=1, step=1, total=2))
        assert progress._bar is not None and progress._bar.n == 1
        progress(StepProgress(stage=1, step=2, total=2))
        assert progress._bar is None  # closed at 2 of 2
        progress(StepProgress(stage=2, step=1, total=3))
        assert progress._bar.n == 1 and progress._bar.total == 3


@pytest.mark.parametrize("fields,message", [
    (dict(seed=2**64), f"invalid seed={2**64}: an integer between"),
    (dict(width=2**32 + 512), f"invalid width={2**32 + 512}: an integer between -2147483648 and 2147483647"),
    (dict(guidance_scale=1e39), "invalid guidance_scale=1e+39: a finite number (float32 on the wire)"),
    (dict(guidance_scale=10**400), "invalid guidance_scale="),
    (dict(prompt="a\udcffb"), "invalid prompt='a\\udcffb': text in UTF-8"),
    (dict(image_paths=("/proc/self/mem",)), "invalid image_paths='/proc/self/mem': a readable image file"),
], ids=["seed-int64", "width-int32", "float32-overflow", "beyond-float", "prompt-bytes", "unreadable-image"])
def test_request_arrays_refuse_what_the_wire_cannot_carry(fields, message):
    """request_arrays (generate --url, generate_http, the benchmarks) on requests that were not resolved: a
    value its wire type would wrap, round to inf or not encode is an InvalidRequest, not a different request."""
    from ltx_backend.errors import InvalidRequest
    from ltx_backend.request import GenerationRequest
    from ltx_client.remote import request_arrays

    with pytest.raises(InvalidRequest) as info:
        request_arrays(GenerationRequest(**{"prompt": "a cat", **fields}))
    assert str(info.value).startswith(message)


def test_audio_to_video_writes_the_soundtrack_into_the_mp4(tiny_checkpoints, tmp_path):
    from audio_files import tones, write_audio

    audio = write_audio(tmp_path / "drums.flac", tones(2.0, 32000, seed=4), 32000)
    out = tmp_path / "drums.mp4"
    result = run([
        "--model-path", str(tiny_checkpoints["2"]), "--prompt", "A drummer on a rooftop", "--pipeline-class-name",
        "LTX2AudioToVideoPipeline", "--audio-path", str(audio), "--audio-start-time", "0.5", "--width", "64", "--height", "64",
        "--num-frames", "17", "--num-inference-steps", "2", "--output-path", str(out), "--save-raw", str(tmp_path / "raw.npz"),
    ])
    assert result.returncode == 0, result.stderr
    info = probe_mp4(out)
    assert (info.num_frames, info.audio_streams, info.audio_sample_rate) == (17, 1, 32000)
    raw = np.load(tmp_path / "raw.npz")
    # the soundtrack from 0.5 s, as read: 17 frames at 24 fps
    from ltx_backend.media import read_audio

    expected, _ = read_audio(str(audio), 0.5, 17 / 24)
    np.testing.assert_array_equal(raw["audio"], expected)
    assert int(raw["sample_rate"]) == 32000


@pytest.mark.parametrize("extra,message", [
    (["--pipeline-class-name", "LTX2AudioToVideoPipeline"], "invalid --audio-path=None"),
    (["--pipeline-class-name", "LTX2AudioToVideoPipeline", "--audio-path", "/nonexistent.wav"], "invalid --audio-path='/nonexistent.wav'"),
    (["--pipeline-class-name", "LTX2AudioToVideoPipeline", "--audio-path", "NOT_AUDIO"], "invalid --audio-path="),
    (["--audio-path", "NOT_AUDIO"], "only with LTX2AudioToVideoPipeline"),
], ids=["no-audio", "missing-audio", "not-audio", "audio-for-another-class"])
def test_bad_soundtrack_flags(tiny_checkpoints, tmp_path, capsys, extra, message):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF this is not a wave file")
    extra = [str(junk) if a == "NOT_AUDIO" else a for a in extra]
    code, stderr = run_here(["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--num-frames", "9"] + extra, capsys)
    assert code == 2, stderr
    assert message in stderr and "Traceback" not in stderr


def test_retake_keeps_the_clips_size_and_regenerates_its_window(tiny_checkpoints, tmp_path):
    from test_source_clip import clip

    source = tmp_path / "source.mp4"
    source.write_bytes(clip(frames=17, width=96))
    out = tmp_path / "retake.mp4"
    result = run([
        "--model-path", str(tiny_checkpoints["2"]), "--prompt", "The cat looks up", "--pipeline-class-name", "LTX2RetakePipeline",
        "--video-path", str(source), "--retake-start", "0.2", "--retake-end", "0.5", "--no-retake-audio",
        "--num-inference-steps", "2", "--output-path", str(out),
    ])
    assert result.returncode == 0, result.stderr
    info = probe_mp4(out)
    assert (info.width, info.height, info.num_frames, info.fps, info.audio_streams) == (96, 64, 17, 24.0, 1)


def test_retake_flags_that_the_clip_decides_are_refused(tiny_checkpoints, tmp_path, capsys):
    from test_source_clip import clip

    source = tmp_path / "source.mp4"
    source.write_bytes(clip())
    code, stderr = run_here(["--model-path", str(tiny_checkpoints["2"]), "--prompt", "a cat", "--pipeline-class-name",
                             "LTX2RetakePipeline", "--video-path", str(source), "--retake-start", "0", "--retake-end", "0.2",
                             "--num-frames", "9"], capsys)
    assert code == 2 and "invalid --num-frames=9: left out with LTX2RetakePipeline" in stderr
