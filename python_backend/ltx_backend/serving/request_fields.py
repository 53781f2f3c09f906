"""A served request -> GenerationRequest: the `pipeline` model's inputs and KServe v2 parameters.

Every generate field can come as an input tensor (upper-case name, e.g. WIDTH INT32 [1], IMAGES BYTES [n]) or
as a request parameter (the field name, e.g. {"width": 512}); scalars are [1] tensors. Nothing here checks
ranges: GenerationRequest.resolve does that, once, for both transports. What is checked here is what only a
transport can get wrong: a field given twice, an unknown parameter, text that is not UTF-8, a list where a
scalar belongs, and fields a server does not take per request (paths on the server's disk, LoRAs: those are
chosen when the server starts).
"""
from __future__ import annotations

import base64
import binascii
import difflib
import string
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ltx_backend.errors import InvalidRequest, check_bool
from ltx_backend.request import GenerationRequest, LoadOptions
from ltx_backend.serving.client_disconnects import TOKEN_PARAMETER

# name of the input tensor -> (field, Triton data type, scalar?)
PIPELINE_INPUTS: dict[str, tuple[str, str, bool]] = {
    "PROMPT": ("prompt", "TYPE_STRING", True),
    "NEGATIVE_PROMPT": ("negative_prompt", "TYPE_STRING", True),
    "PIPELINE_CLASS_NAME": ("pipeline_class_name", "TYPE_STRING", True),
    "SEED": ("seed", "TYPE_INT64", True),
    "WIDTH": ("width", "TYPE_INT32", True),
    "HEIGHT": ("height", "TYPE_INT32", True),
    "NUM_FRAMES": ("num_frames", "TYPE_INT32", True),
    "NUM_INFERENCE_STEPS": ("num_inference_steps", "TYPE_INT32", True),
    "GUIDANCE_SCALE": ("guidance_scale", "TYPE_FP32", True),
    "STG_SCALE": ("stg_scale", "TYPE_FP32", True),
    "MODALITY_SCALE": ("modality_scale", "TYPE_FP32", True),
    "GUIDANCE_RESCALE": ("guidance_rescale", "TYPE_FP32", True),
    "SKIP_STEP": ("skip_step", "TYPE_INT32", True),
    "FPS": ("fps", "TYPE_FP32", True),
    "IMAGES": ("images", "TYPE_STRING", False),
    "IMAGE_FRAME_INDICES": ("image_frame_indices", "TYPE_INT32", False),
    "IMAGE_STRENGTHS": ("image_strengths", "TYPE_FP32", False),
    "IMAGE_CRF": ("image_crf", "TYPE_INT32", True),
    "IMAGE_MODE": ("image_mode", "TYPE_STRING", True),
    "AUDIO": ("audio", "TYPE_STRING", True),  # the soundtrack's file bytes (LTX2AudioToVideoPipeline)
    "AUDIO_START_TIME": ("audio_start_time", "TYPE_FP32", True),
    "AUDIO_MAX_DURATION": ("audio_max_duration", "TYPE_FP32", True),
    "VIDEO": ("video", "TYPE_STRING", True),  # the clip's file bytes (the retake classes)
    "RETAKE_START": ("retake_start", "TYPE_FP32", True),
    "RETAKE_END": ("retake_end", "TYPE_FP32", True),
    "RETAKE_VIDEO": ("retake_video", "TYPE_BOOL", True),
    "RETAKE_AUDIO": ("retake_audio", "TYPE_BOOL", True),
    "VIDEO_CONDITIONING": ("video_conditioning", "TYPE_STRING", False),  # control videos' file bytes (the IC-LoRA class)
    "VIDEO_CONDITIONING_STRENGTHS": ("video_conditioning_strengths", "TYPE_FP32", False),
    "CONDITIONING_ATTENTION_STRENGTH": ("conditioning_attention_strength", "TYPE_FP32", True),
    "CONDITIONING_ATTENTION_MASK": ("conditioning_attention_mask", "TYPE_STRING", True),  # the mask video's file bytes
    "SKIP_STAGE_2": ("skip_stage_2", "TYPE_BOOL", True),
    "ENHANCE_PROMPT": ("enhance_prompt", "TYPE_BOOL", True),
    "RETURN_RAW": ("return_raw", "TYPE_BOOL", True),
    "MP4_BASE64": ("mp4_base64", "TYPE_BOOL", True),
}
# The bytes of base64 text (its alphabet, padding, whitespace): a file's bytes sent through JSON (_file_bytes).
BASE64_TEXT = string.ascii_letters.encode() + string.digits.encode() + b"+/=" + string.whitespace.encode()
NETPBM_TEXT = (b"P1", b"P2", b"P3")  # plain PBM / PGM / PPM: images written in digits and whitespace
TRANSPORT_FIELDS = ("return_raw", "mp4_base64")  # how the result is sent, not what is generated
TEXT_FIELDS = {"prompt", "negative_prompt", "pipeline_class_name", "image_mode"}
BYTES_FIELDS = {"images", "audio", "video", "video_conditioning", "conditioning_attention_mask"}  # file bytes: input tensors only (a JSON parameter cannot carry them)
# Parameters Triton's own clients may attach to any request; they are not generate fields.
TRANSPORT_PARAMETERS = {"binary_data_output", "priority", "timeout", "sequence_id", "sequence_start", "sequence_end", "headers"}
# The headers the server forwards as request parameters (ltx_client/server.py --grpc-header-forward-pattern,
# --http-header-forward-pattern): every gRPC client library sends `user-agent` metadata, every HTTP/1.1 request
# a `Host` header. Triton 2.51 forwards none of the HTTP generate endpoints' headers, so a request with neither
# came through generate / generate_stream, whose JSON cannot carry raw bytes.
GRPC_MARKER_HEADER = "user-agent"
HTTP_MARKER_HEADER = "host"
SERVER_SIDE_FIELDS = {
    "image_paths": "files on the server are not read: send the images' bytes in the IMAGES input",
    "audio_path": "files on the server are not read: send the soundtrack's bytes in the AUDIO input",
    "video_path": "files on the server are not read: send the clip's bytes in the VIDEO input",
    "video_conditioning_paths": "files on the server are not read: send the control videos' bytes in the VIDEO_CONDITIONING input",
    "conditioning_attention_mask_path": "files on the server are not read: send the mask video's bytes in the CONDITIONING_ATTENTION_MASK input",
    **{
        name: f"chosen when the server starts (ltx-triton serve --{name.replace('_', '-')}), not per request"
        for name in (f.name for f in fields(LoadOptions))
    },
}


