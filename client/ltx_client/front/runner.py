"""Run the HTTP and gRPC front proxies on one event loop in a background thread of the `serve` process."""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from pathlib import Path

from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage

from ltx_client.front import grpc_proxy, http_proxy

# How long stop() lets requests in flight finish, as tritonserver's --exit-timeout-secs (30 by default) does.
DRAIN_SECONDS = 30.0


class OneLineForBadRequests(logging.Filter):
    """aiohttp logs a request it cannot parse (a gRPC client on the HTTP port, a port scanner) as an error with a
    traceback and a byte dump; the client has its 400 already: one warning line, with what it likely was."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, BadHttpMessage):
            first_line = str(error.message).strip().splitlines()[0].rstrip(":") if error.message else "unparsable"
            record.msg, record.args, record.exc_info, record.exc_text = (
                "%s: not HTTP/1.x (%s), answered 400 (a gRPC client on the HTTP port?)", (record.getMessage(), first_line), None, None)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


HTTP_LOG = logging.getLogger(f"{__name__}.http")  # the HTTP proxy's server log (aiohttp's, filtered)
HTTP_LOG.addFilter(OneLineForBadRequests())


class FrontProxies:
    """HTTP on host:http_port and gRPC on host:grpc_port, relaying to tritonserver's ports on 127.0.0.1."""

    def __init__(self, host: str, http_port: int, grpc_port: int, upstream_http_port: int, upstream_grpc_port: int,
                 limit: int, disconnects: Path | None = None):
        self.host, self.http_port, self.grpc_port, self.limit, self.disconnects = host, http_port, grpc_port, limit, disconnects
        self.upstream_http, self.upstream_grpc = f"http://127.0.0.1:{upstream_http_port}", f"127.0.0.1:{upstream_grpc_port}"
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="front-proxies", daemon=True)
        self._runner: web.AppRunner | None = None
        self._grpc = None

    async def _start(self) -> None:
        self._runner = web.AppRunner(http_proxy.make_app(self.upstream_http, self.limit, self.disconnects), handler_cancellation=True,
                                     access_log=None, shutdown_timeout=DRAIN_SECONDS, logger=HTTP_LOG)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.http_port, reuse_address=True).start()
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._grpc, self._channel = grpc_proxy.make_server(self.upstream_grpc, f"{host}:{self.grpc_port}", self.limit)
        await self._grpc.start()

    async def _stop(self) -> None:
        """Refuse new connections, let the requests in flight finish (up to DRAIN_SECONDS), then close the
        connections to tritonserver: stopped first, tritonserver then exits at once instead of waiting its exit
        timeout out on this proxy's idle keep-alive connections."""
        stops = []
        if self._grpc is not None:
            stops.append(self._grpc.stop(grace=DRAIN_SECONDS))
        if self._runner is not None:
            stops.append(self._runner.cleanup())
        await asyncio.gather(*stops, return_exceptions=True)  # one failing does not keep the other's connections open
        if self._grpc is not None:
            await self._channel.close()

    def start(self) -> FrontProxies:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)
        return self

    def wait_upstream_ready(self, timeout: float = 10.0) -> bool:
        """Until the gRPC relay's channel to tritonserver is connected: after a restart it may still be between
        two reconnect attempts when tritonserver is ready, and a call then fails at once. False after `timeout`."""

        async def connected() -> None:
            await asyncio.wait_for(self._channel.channel_ready(), timeout)

        try:
            asyncio.run_coroutine_threadsafe(connected(), self.loop).result(timeout=timeout + 5)
            return True
        except (asyncio.TimeoutError, concurrent.futures.TimeoutError):
            return False

    def stop(self) -> None:
        if self.thread.is_alive():
            # aiohttp waits up to its shutdown timeout for handlers, cancels the rest and waits as long again
            asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=2 * DRAIN_SECONDS + 30)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
