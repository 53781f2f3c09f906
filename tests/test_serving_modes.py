"""`ltx-triton serve` and the two-stage device modes on a real tritonserver: each mode's rendered repository
has the expected models and instance groups, and serves a two-stage request (with an image) that equals the
in-process run."""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ltx_backend.request import GenerationRequest
from ltx_backend.serving.repository import RepositoryOptions, model_names, render_repository
from ltx_client.remote import generate_grpc
from ltx_client.server import TritonServer, free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.server
MODEL = ROOT / "build/tiny/ltx-2"


def _instance_groups(config: str) -> str:
    return re.search(r"instance_group \[(.*)\]", config).group(1).strip()


@pytest.mark.parametrize("mode,denoisers", [("snapshot", ["denoiser"]), ("original", ["denoiser"]), ("resident", ["denoiser_stage1", "denoiser_stage2"])])
def test_each_device_mode_renders_its_models_and_instance_groups(tmp_path, mode, denoisers):
    for gpu, kind in ((False, "KIND_CPU"), (True, "KIND_GPU")):
        options = RepositoryOptions(device_mode=mode, gpu=gpu, text_encoder_on_cpu=True)
        repo = render_repository(options, tmp_path / f"{mode}-{gpu}")
        expected = {"text_encoder", "vae_encoder", "latent_upsampler", "vae_decoder", "audio_decoder", "pipeline", "pipeline_unary", *denoisers}
        assert set(model_names(options)) == expected == {p.name for p in repo.iterdir()}
        for name in denoisers:
            config = (repo / name / "config.pbtxt").read_text()
            assert _instance_groups(config).startswith(f"{{ kind: {kind} count: 1")
            assert f'key: "device_mode" value: {{ string_value: "{mode}" }}' in config
        assert "KIND_CPU" in _instance_groups((repo / "text_encoder" / "config.pbtxt").read_text())  # Gemma kept on CPU
        pipeline = (repo / "pipeline" / "config.pbtxt").read_text()
        assert ("stage_denoisers" in pipeline) == (mode == "resident")
        assert ("TYPE_BF16" in (repo / denoisers[0] / "config.pbtxt").read_text()) == gpu


def test_torch_compile_mode_reaches_every_denoiser_and_nothing_else(tmp_path):
    options = RepositoryOptions(device_mode="resident", torch_compile_mode="reduce-overhead")
    repo = render_repository(options, tmp_path / "repo")
    for name in model_names(options):
        config = (repo / name / "config.pbtxt").read_text()
        assert ('key: "torch_compile_mode" value: { string_value: "reduce-overhead" }' in config) == name.startswith("denoiser"), name
    default = render_repository(RepositoryOptions(), tmp_path / "default")
    assert "torch_compile_mode" not in (default / "denoiser" / "config.pbtxt").read_text()


def test_one_stage_only_repository_has_no_upsampler(tmp_path):
    options = RepositoryOptions(pipeline_classes=("LTX2Pipeline",), device_mode="resident")
    assert "latent_upsampler" not in model_names(options) and "denoiser" in model_names(options)


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    from PIL import Image

    path = tmp_path_factory.mktemp("img") / "first.png"
    pixels = np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def _two_stage_request(image: Path) -> GenerationRequest:
    return GenerationRequest(
        prompt="A red fox runs through fresh snow at dawn", pipeline_class_name="LTX2TwoStagePipeline",
        width=128, height=128, num_frames=9, num_inference_steps=2, seed=4, image_paths=(str(image),),
    )


def _in_process(request: GenerationRequest, mode: str, model: Path = MODEL, version: str = "2"):
    from ltx_backend.runtime.local_components import load_pipeline

    pipeline = load_pipeline(str(model), device=torch.device("cpu"), pipeline_class_name=request.pipeline_class_name, device_mode=mode)
    return pipeline(request.resolve(version))


def test_serve_command_resident_mode_compiled_serves_two_stage_with_an_image_and_stops_on_ctrl_c(tmp_path, image):
    """`serve` with --enable-torch-compile: each denoiser process compiles its blocks with inductor (inside the
    python backend's stub, whose embedded Python defaults text files to ASCII under a C locale: see
    serving/base.py use_utf8_locale). Compiled code may round differently from eager: frames within 2 levels."""
    ports = [free_port() for _ in range(3)]
    command = [sys.executable, "-m", "ltx_client.cli", "serve", "--model-path", str(MODEL), "--ltx2-two-stage-device-mode", "resident",
               "--port", str(ports[0]), "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2]), "--run-dir", str(tmp_path), "--device", "cpu",
               "--enable-torch-compile"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "Ctrl-C stops the server" in line or process.poll() is not None:
                break
        out = "".join(lines)
        assert "ready in" in out and f"127.0.0.1:{ports[1]}" in out, out  # the default bind address
        assert {p.name for p in (tmp_path / "model_repository").iterdir()} >= {"denoiser_stage1", "denoiser_stage2"}
        request = _two_stage_request(image)
        progress = []
        served = generate_grpc(f"localhost:{ports[1]}", request, on_progress=lambda p: progress.append((p.stage, p.step)), return_raw=True, timeout=600)
        assert progress == [(1, 1), (1, 2), (2, 1), (2, 2), (2, 3)]
        local = _in_process(request, "resident")
        difference = np.abs(served.frames.astype(np.int16) - local.frames.astype(np.int16))
        assert difference.max() <= 2 and difference.mean() < 0.05, (difference.max(), difference.mean())
        np.testing.assert_allclose(served.audio, local.audio, atol=1e-4)
        assert 'key: "torch_compile_mode" value: { string_value: "default" }' in (tmp_path / "model_repository/denoiser_stage2/config.pbtxt").read_text()
        metrics = subprocess.run(["curl", "-s", f"localhost:{ports[2]}/metrics"], capture_output=True, text=True).stdout
        assert 'nv_inference_request_success{model="denoiser_stage2"' in metrics
    finally:
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=120)[0]
    assert process.returncode == 0, rest
    assert "stopping tritonserver" in rest


