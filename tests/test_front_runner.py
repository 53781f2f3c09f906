"""serve's front proxies without a tritonserver behind them (client/ltx_client/front/runner.py): what a client that
talks the wrong protocol to the HTTP port gets, and what serve's log says of it."""
from __future__ import annotations

import logging

import pytest

from ltx_backend.request import GenerationRequest
from ltx_client.front.runner import HTTP_LOG, FrontProxies
from ltx_client.remote import RemoteError, generate_grpc
from ltx_client.server import free_port


def test_a_grpc_client_on_the_http_port_is_told_so_and_logged_in_one_line(caplog):
    proxies = FrontProxies("127.0.0.1", free_port(), free_port(), free_port(), free_port(), limit=1 << 20).start()
    try:
        with caplog.at_level(logging.INFO, logger=HTTP_LOG.name), pytest.raises(RemoteError) as refused:
            generate_grpc(f"127.0.0.1:{proxies.http_port}", GenerationRequest(prompt="a fox"), timeout=60)
    finally:
        proxies.stop()
    assert "that is an HTTP port: --url takes the server's gRPC port" in str(refused.value), str(refused.value)
    records = [r for r in caplog.records if r.name == HTTP_LOG.name]
    assert records, "aiohttp logged nothing"
    for record in records:  # aiohttp's traceback and byte dump of the HTTP/2 preface: one warning line instead
        assert record.levelno == logging.WARNING and record.exc_info is None and record.exc_text is None
        assert ": not HTTP/1.x (" in record.getMessage(), record.getMessage()  # then the parser's first line of why
        assert record.getMessage().endswith("), answered 400 (a gRPC client on the HTTP port?)"), record.getMessage()
