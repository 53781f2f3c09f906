"""Start and stop a real `tritonserver` on a model repository: find the binary and its backends, put this
Python environment first on PATH (the python backend's stub then imports its packages: torch, ltx_backend),
wait until the server is ready, stop it cleanly."""
from __future__ import annotations

import functools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from ltx_backend.serving.client_disconnects import TOKEN_PARAMETER
from ltx_backend.serving.request_fields import GRPC_MARKER_HEADER, HTTP_MARKER_HEADER

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # client/ltx_client/server.py -> the project root


class ServerError(RuntimeError):
    pass


def find_tritonserver() -> Path:
    """$TRITONSERVER, then build/triton-server (make setup), then PATH, then the NGC image's location."""
    candidates = [
        os.environ.get("TRITONSERVER"),
        PROJECT_ROOT / "build/triton-server/server/pytriton/tritonserver/bin/tritonserver",
        shutil.which("tritonserver"),
        "/opt/tritonserver/bin/tritonserver",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ServerError("tritonserver not found: run `make setup` (installs it into build/triton-server) or set TRITONSERVER")


# The python backend hands BYTES tensors (prompts, images) to its stub through pybind11's numpy support, which
# before tritonserver 2.52 (pybind11 2.10; python_backend PR #384) misreads numpy 2's arrays: the stub dies on the
# first request with a text input. The nvidia-pytriton 0.7.0 wheel (make setup) is 2.51.
FIRST_SERVER_FOR_NUMPY_2 = (2, 52)


def numpy_incompatibility(server_version: str, numpy_version: str) -> str | None:
    """Why tritonserver `server_version` cannot run our models with numpy `numpy_version` in the stubs, or None."""
    def major_minor(version: str) -> tuple[int, int]:
        major, minor = (int("".join(c for c in part if c.isdigit()) or 0) for part in (version.split(".") + ["0"])[:2])
        return major, minor

    if major_minor(numpy_version)[0] < 2 or major_minor(server_version) >= FIRST_SERVER_FOR_NUMPY_2:
        return None
    return (f"tritonserver {server_version}'s python backend cannot pass BYTES tensors (prompts, images) with numpy "
            f"{numpy_version}, which its stubs would import from {sys.prefix}: every request would crash a stub. Install "
            f"numpy<2 there (pip install 'numpy<2') or use tritonserver >= {'.'.join(map(str, FIRST_SERVER_FOR_NUMPY_2))}")


@functools.cache  # one environment per process: asked once, not at every (re)start
def stub_numpy_version() -> str:
    """The numpy the python-backend stubs import: they run this environment's interpreter isolated (site-packages
    and .pth files; PYTHONPATH ignored), so ask such an interpreter."""
    out = subprocess.run([sys.executable, "-I", "-c", "import numpy; print(numpy.__version__)"], capture_output=True,
                         text=True, timeout=60)
    return out.stdout.strip() if out.returncode == 0 else "0"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


SHM = Path("/dev/shm")


def remove_shm_regions(prefix: str) -> int:
    """Remove the shared-memory regions named `prefix`* (one server's); returns how many."""
    removed = 0
    for region in SHM.glob(prefix + "*"):
        try:
            region.unlink()
            removed += 1
        except OSError:
            pass
    return removed


LOAD_FAILURE = re.compile(r"failed to load '([^']+)' version \d+: (.*?)\"?$")


def load_failures(log_lines: list[str]) -> dict[str, str]:
    """{model: the error it failed to load with} from tritonserver's log: the error's first line and where it was
    raised (the first frame of the stub's `At:` list, innermost first)."""
    failed = {}
    for line in log_lines:
        match = LOAD_FAILURE.search(line)
        if match and match[1] not in failed:
            text = match[2].replace('\\"', '"')
            message, _, frames = text.partition("\\n\\nAt:\\n")
            where = next((frame.strip() for frame in frames.split("\\n") if frame.strip()), None)
            failed[match[1]] = message.split("\\n")[0] + (f" (at {where})" if where else "")
    return failed


@dataclass
class TritonServer:
    repository: Path
    http_port: int = 8000
    grpc_port: int = 8001
    metrics_port: int = 8002
    host: str = "0.0.0.0"
    metrics_host: str | None = None  # default: host (serve binds HTTP and gRPC to 127.0.0.1 behind its front proxies)
    log_path: Path | None = None
    shm_default_bytes: int = 16 * 2**20  # per-model shared-memory region; grows on demand
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    # The python backend's shared-memory regions of this server are named with this prefix, so that stop() (also
    # after a crash, from the supervisor) removes exactly them: the backend leaves them behind when stubs are killed.
    shm_prefix: str = field(default_factory=lambda: f"ltx_triton_{secrets.token_hex(6)}_")

    def command(self) -> list[str]:
        binary = find_tritonserver()
        backends = binary.parent.parent / "backends"
        return [
            str(binary),
            f"--model-repository={self.repository}",
            f"--backend-directory={backends}",
            f"--http-address={self.host}", f"--http-port={self.http_port}",
            f"--grpc-address={self.host}", f"--grpc-port={self.grpc_port}",
            f"--metrics-address={self.metrics_host or self.host}", f"--metrics-port={self.metrics_port}",
            f"--backend-config=python,shm-default-byte-size={self.shm_default_bytes}",
            f"--backend-config=python,shm-region-prefix-name={self.shm_prefix}",
            "--backend-config=python,shm-growth-byte-size=16777216",
            # gRPC and HTTP /infer requests carry these as parameters; the pipeline models then know which requests
            # came through the JSON-only generate endpoints (serving/request_fields.py)
            f"--grpc-header-forward-pattern=(?i)^{GRPC_MARKER_HEADER}$",
            f"--http-header-forward-pattern=(?i)^({HTTP_MARKER_HEADER}|{TOKEN_PARAMETER})$",  # and serve's proxy's token
            "--strict-readiness=true",
            "--exit-on-error=true",
            # our configs are complete: without this, the python backend starts one more process per model (importing
            # torch and ltx_backend) only to ask model.py for a config it does not complete
            "--disable-auto-complete-config",
            # every model of the repository loads at once (tritonserver's default loads 4 at a time: the other
            # three of ours then wait for the slowest of the first four)
            f"--model-load-thread-count={max(4, len([d for d in self.repository.iterdir() if (d / 'config.pbtxt').exists()]))}",
            *self.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        venv_bin = str(Path(sys.executable).parent)
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
        env.update(self.env)
        return env

    def start(self, timeout: float = 300.0) -> TritonServer:
        if self.log_path:
            with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
                self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=self.environment(), start_new_session=True)
        else:
            self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env=self.environment(),
                                            start_new_session=True)
        self.wait_ready(timeout)
        problem = numpy_incompatibility(self.server_version(), stub_numpy_version())
        if problem:
            self.stop()
            raise ServerError(problem)
        return self

    def server_version(self) -> str:
        """The running server's version (KServe v2 server metadata)."""
        with urllib.request.urlopen(f"http://{self.http_url}/v2", timeout=10) as response:
            return json.loads(response.read())["version"]

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the server's session (its python-backend stubs) once it has exited."""
        if self.process is not None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    @property
    def http_url(self) -> str:
        return f"127.0.0.1:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}/v2/health/ready", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ServerError(f"tritonserver exited with code {self.process.returncode} before it was ready{self._log_tail()}")
            if self.ready():
                return
            time.sleep(0.5)
        self.stop()
        raise ServerError(f"tritonserver not ready after {timeout:.0f} s{self._log_tail()}")

    def _log_tail(self) -> str:
        """The models that failed to load and why (their lines scroll out of the tail behind the unloads that
        follow), then the log's last 30 lines."""
        if not (self.log_path and Path(self.log_path).exists()):
            return ""
        lines = Path(self.log_path).read_text(errors="replace").splitlines()
        failed = load_failures(lines)
        causes = "".join(f"\n  {model}: {cause}" for model, cause in failed.items())
        return (f"; models that failed to load:{causes}" if failed else "") + "; log tail:\n" + "\n".join(lines[-30:])

    def pids(self) -> list[int]:
        """The server and its python-backend stub processes."""
        if self.process is None:
            return []
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True).stdout
        return [self.process.pid, *(int(p) for p in out.split())]

    def resident_bytes(self) -> int:
        """Resident memory (RSS) of the server and its stubs together."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except OSError:
                pass
        return total

    def stop(self, timeout: float = 60.0) -> int:
        """Stop the server (or clean up after it, when it has died): its session killed, its shared-memory regions
        removed. Returns how many regions were left to remove."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # tritonserver unloads its models and exits
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.kill_group()
        return remove_shm_regions(self.shm_prefix)