@pytest.mark.parametrize("mode,version", [("original", "2"), ("snapshot", "2.3")])
def test_switching_modes_serve_the_same_two_stage_video(tmp_path, image, mode, version):
    model = ROOT / f"build/tiny/ltx-{version}"
    classes = ("LTX2Pipeline", "LTX2TwoStagePipeline") + (("LTX2TwoStageHQPipeline",) if version == "2.3" else ())
    repo = render_repository(RepositoryOptions(model_path=str(model), device_mode=mode, pipeline_classes=classes), tmp_path / "repo")
    server = TritonServer(repo, free_port(), free_port(), free_port(), log_path=tmp_path / "server.log").start(timeout=600)
    request = _two_stage_request(image)
    hq = GenerationRequest(prompt="A red fox runs through fresh snow at dawn", pipeline_class_name="LTX2TwoStageHQPipeline",
                           width=128, height=128, num_frames=9, num_inference_steps=2, seed=5)
    try:
        first = generate_grpc(server.grpc_url, request, return_raw=True, timeout=600)
        one_stage = generate_grpc(server.grpc_url, GenerationRequest(prompt="a fox", width=64, height=64, num_frames=9, num_inference_steps=2), timeout=600)
        again = generate_grpc(server.grpc_url, request, return_raw=True, timeout=600)  # back from stage-1 weights
        served_hq = generate_grpc(server.grpc_url, hq, return_raw=True, timeout=600) if version == "2.3" else None
        metrics = subprocess.run(["curl", "-s", f"localhost:{server.metrics_port}/metrics"], capture_output=True, text=True).stdout
    finally:
        server.stop()
    if version == "2":  # each two-stage request: 2 + 3 steps and 3 prepare requests (stage 1, 2, then 1 again)
        assert re.search(r'nv_inference_request_success\{model="denoiser",version="1"\} 18\b', metrics), metrics[:3000]
    # every model process computes with this process's CPU thread count (a GEMM's sums split by thread)
    assert set(re.findall(r"torch CPU threads: (\d+)", (tmp_path / "server.log").read_text())) == {str(torch.get_num_threads())}
    local = _in_process(request, mode, model, version)
    assert_same_video(first, local)
    assert_same_video(again, local)
    assert one_stage.mp4
    if served_hq is not None:  # the HQ pipeline's res_2s sampler over per-step BLS calls
        assert_same_video(served_hq, _in_process(hq, mode, model, version))


def assert_same_video(served, local) -> None:
    """The same video, but for at most 0.05% of the frames' values one level apart and the audio within 1e-5.
    Nearly every run is bit-identical; two clean-clone CI runs of about ten (2026-12-06, -07) served 26 and 29 of
    442,368 values one level off, with every process on the same CPU thread count (checked above), and runs here
    under CPU load did not reproduce it: some float sum still differs between the served processes and this one
    now and then. Not reproduced either (2026-12-07, two busy-loop processes beside each): 400 in-process runs, 37
    requests to one snapshot-mode 2.3 server, 12 fresh servers with 2 requests each, and the whole suite in order
    (every served video of this file compared): all bit-identical. A wrong seed, stage, guidance or weight set
    moves far more than this."""
    difference = np.abs(served.frames.astype(np.int16) - local.frames.astype(np.int16))
    off = int(np.count_nonzero(difference))
    assert served.frames.shape == local.frames.shape and difference.max() <= 1 and off <= 5e-4 * difference.size, (difference.max(), off)
    np.testing.assert_allclose(served.audio, local.audio, rtol=0, atol=1e-5)


@pytest.mark.parametrize("extra,message", [
    (["--lora-scale", "nan"], "invalid --lora-scale=nan: a number between -10 and 10"),
    (["--lora-weight-name", "style.safetensors"], "invalid --lora-weight-name='style.safetensors': only with --lora-path"),
    (["--port", "99999"], "invalid --port=99999: an integer between 1 and 65535"),
    (["--port", "8001"], "invalid --port=8001: three different ports"),
    (["--pipeline-instances", "0"], "invalid --pipeline-instances=0"),
    (["--gpu-id", "-1"], "invalid --gpu-id=-1"),
    (["--cuda-memory-pool-mib", "-5"], "invalid --cuda-memory-pool-mib=-5"),
], ids=["lora-scale", "weight-name-alone", "port-range", "port-twice", "instances", "gpu-id", "pool"])
def test_serve_refuses_bad_flags_before_starting_anything(tmp_path, capsys, extra, message):
    from ltx_client.cli import main

    assert main(["serve", "--model-path", str(MODEL), "--run-dir", str(tmp_path)] + extra) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "model_repository").exists()


def test_serve_refuses_a_port_in_use_naming_its_flag(tmp_path, capsys):
    """tritonserver would load every model first, then fail to bind: refused before anything starts."""
    import socket

    from ltx_client.cli import main

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model-path", str(MODEL), "--run-dir", str(tmp_path), "--grpc-port", str(port)]) == 2
    assert f"invalid --grpc-port={port}: a free port (127.0.0.1:{port}: Address already in use)" in capsys.readouterr().err
    assert not (tmp_path / "model_repository").exists()
