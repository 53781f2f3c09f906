"""`ltx-triton serve` keeps serving when tritonserver dies, and stops on SIGINT however it was started (#18).

One serve process, started as a script's `serve &` starts it (SIGINT ignored): the 400 KB nested-JSON body that
makes tritonserver 2.51's HTTP front end segfault is refused by serve's front proxy (400), then posted to
tritonserver's private port, where it crashes it; the supervisor reports the death, removes that run's
shared-memory regions and restarts the server; the next request is served. SIGINT during a request then stops it
cleanly: the request in flight finishes through the front proxy, whose connections to tritonserver close before
tritonserver stops (it would otherwise wait its 30 s exit timeout out on them).
"""
from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from ltx_backend.request import GenerationRequest
from ltx_client.remote import RemoteError, generate_grpc
from ltx_client.server import SHM, free_port
from ltx_client.supervisor import shm_prefix

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "build/tiny/ltx-2"
pytestmark = pytest.mark.server


def _read_until(process: subprocess.Popen, marker: str, lines: list[str], timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        lines.append(line)
        if marker in line:
            return
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {marker!r} in the output:\n{''.join(lines)}")


def _post(port: int, body: bytes):
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/pipeline_unary/infer", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    return urllib.request.urlopen(request, timeout=60)


def _tritonserver_pid(serve_pid: int) -> int:
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(serve_pid)], capture_output=True, text=True).stdout
    (pid,) = [int(line.split()[0]) for line in out.splitlines() if line.split()[1] == "tritonserver"]
    return pid


def _knock_until(url: str, done: threading.Event, refusals: list[str]) -> None:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    while not done.is_set():
        client = grpcclient.InferenceServerClient(url)
        try:
            client.is_server_ready()
        except InferenceServerException as error:  # refused while the server is down
            refusals.append(error.message() or "")
        finally:
            client.close()
        time.sleep(0.2)


def test_serve_restarts_a_crashed_server_and_stops_on_sigint_in_the_background(tmp_path):
    http, grpc, metrics = (free_port() for _ in range(3))
    command = [sys.executable, "-m", "ltx_client.cli", "serve", "--model-path", str(MODEL), "--pipeline-class-name", "LTX2Pipeline",
               "--port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics), "--run-dir", str(tmp_path), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))  # as `serve &` in a script
    lines: list[str] = []
    try:
        _read_until(process, "Ctrl-C stops the server", lines)
        first = shm_prefix(f"{process.pid}_*", 0)  # the run id: pid and a random token
        assert list(SHM.glob(first + "*")), "the python backend's regions carry the run's prefix"
        crashed_pid = _tritonserver_pid(process.pid)
        body = b"[" * 200_000 + b"]" * 200_000
        # serve's front proxy refuses the body that segfaults tritonserver 2.51's HTTP front end ...
        with pytest.raises(urllib.error.HTTPError) as refused:
            _post(http, body)
        assert refused.value.code == 400 and b"nested at most" in refused.value.read()
        # ... which is still reachable on its private port (a deployment without the proxy): the crash, supervised
        private = int(re.search(r"--http-port=(\d+)", Path(f"/proc/{crashed_pid}/cmdline").read_bytes().replace(b"\0", b" ").decode())[1])
        assert private != http
        try:
            _post(private, body)
        except OSError:
            pass  # the connection dies with the server (or a 4xx/5xx where it survives)
        time.sleep(5)
        if process.poll() is None and _tritonserver_pid(process.pid) == crashed_pid and Path(f"/proc/{crashed_pid}").exists():
            # A build whose parser survives that body: crash it the way the body does, to test the supervision.
            subprocess.run(["kill", "-SEGV", str(crashed_pid)], check=True)
        # gRPC clients knock while it restarts: the proxy's channel to tritonserver must not back off past its return
        restarted, refusals = threading.Event(), []
        knocking = threading.Thread(target=_knock_until, args=(f"localhost:{grpc}", restarted, refusals), daemon=True)
        knocking.start()
        _read_until(process, "restarting tritonserver", lines)
        _read_until(process, "Ctrl-C stops the server", lines)
        restarted.set()
        knocking.join(30)
        assert any("tritonserver is not up behind this port (starting, or restarting after a crash)" in r for r in refusals), refusals[:3]
        out = "".join(lines)
        assert "tritonserver died (signal 11 (SIGSEGV))" in out, out
        assert not list(SHM.glob(first + "*")), "the dead run's shared-memory regions are removed"
        with urllib.request.urlopen(f"http://127.0.0.1:{http}/v2/health/ready", timeout=60) as ready:  # a kept-alive
            assert ready.status == 200  # connection from the proxy to tritonserver
        # a class this server does not run is named as such, before the fields that class would refuse
        with pytest.raises(RemoteError) as refused:
            generate_grpc(f"localhost:{grpc}", GenerationRequest(prompt="a fox", pipeline_class_name="LTX2DistilledPipeline",
                                                                num_inference_steps=2), timeout=600)
        # (at once after the ready line, however long clients were refused during the restart)
        assert "invalid pipeline_class_name='LTX2DistilledPipeline': one this server runs: LTX2Pipeline" in str(refused.value)
        request = GenerationRequest(prompt="a fox", width=64, height=64, num_frames=9, num_inference_steps=3)
        stepped, served = threading.Event(), []
        client = threading.Thread(target=lambda: served.append(
            generate_grpc(f"localhost:{grpc}", request, on_progress=lambda p: stepped.set(), timeout=600)))
        client.start()
        assert stepped.wait(600), "no progress"
        process.send_signal(signal.SIGINT)  # while the request is in flight
        client.join(600)
        assert served and served[0].mp4, "the request in flight was cut at the stop"
    finally:
        process.send_signal(signal.SIGINT)
        rest = process.communicate(timeout=120)[0]
    assert process.returncode == 0, rest
    assert "stopping tritonserver" in rest
    log = (tmp_path / "tritonserver.log").read_text()  # both runs' (the first ended in its crash)
    assert "Waiting for in-flight requests" in log
    assert "HTTP service connections" not in log  # tritonserver found the proxy's connections closed at its stop
    assert not list(SHM.glob(shm_prefix(f"{process.pid}_*", 1) + "*"))


def test_a_model_that_fails_to_load_is_named_with_its_error(tmp_path):
    """tritonserver's last lines are the other models' unloads: the error names the model that failed and why."""
    import shutil

    from ltx_client.server import ServerError, TritonServer

    repository = tmp_path / "repository"
    shutil.copytree(ROOT / "model_repository/vae_decoder", repository / "vae_decoder")
    shutil.copytree(ROOT / "model_repository/audio_decoder", repository / "audio_decoder")
    server = TritonServer(repository, free_port(), free_port(), free_port(), log_path=tmp_path / "server.log",
                          env={"LTX_MODEL_PATH": str(tmp_path / "no-such-model")})
    with pytest.raises(ServerError) as error:
        server.start(timeout=300)
    message = str(error.value)
    # the error, and where it was raised (not the adapter's initialize that every failure passes through)
    assert re.search(r"models that failed to load:\n  (vae|audio)_decoder: .*no-such-model.* \(at [^)]*loading/model_path\.py\(\d+\)", message), message[:2000]
