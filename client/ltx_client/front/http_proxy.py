"""HTTP/KServe v2 front proxy: a request whose body is over the limit is answered 413 before tritonserver sees
a byte of it, an inference request whose JSON is malformed 400 naming the field (kserve_json.py: tritonserver
2.51 answers those 500, or crashes); every other request is passed through as it is (streamed responses such as
SSE stream on).

tritonserver 2.51 has no body limit (2.59 added `--http-max-input-size`, for HTTP only): one 200 MB request
grew its memory and the python backend's shared-memory region by ~280 MB until a restart. Compressed bodies
(`Content-Encoding: gzip` / `deflate`, which Triton accepts) are decoded as they are read, the limit counting
decoded bytes, and forwarded plain: a small compressed body cannot grow past it either.
"""
from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from ltx_backend.errors import InvalidRequest
from ltx_backend.serving.client_disconnects import TOKEN_PARAMETER, mark_disconnected, new_token
from ltx_backend.serving.repository import UNARY_PIPELINE_MODEL
from ltx_client.front import kserve_json

# Per connection, not end to end: a proxy does not forward these (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "content-length"})
CHUNK = 1 << 16
# aiohttp's parser decodes these bodies as they are read (the limit counts decoded bytes); identity passes as it is.
DECODED_ENCODINGS = frozenset({"identity", "gzip", "deflate"})
SESSION = web.AppKey("session", aiohttp.ClientSession)
INPUT_TYPES = web.AppKey("input_types", dict)  # model name -> {input name: datatype}


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


def make_app(upstream: str, limit: int, disconnects: Path | None = None) -> web.Application:
    """Proxy every path to `upstream` (http://host:port of tritonserver's HTTP endpoint). `disconnects`: where
    unary pipeline requests whose client went away are marked (the models' $LTX_DISCONNECTS_DIR), or None."""

    async def open_session(app: web.Application):
        app[SESSION] = aiohttp.ClientSession(
            upstream, timeout=aiohttp.ClientTimeout(total=None), connector=aiohttp.TCPConnector(limit=0),
            auto_decompress=False, skip_auto_headers=("User-Agent", "Accept-Encoding", "Content-Type"))
        yield
        await app[SESSION].close()

    async def input_types(app: web.Application, model: str) -> dict[str, str] | None:
        """The model's input datatypes from tritonserver (kept per model), or None where it does not say."""
        if model not in app[INPUT_TYPES]:
            try:
                async with app[SESSION].get(f"/v2/models/{quote(model, safe='')}/config") as response:
                    if response.status != 200:
                        return None
                    app[INPUT_TYPES][model] = kserve_json.datatypes_of(await response.json())
            except (aiohttp.ClientError, ValueError, KeyError, TypeError):
                return None
        return app[INPUT_TYPES][model]

    async def check_json(request: web.Request, body: bytes) -> tuple[re.Match | None, Any]:
        """The route and JSON of an inference request, checked where tritonserver would answer 500 or crash
        (kserve_json); (None, None) for other requests."""
        route = kserve_json.INFER_PATH.match(request.path)
        if request.method != "POST" or route is None:
            return None, None
        if route["endpoint"] == "infer":
            header = request.headers.get("Inference-Header-Content-Length")
            if header is not None:
                if not header.isdigit() or int(header) > len(body):
                    return None, None  # tritonserver answers this one itself (400)
                body = body[:int(header)]
            document = await parse_off_loop(body, "request body")
            kserve_json.check_infer(document)
        else:
            document = await parse_off_loop(body, "request body")
            types = await input_types(request.app, route["model"])
            kserve_json.check_generate(document, types or {})
        return route, document

    async def parse_off_loop(body: bytes, what: str):
        if len(body) < 2**18:
            return kserve_json.parse(body, what)
        return await asyncio.get_running_loop().run_in_executor(None, kserve_json.parse, body, what)

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
        header_length = None  # of the JSON header, where the proxy rewrites a request with binary inputs
        try:
            route, document = await check_json(request, body)
            if (route is not None and route["endpoint"] == "infer" and route["model"] == UNARY_PIPELINE_MODEL
                    and kserve_json.mp4_form_for_json(document)):  # an all-JSON answer: the MP4 as base64
                rewritten = json.dumps(document).encode()
                binary_part = request.headers.get("Inference-Header-Content-Length")  # checked by check_json
                if binary_part is None:
                    body = rewritten
                else:
                    body, header_length = rewritten + body[int(binary_part):], len(rewritten)
        except InvalidRequest as error:
            return web.Response(status=400, content_type="application/json", text=json.dumps({"error": str(error)}))
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
        if header_length is not None:
            headers["Inference-Header-Content-Length"] = str(header_length)
        headers.popall("Content-Encoding", None)  # the body goes on decoded
        headers.popall(TOKEN_PARAMETER, None)  # only this proxy gives tokens
        token = None
        if disconnects is not None and route is not None and route["model"] == UNARY_PIPELINE_MODEL and route["endpoint"] != "generate_stream":
            token = new_token()  # tritonserver forwards /infer headers as parameters; generate's go in its JSON
            if route["endpoint"] == "infer":
                headers[TOKEN_PARAMETER] = token
            else:
                document["parameters"] = {**document.get("parameters", {}), TOKEN_PARAMETER: token}
                body = json.dumps(document).encode()
        try:
            return await relay(request, headers, body)
        except asyncio.CancelledError:  # the client went away (handler_cancellation)
            if token is not None:
                mark_disconnected(disconnects, token)
            raise

    async def relay(request: web.Request, headers: CIMultiDict, body: bytes) -> web.StreamResponse:
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
            # A client that goes away cancels this handler: the upstream connection is then closed, which
            # tritonserver takes as the end of an SSE stream (and a unary pipeline request is marked, above).
            async for chunk in upstream_response.content.iter_any():
                await response.write(chunk)
            await response.write_eof()
            return response

    app = web.Application(client_max_size=limit)
    app[INPUT_TYPES] = {}
    app.cleanup_ctx.append(open_session)
    app.router.add_route("*", "/{path:.*}", proxy)
    return app
