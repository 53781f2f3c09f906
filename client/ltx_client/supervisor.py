"""Keep tritonserver serving: `ltx-triton serve` starts it through a Supervisor, which restarts it when it dies.

A death (a signal such as SIGSEGV, or an exit code) is reported with its cause; the shared-memory regions of
the dead run are removed (each run's python-backend regions carry their own name prefix, so no other server's
are touched); then the server is started again after a backoff of 1, 2, 4 ... s, at most `max_restarts` times
within `window_s`. While it restarts its ports answer nothing, so /v2/health/ready says not ready.
"""
from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable

from ltx_client.server import ServerError, TritonServer


def shm_prefix(run_id: str, attempt: int) -> str:
    """The python backend's shared-memory region name prefix of one start of the server."""
    return f"ltx_triton_{run_id}_{attempt}_"


def cause_of_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"signal {-returncode} ({signal.Signals(-returncode).name})"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


class Supervisor:
    def __init__(self, make_server: Callable[[str], TritonServer], run_id: str, startup_timeout: float,
                 max_restarts: int = 3, window_s: float = 600.0, say: Callable[[str], None] = print):
        self.make_server, self.run_id, self.startup_timeout = make_server, run_id, startup_timeout
        self.max_restarts, self.window_s, self.say = max_restarts, window_s, say
        self.attempt = 0
        self.started_at = time.monotonic()
        self.restarts: list[float] = []
        self.server: TritonServer | None = None

    def start(self) -> TritonServer:
        self.started_at = time.monotonic()
        self.server = self.make_server(shm_prefix(self.run_id, self.attempt))
        return self.server.start(timeout=self.startup_timeout)

    def watch(self, on_ready: Callable[[], None]) -> int:
        """Serve until interrupted (KeyboardInterrupt, raised by serve's SIGINT / SIGTERM handler) or until the
        restarts are spent: 0 for a requested stop, 1 when the server could not be kept up."""
        while True:
            returncode = self.server.process.poll()
            if returncode is None:
                time.sleep(0.5)
                continue
            removed = self.server.stop()  # the dead server's stubs may live on, holding memory and regions
            now = time.monotonic()
            self.restarts = [t for t in self.restarts if now - t < self.window_s]
            print(f"error: tritonserver died ({cause_of_exit(returncode)}); removed {removed} shared-memory regions of that run",
                  file=sys.stderr, flush=True)
            if len(self.restarts) >= self.max_restarts:
                print(f"error: {len(self.restarts)} restarts in {self.window_s:.0f} s: giving up; see {self.server.log_path}", file=sys.stderr)
                return 1
            backoff = 2.0 ** len(self.restarts)
            self.restarts.append(now)
            self.attempt += 1
            self.say(f"restarting tritonserver in {backoff:.0f} s ({len(self.restarts)}/{self.max_restarts}) ...")
            time.sleep(backoff)
            try:
                self.start()
            except ServerError as error:  # a failed start is one more death (its process has exited or was stopped)
                print(f"error: {error}", file=sys.stderr, flush=True)
                continue
            on_ready()

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()  # its regions go with it (TritonServer.stop)
