"""Thin clients of a running server: gRPC streaming (progress, then the result) and HTTP/KServe v2 /infer.

Both send a GenerationRequest's fields as the `pipeline` model's input tensors (see
ltx_backend/serving/request_fields.py) and return a RemoteResult.
"""
from __future__ import annotations

import base64
import queue
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ltx_backend.errors import CANCELLED_MESSAGE, INTERNAL_PREFIX, INVALID_PREFIX, InvalidRequest, utf8
from ltx_backend.request import GenerationRequest, read_media_file
from ltx_backend.serving.request_fields import PIPELINE_INPUTS
from ltx_backend.types import StepProgress

# fields left out of a request when they hold their default (older servers do not know the newer ones)
DEFAULTED_FIELDS = ("image_crf", "image_mode", "audio_start_time", "retake_video", "retake_audio", "enhance_prompt",
                    "conditioning_attention_strength", "skip_stage_2")
NUMPY_TYPES = {"TYPE_INT32": np.int32, "TYPE_INT64": np.int64, "TYPE_FP32": np.float32, "TYPE_UINT8": np.uint8, "TYPE_BOOL": np.bool_, "TYPE_STRING": np.object_}
CLIENT_MAX_MESSAGE = 2**31 - 1  # tritonclient's gRPC channels receive messages up to this size
WIRE_TYPES = {"TYPE_INT32": "INT32", "TYPE_INT64": "INT64", "TYPE_FP32": "FP32", "TYPE_BOOL": "BOOL", "TYPE_STRING": "BYTES"}


