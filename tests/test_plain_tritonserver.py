"""The checked-in model repository under a tritonserver started by hand, with the command model_repository/README.md
gives (not `ltx-triton serve`): it loads, and the README's clients get their MP4 from it, the Python example's
request (no output named) raw over HTTP /infer, a JSON request that names VIDEO_MP4 raw, generate's as base64."""
from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import tritonclient.http as httpclient

from ltx_backend.media import probe_mp4
from ltx_client.server import free_port

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.server
PARAMETERS = {"width": 64, "height": 64, "num_frames": 9, "num_inference_steps": 2, "seed": 10}


def readme_command() -> str:
    readme = (ROOT / "model_repository/README.md").read_text()
    (block,) = re.findall(r"```bash\n(.*?)```", readme, re.S)
    return block.replace("\\\n", " ").strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    command = readme_command()
    assert "tritonserver --model-repository model_repository" in command and "LTX_MODEL_PATH=build/tiny/ltx-2.3" in command
    http, grpc, metrics = free_port(), free_port(), free_port()
    log = tmp_path_factory.mktemp("plain") / "tritonserver.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LTX_", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/bin:/bin"  # the README's command puts the venv first itself
    with open(log, "wb") as out:
        process = subprocess.Popen(["bash", "-c", f"{command} --http-port {http} --grpc-port {grpc} --metrics-port {metrics}"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "not ready: " + log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=2) as ready:
                    if ready.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        yield f"127.0.0.1:{http}"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)


def test_the_python_example_gets_the_mp4_over_http_infer(server):
    client = httpclient.InferenceServerClient(server, network_timeout=600)
    prompt = httpclient.InferInput("PROMPT", [1], "BYTES")
    prompt.set_data_from_numpy(np.array([b"A red fox runs through fresh snow"], dtype=object))
    result = client.infer("pipeline_unary", [prompt], parameters=PARAMETERS)
    assert result.as_numpy("VIDEO_MP4_BASE64") is None
    info = probe_mp4(result.as_numpy("VIDEO_MP4")[0])
    assert (info.width, info.height, info.num_frames) == (64, 64, 9) and info.audio_streams == 1


def test_a_json_request_naming_video_mp4_gets_it_and_generate_gets_base64(server):
    body = {"parameters": PARAMETERS,
            "inputs": [{"name": "PROMPT", "shape": [1], "datatype": "BYTES", "data": ["A red fox runs through fresh snow"]}],
            "outputs": [{"name": "VIDEO_MP4", "parameters": {"binary_data": True}}]}
    request = urllib.request.Request(f"http://{server}/v2/models/pipeline_unary/infer", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as response:
        header_length = int(response.headers["Inference-Header-Content-Length"])
        answer = response.read()
    header = json.loads(answer[:header_length])
    assert [o["name"] for o in header["outputs"]] == ["VIDEO_MP4"]
    raw = answer[header_length + 4:]  # a BYTES element: 4-byte length, then the bytes
    assert probe_mp4(raw).num_frames == 9
    generate = {"PROMPT": "A red fox runs through fresh snow", **{k.upper(): v for k, v in PARAMETERS.items()}}
    request = urllib.request.Request(f"http://{server}/v2/models/pipeline_unary/generate", data=json.dumps(generate).encode())
    with urllib.request.urlopen(request, timeout=600) as response:
        answer = json.loads(response.read())
    info = probe_mp4(base64.b64decode(answer["VIDEO_MP4_BASE64"]))  # (the bytes may differ: media.py encode_mp4)
    assert (info.width, info.height, info.num_frames) == (64, 64, 9)
