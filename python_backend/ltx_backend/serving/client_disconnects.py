"""HTTP unary requests whose client went away. tritonserver 2.51 does not tell the python backend that the client
of an HTTP `/infer` or `/generate` request disconnected (gRPC cancels and SSE disconnects it does), so such a
generation used to run to its end. `serve`'s HTTP front proxy sees the disconnect: it gives each unary pipeline
request a token (a header tritonserver forwards as a request parameter; for `/generate`, a parameter of its
JSON), and when the client goes away it creates a file named after the token in a directory the pipeline models
watch ($LTX_DISCONNECTS_DIR). The pipeline model checks it between steps, as it checks `is_cancelled()`.
"""
from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

TOKEN_PARAMETER = "ltx-disconnect-token"  # the header / parameter name (lower case, as Triton forwards headers)
DIRECTORY_ENV = "LTX_DISCONNECTS_DIR"
TOKEN = re.compile(r"[0-9a-f]{32}")


def new_token() -> str:
    return secrets.token_hex(16)


def mark_disconnected(directory: Path, token: str) -> None:
    (directory / token).touch()


def disconnected(token: str | None) -> bool:
    """Whether the front proxy marked this request's client as gone (False where no proxy gave it a token)."""
    directory = os.environ.get(DIRECTORY_ENV)
    return bool(directory and token and TOKEN.fullmatch(token) and os.path.exists(os.path.join(directory, token)))


def forget(token: str | None) -> None:
    directory = os.environ.get(DIRECTORY_ENV)
    if directory and token and TOKEN.fullmatch(token):
        Path(directory, token).unlink(missing_ok=True)