class RemoteError(RuntimeError):
    """The server answered with an error; `status` is its gRPC status name or HTTP status code."""

    def __init__(self, message: str, status: str | int | None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteResult:
    mp4: bytes
    frames: np.ndarray | None = None
    audio: np.ndarray | None = None
    sample_rate: int | None = None
    enhanced_prompt: str | None = None  # with enhance_prompt: the prompt the video was made from
    seed: int | None = None  # the seed the video was made with (None: a server older than the SEED output)


def request_arrays(request: GenerationRequest, return_raw: bool = False) -> dict[str, np.ndarray]:
    """The request's set fields as input arrays (None fields are left to the server's defaults). Raises
    InvalidRequest for a value its wire type cannot carry as it is (an integer out of range, text that is
    not UTF-8) and for an image file that cannot be read."""
    arrays = {}
    for name, (field, data_type, scalar) in PIPELINE_INPUTS.items():
        value = return_raw if field == "return_raw" else getattr(request, field, None)
        if value is None or (field == "return_raw" and not value) or (not scalar and len(value) == 0):
            continue
        if field in DEFAULTED_FIELDS and value == GenerationRequest.__dataclass_fields__[field].default:
            continue
        values = [value] if scalar else list(value)
        if data_type == "TYPE_STRING":
            arrays[name] = np.array([_wire_bytes(field, v) for v in values], dtype=np.object_)
        else:
            arrays[name] = _wire_numbers(field, values, NUMPY_TYPES[data_type])
    if request.image_paths:
        arrays["IMAGES"] = np.array([read_media_file("image_paths", p) for p in request.image_paths], dtype=np.object_)
    if request.audio_path is not None:
        arrays["AUDIO"] = np.array([read_media_file("audio_path", request.audio_path, "audio")], dtype=np.object_)
    if request.video_conditioning_paths:
        arrays["VIDEO_CONDITIONING"] = np.array([read_media_file("video_conditioning_paths", p, "video")
                                                 for p in request.video_conditioning_paths], dtype=np.object_)
    if request.video_path is not None:
        arrays["VIDEO"] = np.array([read_media_file("video_path", request.video_path, "video")], dtype=np.object_)
    if request.conditioning_attention_mask_path is not None:
        arrays["CONDITIONING_ATTENTION_MASK"] = np.array(
            [read_media_file("conditioning_attention_mask_path", request.conditioning_attention_mask_path, "video")], dtype=np.object_)
    return arrays


def _wire_bytes(field: str, value) -> bytes:
    return utf8(field, value) if isinstance(value, str) else bytes(value)


def _wire_numbers(field: str, values: list, dtype) -> np.ndarray:
    """values as a `dtype` array; integers that do not fit are an error, not wrapped around."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        for v in values:
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not info.min <= v <= info.max:
                raise InvalidRequest(field, v, f"an integer between {info.min} and {info.max} ({np.dtype(dtype).name} on the wire)")
    try:
        with np.errstate(over="ignore"):  # a float beyond float32 becomes inf: refused below
            array = np.array(values, dtype=dtype)
    except (OverflowError, TypeError, ValueError):  # beyond float64, or not a number
        raise InvalidRequest(field, values[0] if len(values) == 1 else values, f"numbers ({np.dtype(dtype).name} on the wire)") from None
    if np.issubdtype(dtype, np.floating):
        for v, sent in zip(values, array):
            if not np.isfinite(sent):
                raise InvalidRequest(field, v, f"a finite number ({np.dtype(dtype).name} on the wire)")
    return array


def _result(get: Callable[[str], np.ndarray | None]) -> RemoteResult:
    """The MP4 as raw bytes (VIDEO_MP4) or base64 text (VIDEO_MP4_BASE64, which a server sends where it cannot
    tell the transport can carry bytes), and the raw outputs when asked for."""
    mp4 = get("VIDEO_MP4")
    mp4 = bytes(mp4.reshape(-1)[0]) if mp4 is not None else base64.b64decode(bytes(get("VIDEO_MP4_BASE64").reshape(-1)[0]))
    sample_rate, enhanced, seed = get("SAMPLE_RATE"), get("ENHANCED_PROMPT"), get("SEED")
    return RemoteResult(
        mp4=mp4,
        frames=get("FRAMES"),
        audio=get("AUDIO"),
        sample_rate=None if sample_rate is None else int(sample_rate.reshape(-1)[0]),
        enhanced_prompt=None if enhanced is None else bytes(enhanced.reshape(-1)[0]).decode("utf-8"),
        seed=None if seed is None else int(seed.reshape(-1)[0]),
    )


def stream_error_status(message: str) -> str:
    """The gRPC status name of an error sent as a message in the stream (which carries none): the models' own
    refusals (InvalidRequest) begin "invalid ", their faults INTERNAL_PREFIX, a cancelled request's error is
    CANCELLED_MESSAGE; anything else (tritonserver's own checks) is UNKNOWN."""
    if message.startswith(INVALID_PREFIX):
        return "StatusCode.INVALID_ARGUMENT"
    if message.startswith(INTERNAL_PREFIX):
        return "StatusCode.INTERNAL"
    if message == CANCELLED_MESSAGE:
        return "StatusCode.CANCELLED"
    return "StatusCode.UNKNOWN"


def generate_grpc(
    url: str,
    request: GenerationRequest,
    on_progress: Callable[[StepProgress], None] | None = None,
    return_raw: bool = False,
    model: str = "pipeline",
    parameters: dict | None = None,
    arrays: dict[str, np.ndarray] | None = None,
    timeout: float | None = None,
) -> RemoteResult:
    """Stream one request to the decoupled `pipeline` model; `on_progress` sees every step."""
    import tritonclient.grpc as grpcclient

    arrays = request_arrays(request, return_raw) if arrays is None else arrays
    inputs = []
    for name, array in arrays.items():
        data_type = WIRE_TYPES[PIPELINE_INPUTS[name][1]] if name in PIPELINE_INPUTS else grpcclient.np_to_triton_dtype(array.dtype)
        tensor = grpcclient.InferInput(name, list(array.shape), data_type)
        tensor.set_data_from_numpy(array)
        inputs.append(tensor)
    from tritonclient.utils import InferenceServerException

    responses: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(url)
    finished = False
    try:
        try:
            ready = client.is_model_ready(model)
        except InferenceServerException as error:
            hint = ""
            if "http1.x server" in (error.message() or ""):  # an HTTP port answered
                hint = " (that is an HTTP port: --url takes the server's gRPC port, 8001 unless serve's --grpc-port says otherwise)"
            raise RemoteError(f"cannot reach a Triton server at {url}: {error.message()}{hint}", "UNAVAILABLE") from None
        if not ready:
            raise RemoteError(f"model {model!r} is not ready on the server at {url}", "UNAVAILABLE")
        # No `triton_grpc_error` header: with it tritonserver 2.51 ends the stream with the error's gRPC status, and
        # a refusal so ended, beside generations, segfaults it now and then (a cancellation race, fixed upstream
        # after 2.51: triton-inference-server/server #7840, #8078). The error comes as a message in the stream.
        client.start_stream(callback=lambda result, error: responses.put((result, error)), stream_timeout=timeout)
        client.async_stream_infer(model, inputs, parameters=parameters)
        while True:
            result, error = responses.get(timeout=timeout)
            if error is not None:
                finished = True  # the error ended the request
                message = error.message() or ""
                over = re.search(r"Received message larger than max \(\d+ vs\. (\d+)\)", message)  # gRPC's own words
                if over and int(over[1]) != CLIENT_MAX_MESSAGE:  # the server's limit, not this client's on the answer
                    message += " (the largest request the server takes: ltx-triton serve --max-request-bytes)"
                if "Cancelling all calls" in message:  # gRPC's words for calls left when a server's stop grace ends
                    message += " (the server stopped before this request finished)"
                raise RemoteError(message, error.status() or stream_error_status(message))
            progress = result.as_numpy("PROGRESS")
            if progress is not None:
                if on_progress is not None:
                    on_progress(StepProgress(*(int(v) for v in progress)))
                continue
            finished = True
            return _result(result.as_numpy)
    finally:
        # A request still running (the caller gave up: a timeout, Ctrl-C) is cancelled; a finished one's stream is
        # closed, not cancelled: a cancellation racing the server's last write left tritonserver 2.51 holding the
        # `pipeline` model (it then never unloaded: a 30 s exit timeout at shutdown).
        client.stop_stream(cancel_requests=not finished)
        client.close()


def generate_http(
    url: str,
    request: GenerationRequest,
    return_raw: bool = False,
    model: str = "pipeline_unary",
    parameters: dict | None = None,
    timeout: float = 3600.0,
) -> RemoteResult:
    """One KServe v2 /infer call to the unary pipeline model (binary tensor data)."""
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    inputs = []
    for name, array in request_arrays(request, return_raw).items():
        tensor = httpclient.InferInput(name, list(array.shape), WIRE_TYPES[PIPELINE_INPUTS[name][1]])
        tensor.set_data_from_numpy(array, binary_data=True)
        inputs.append(tensor)
    client = httpclient.InferenceServerClient(url, connection_timeout=timeout, network_timeout=timeout)
    try:
        result = client.infer(model, inputs, parameters=parameters)
    except InferenceServerException as error:
        raise RemoteError(error.message(), error.status()) from None
    finally:
        client.close()
    return _result(result.as_numpy)