@dataclass(frozen=True)
class ServedRequest:
    request: GenerationRequest  # not yet resolved
    return_raw: bool = False  # also send FRAMES (uint8 [F, H, W, 3]), AUDIO (float32 [C, S]) and SAMPLE_RATE
    mp4_base64: bool | None = None  # VIDEO_MP4_BASE64 (base64 text) instead of VIDEO_MP4: for JSON transports (HTTP SSE)
    over_grpc: bool = False  # it came over gRPC (the server forwards GRPC_MARKER_HEADER)
    over_http_infer: bool = False  # it came over HTTP /infer (the server forwards HTTP_MARKER_HEADER)
    disconnect_token: str | None = None  # serve's HTTP proxy marks it when the client goes away (client_disconnects)
    requested_outputs: frozenset[str] = frozenset()  # the outputs the client asked for (all of them where it named none)

    @property
    def json_only(self) -> bool:
        """Through the HTTP generate endpoints: the answer is JSON, raw MP4 bytes cannot be sent."""
        return not (self.over_grpc or self.over_http_infer)

    def mp4_as_base64(self) -> bool:
        """VIDEO_MP4_BASE64 (True) or VIDEO_MP4 (False). A client that asks for one of the two outputs by name gets
        it: /infer and gRPC requests name outputs, generate's cannot (a server started without the marker headers'
        forwarding then still answers them right). Otherwise the transport decides: through the HTTP generate
        endpoints (generate_stream for `pipeline`, generate for either) the answer is JSON, which cannot carry the
        MP4's raw bytes: base64 there by default, and a request for raw bytes is refused; gRPC and HTTP /infer
        (binary tensor data) get raw bytes unless MP4_BASE64 is asked."""
        named = self.requested_outputs & {"VIDEO_MP4", "VIDEO_MP4_BASE64"}
        if len(named) == 1:
            (output,) = named
            as_base64 = output == "VIDEO_MP4_BASE64"
            if self.mp4_base64 is not None and self.mp4_base64 != as_base64:
                raise InvalidRequest("mp4_base64", self.mp4_base64, f"{str(as_base64).lower()} (or left out) when the requested output is {output}")
            return as_base64
        if not self.json_only:
            return bool(self.mp4_base64)
        if self.mp4_base64 is False:
            raise InvalidRequest("mp4_base64", False, "true (or left out) on the HTTP generate endpoints: JSON cannot carry raw MP4 bytes")
        return True


