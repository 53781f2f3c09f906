"""serving/request_fields.py: a served request's inputs, parameters and requested outputs -> what it asks for
(without a server; tests/test_serving.py sends the same through tritonserver)."""
from __future__ import annotations

import numpy as np
import pytest

from ltx_backend.errors import InvalidRequest
from ltx_backend.serving.request_fields import GRPC_MARKER_HEADER, HTTP_MARKER_HEADER, parse_served_request

PROMPT = {"PROMPT": np.array([b"a fox"], dtype=np.object_)}
GRPC = {GRPC_MARKER_HEADER: "grpc-python/1.65"}
HTTP_INFER = {HTTP_MARKER_HEADER: "localhost:8000"}
BOTH = {"VIDEO_MP4", "VIDEO_MP4_BASE64", "SEED"}  # what a request that names no output asks for: all of them


@pytest.mark.parametrize("markers,requested,parameters,base64", [
    (GRPC, BOTH, {}, False),  # gRPC and /infer carry raw bytes ...
    (HTTP_INFER, BOTH, {}, False),
    (GRPC, BOTH, {"mp4_base64": True}, True),  # ... unless base64 is asked
    ({}, BOTH, {}, True),  # the generate endpoints (no marker forwarded): JSON, so base64
    ({}, (), {}, True),
    # an output asked for by name is sent, whatever the markers say (tritonserver started without their forwarding)
    ({}, {"VIDEO_MP4"}, {}, False),
    ({}, {"VIDEO_MP4", "SEED"}, {"mp4_base64": False}, False),
    (GRPC, {"VIDEO_MP4_BASE64"}, {}, True),
    (HTTP_INFER, {"VIDEO_MP4_BASE64", "SEED"}, {"mp4_base64": True}, True),
])
def test_the_mp4_goes_raw_or_as_base64_as_the_request_asks(markers, requested, parameters, base64):
    served = parse_served_request(PROMPT, {**markers, **parameters}, requested)
    assert served.mp4_as_base64() is base64
    assert served.request.prompt == "a fox"


@pytest.mark.parametrize("markers,requested,parameters,message", [
    ({}, BOTH, {"mp4_base64": False}, "invalid mp4_base64=False: true (or left out) on the HTTP generate endpoints"),
    (GRPC, {"VIDEO_MP4"}, {"mp4_base64": True}, "invalid mp4_base64=True: false (or left out) when the requested output is VIDEO_MP4"),
    ({}, {"VIDEO_MP4_BASE64"}, {"mp4_base64": False}, "invalid mp4_base64=False: true (or left out) when the requested output is VIDEO_MP4_BASE64"),
])
def test_contradicting_asks_for_the_mp4_are_refused(markers, requested, parameters, message):
    served = parse_served_request(PROMPT, {**markers, **parameters}, requested)
    with pytest.raises(InvalidRequest) as refused:
        served.mp4_as_base64()
    assert str(refused.value).startswith(message), str(refused.value)


def test_markers_and_transport_parameters_are_not_generate_fields():
    served = parse_served_request({**PROMPT, "WIDTH": np.array([64], dtype=np.int32)},
                                  {**GRPC, **HTTP_INFER, "priority": 0, "timeout": 5, "seed": 3})
    assert (served.over_grpc, served.over_http_infer) == (True, True)
    assert (served.request.width, served.request.seed) == (64, 3)
    with pytest.raises(InvalidRequest, match=r"invalid WIDHT=64: a request field \(did you mean width, or the input WIDTH\?\); as parameters"):
        parse_served_request(PROMPT, {"WIDHT": 64})
    with pytest.raises(InvalidRequest, match=r"invalid zzz=1: a request field; as parameters \(or a generate body's keys\): audio_max_duration, "):
        parse_served_request(PROMPT, {"zzz": 1})
    with pytest.raises(InvalidRequest, match=r"invalid Width=64: a request field \(parameters are lower-case: width; input tensors upper-case: WIDTH\)"):
        parse_served_request(PROMPT, {"Width": 64})
    with pytest.raises(InvalidRequest, match=r"invalid images='x.png': file bytes, which a parameter cannot carry: send them in the IMAGES input tensor"):
        parse_served_request(PROMPT, {"images": "x.png"})


def _png() -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("encode", [
    lambda raw: raw,  # gRPC, HTTP binary tensor data
    lambda raw: __import__("base64").b64encode(raw),  # JSON: base64 text
    lambda raw: b"data:image/png;base64," + __import__("base64").b64encode(raw),  # a data URI
    lambda raw: b"DATA:image/png;BASE64," + __import__("base64").b64encode(raw),
    lambda raw: __import__("base64").encodebytes(raw),  # wrapped at 76 characters, with newlines
], ids=["raw", "base64", "data-uri", "data-uri-upper-case", "wrapped"])
def test_file_inputs_come_raw_or_as_base64(encode):
    png = _png()
    served = parse_served_request({**PROMPT, "IMAGES": np.array([encode(png)], dtype=np.object_),
                                   "AUDIO": np.array([encode(b"RIFF\x24\x00\x00\x00WAVEfmt ")], dtype=np.object_)}, {})
    assert served.request.images == (png,) and served.request.audio == b"RIFF\x24\x00\x00\x00WAVEfmt "


@pytest.mark.parametrize("raw", [
    b"P3\n2 1\n255\n255 0 0 0 0 255\n",  # a plain PPM: digits and whitespace, yet an image file
    b"P1\n4 4\n0101 1010 0101 1010\n",
    b"abc",  # base64's alphabet, not base64 (its length): the bytes as sent
    b" " * 100_000 + b"\x00",  # (a regex took O(n^2) here: 1 s at 16 kB)
])
def test_bytes_that_only_look_like_base64_are_taken_as_sent(raw):
    served = parse_served_request({**PROMPT, "IMAGES": np.array([raw], dtype=np.object_)}, {})
    assert served.request.images == (raw,)


@pytest.mark.parametrize("sent,message", [
    (b"data:image/png,abc", "invalid images=b'data:image/png,abc': a file's bytes, or base64 text of them (a data URI"),
    (b"data:image/png;base64,ab=c", "invalid images=b'ab=c': base64 text of the file's bytes"),
])
def test_bad_base64_file_inputs_are_refused_naming_the_field(sent, message):
    with pytest.raises(InvalidRequest) as refused:
        parse_served_request({**PROMPT, "IMAGES": np.array([sent], dtype=np.object_)}, {})
    assert str(refused.value).startswith(message), str(refused.value)


def test_a_stream_errors_status_is_read_from_its_words():
    """A gRPC stream's error carries no status (model_repository/README.md: triton_grpc_error): the client reads it."""
    from ltx_backend.errors import CANCELLED_MESSAGE, INTERNAL_PREFIX
    from ltx_client.remote import stream_error_status

    assert stream_error_status(str(InvalidRequest("width", 100, "a multiple of 32"))) == "StatusCode.INVALID_ARGUMENT"
    assert stream_error_status(f"{INTERNAL_PREFIX}invalid value encountered") == "StatusCode.INTERNAL"
    assert stream_error_status(CANCELLED_MESSAGE) == "StatusCode.CANCELLED"
    assert stream_error_status("[request id: <id_unknown>] unexpected inference input 'X'") == "StatusCode.UNKNOWN"
