"""HTTP/KServe v2 front proxy: a request whose body is over the limit is answered 413 before tritonserver sees
a byte of it; every other request is passed through as it is (streamed responses such as SSE stream on).

tritonserver 2.51 has no body limit (2.59 added `--http-max-input-size`, for HTTP only): one 200 MB request
grew its memory and the python backend's shared-memory region by ~280 MB until a restart. Compressed bodies
(`Content-Encoding: gzip` / `deflate`, which Triton accepts) are decoded as they are read, the limit counting
decoded bytes, and forwarded plain: a small compressed body cannot grow past it either.
"""
from __future__ import annotations

import json

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

# Per connection, not end to end: a proxy does not forward these (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "content-length"})
CHUNK = 1 << 16
# aiohttp's parser decodes these bodies as they are read (the limit counts decoded bytes); identity passes as it is.
DECODED_ENCODINGS = frozenset({"identity", "gzip", "deflate"})
SESSION = web.AppKey("session", aiohttp.ClientSession)


def too_large(what: str, size: int | str, limit: int) -> web.Response:
    message = f"request {what} of {size} bytes is over the limit of {limit} bytes (ltx-triton serve --max-request-bytes)"
    return web.Response(status=413, text=json.dumps({"error": message}), content_type="application/json")


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The request's body, or None as soon as more than `limit` bytes have come (no more is read)."""
    body = bytearray()
    async for chunk in request.content.iter_chunked(CHUNK):
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


def make_app(upstream: str, limit: int) -> web.Application:
    """Proxy every path to `upstream` (http://host:port of tritonserver's HTTP endpoint)."""

    async def open_session(app: web.Application):
        app[SESSION] = aiohttp.ClientSession(
            upstream, timeout=aiohttp.ClientTimeout(total=None), connector=aiohttp.TCPConnector(limit=0),
            auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
        yield
        await app[SESSION].close()

    async def proxy(request: web.Request) -> web.StreamResponse:
        encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
        if encoding not in DECODED_ENCODINGS:
            return web.Response(status=415, content_type="application/json", text=json.dumps(
                {"error": f"Content-Encoding {encoding!r}: gzip, deflate or none"}))
        declared = request.content_length
        if declared is not None and declared > limit:
            return too_large("body", declared, limit)  # answered from the headers: the body is not read
        body = await read_body(request, limit)
        if body is None:
            return too_large("body", f"over {limit}", limit)  # counted as read (chunked, decoded)
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
        headers.popall("Content-Encoding", None)  # the body goes on decoded
        try:
            upstream_response = await request.app[SESSION].request(
                request.method, request.rel_url, headers=headers, data=body if request.body_exists else None,
                allow_redirects=False)
        except aiohttp.ClientError as error:  # tritonserver is down (restarting) or dropped the connection
            return web.Response(status=502, content_type="application/json",
                                text=json.dumps({"error": f"tritonserver did not answer: {error}"}))
        async with upstream_response:
            response = web.StreamResponse(status=upstream_response.status, reason=upstream_response.reason)
            for key, value in upstream_response.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            if upstream_response.content_length is not None:
                response.content_length = upstream_response.content_length
            await response.prepare(request)
            # A client that goes away cancels this handler (handler_cancellation): the upstream connection is then
            # closed, which tritonserver takes as the end of an SSE stream.
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=limit)
    app.cleanup_ctx.append(open_session)
    app.router.add_route("*", "/{path:.*}", proxy)
    return app