def parse_served_request(inputs: dict[str, np.ndarray], parameters: dict[str, Any], requested_outputs: Iterable[str] = ()) -> ServedRequest:
    """inputs: the request's input tensors as numpy arrays (BYTES: object arrays); requested_outputs: the output
    names the request carries. Raises InvalidRequest."""
    values: dict[str, Any] = {}
    for name, array in inputs.items():
        if name not in PIPELINE_INPUTS:
            raise InvalidRequest(name, "<input tensor>", f"one of the inputs {', '.join(PIPELINE_INPUTS)}")
        field, _, scalar = PIPELINE_INPUTS[name]
        values[field] = _from_tensor(field, np.asarray(array), scalar)
    allowed = set(GenerationRequest.field_names()) | set(TRANSPORT_FIELDS)
    over_grpc = over_http_infer = False
    disconnect_token = None
    for key, value in parameters.items():
        if key.lower() == TOKEN_PARAMETER:
            disconnect_token = str(value)
            continue
        if key.lower() == GRPC_MARKER_HEADER:
            over_grpc = True
            continue
        if key.lower() == HTTP_MARKER_HEADER:
            over_http_infer = True
            continue
        if key in TRANSPORT_PARAMETERS:
            continue
        if key in SERVER_SIDE_FIELDS:
            raise InvalidRequest(key, value, SERVER_SIDE_FIELDS[key])
        if key.lower() in BYTES_FIELDS:
            raise InvalidRequest(key, value, f"file bytes, which a parameter cannot carry: send them in the {key.upper()} input tensor")
        if key not in allowed:
            names = sorted(allowed - BYTES_FIELDS - set(SERVER_SIDE_FIELDS))
            if key.lower() in names:
                hint = f" (parameters are lower-case: {key.lower()}; input tensors upper-case: {key.upper()})"
            else:
                close = difflib.get_close_matches(key.lower(), names, n=1)
                hint = f" (did you mean {close[0]}, or the input {close[0].upper()}?)" if close else ""
            raise InvalidRequest(key, value, f"a request field{hint}; as parameters (or a generate body's keys): {', '.join(names)}")
        if key in values:
            raise InvalidRequest(key, value, "given once: as an input tensor or as a parameter, not both")
        values[key] = value
    for key in SERVER_SIDE_FIELDS:
        if key in values:
            raise InvalidRequest(key, values[key], SERVER_SIDE_FIELDS[key])
    if "prompt" not in values:
        raise InvalidRequest("prompt", None, "a prompt: the PROMPT input (BYTES [1]) or the 'prompt' parameter")
    flags = {}
    for name in TRANSPORT_FIELDS:
        value = values.pop(name, None)
        flags[name] = None if value is None else check_bool(name, value)
    return ServedRequest(
        GenerationRequest(**values), return_raw=bool(flags["return_raw"]),
        mp4_base64=None if flags["mp4_base64"] is None else bool(flags["mp4_base64"]), over_grpc=over_grpc,
        over_http_infer=over_http_infer, disconnect_token=disconnect_token, requested_outputs=frozenset(requested_outputs),
    )


def _from_tensor(field: str, array: np.ndarray, scalar: bool) -> Any:
    if scalar:
        if array.size != 1:
            raise InvalidRequest(field, f"<tensor of shape {list(array.shape)}>", "a single value (shape [1])")
        value = array.reshape(-1)[0]
        if field in TEXT_FIELDS:
            return _text(field, value)
        if field in BYTES_FIELDS:
            return _file_bytes(field, bytes(value)) if isinstance(value, (bytes, np.bytes_)) else value
        return _number(value)
    flat = array.reshape(-1)
    if field in BYTES_FIELDS:
        return tuple(_file_bytes(field, bytes(v)) for v in flat)
    return tuple(_number(v) for v in flat)


def _file_bytes(field: str, raw: bytes) -> bytes:
    """A file's bytes as sent: raw (gRPC, HTTP binary tensor data), or as base64 text, alone or in a data URI
    (`data:image/png;base64,...`), for the JSON transports, which cannot carry raw bytes. Bytes that are all base64
    text but do not decode as it are taken raw, as are the text (plain) Netpbm images, P1-P3, which are files."""
    if raw[:5].lower() == b"data:":
        header, comma, payload = raw.partition(b",")
        if not comma or not header.lower().endswith(b";base64"):
            raise InvalidRequest(field, raw[:40], "a file's bytes, or base64 text of them (a data URI: data:<type>;base64,<data>)")
        try:
            return _base64(payload)
        except binascii.Error as error:
            raise InvalidRequest(field, payload[:40], f"base64 text of the file's bytes ({error})") from None
    if raw[:2] in NETPBM_TEXT or raw.translate(None, BASE64_TEXT):  # one pass over the bytes: no regex backtracking
        return raw
    try:
        return _base64(raw)
    except binascii.Error:
        return raw


def _base64(text: bytes) -> bytes:
    return base64.b64decode(b"".join(text.split()), validate=True)


def _number(value: Any) -> Any:
    """numpy scalar -> Python. float32 values come back as the shortest decimal that rounds to them
    (FP32 3.3 -> 3.3, not 3.299999952...), so a served request means what the same request in-process means."""
    if isinstance(value, np.floating):
        return float(str(value))
    return value.item() if isinstance(value, np.generic) else value


def _text(field: str, value: Any) -> str:
    if isinstance(value, str):
        return value
    if not isinstance(value, (bytes, np.bytes_)):
        raise InvalidRequest(field, value, "UTF-8 text (a BYTES tensor)")
    try:
        return bytes(value).decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(field, bytes(value)[:40], f"UTF-8 text ({error.reason} at byte {error.start})") from None
