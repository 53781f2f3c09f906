"""The JSON of KServe v2 HTTP requests (`/infer`, and Triton's `/generate` and `/generate_stream`), checked at the
front: where tritonserver 2.51 answers a client's malformed JSON with 500 (a body that is not JSON, `parameters`
as an array, `"NaN"` or 2^64 as tensor data, data whose count is not its shape's, a string for an INT32 input of
`generate`) or crashes on it (JSON nested 200,000 deep), the front proxy answers 400 naming the field, the value
and what is allowed.

Only the request's form is checked here (JSON types, integer ranges, nesting); what the values mean is the
models' to check, as before.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

from ltx_backend.errors import InvalidRequest

# KServe v2 tensor data is nested at most as deep as the tensor's rank; requests are a few levels above that.
MAX_DEPTH = 32
INTEGER_RANGES = {
    **{f"INT{bits}": (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, 2**bits - 1) for bits in (8, 16, 32, 64)},
}
FLOAT_TYPES = frozenset({"FP16", "BF16", "FP32", "FP64"})
DATATYPES = frozenset({"BOOL", "BYTES", *INTEGER_RANGES, *FLOAT_TYPES})
INFER_PATH = re.compile(r"^/v2/models/(?P<model>[^/]+)(?:/versions/[^/]+)?/(?P<endpoint>infer|generate|generate_stream)$")


def parse(data: bytes, what: str) -> Any:
    """The JSON document, or InvalidRequest naming `what` when it is not JSON or is nested over MAX_DEPTH."""
    try:
        document = json.loads(data, parse_constant=not_json)
    except RecursionError:
        raise InvalidRequest(what, f"<{len(data)} bytes>", f"JSON nested at most {MAX_DEPTH} deep") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidRequest(what, bytes(data[:40]), f"a JSON object ({error})") from None
    if depth(document) > MAX_DEPTH:
        raise InvalidRequest(what, f"<{len(data)} bytes>", f"JSON nested at most {MAX_DEPTH} deep")
    return document


def not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


def depth(document: Any) -> int:
    deepest, stack = 0, [(document, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, (list, dict)):
            deepest = max(deepest, level)
            if deepest > MAX_DEPTH:
                return deepest
            stack.extend((item, level + 1) for item in (value.values() if isinstance(value, dict) else value))
    return deepest


def element_error(datatype: str, value: Any) -> str | None:
    """Why `value` cannot be an element of a `datatype` tensor in JSON, or None when it can."""
    if datatype == "BOOL":
        return None if isinstance(value, bool) else "true or false"
    if datatype == "BYTES":
        return None if isinstance(value, str) else "a string"
    if datatype in FLOAT_TYPES:  # a finite one: JSON has no infinity (1e400 parses as one)
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) else "a finite number"
    lo, hi = INTEGER_RANGES[datatype]
    if isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi:
        return None
    return f"an integer from {lo} to {hi}"


def check_elements(field: str, datatype: str, data: Any) -> int:
    """Each element of `data` (nested lists, or one value) checked; returns how many there are."""
    stack, count = [data], 0
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(value)
            continue
        why = element_error(datatype, value)
        if why is not None:
            raise InvalidRequest(field, value, f"{datatype} data: {why}")
        count += 1
    return count


def check_parameters(field: str, parameters: Any) -> None:
    if not isinstance(parameters, dict):
        raise InvalidRequest(field, parameters, "a JSON object of parameters")
    for key, value in parameters.items():
        if isinstance(value, int) and not isinstance(value, bool):
            check_elements(f"{field}.{key}", "INT64", value)
        elif isinstance(value, float):
            check_elements(f"{field}.{key}", "FP64", value)
        elif not isinstance(value, (str, bool, float)):
            raise InvalidRequest(f"{field}.{key}", value, "a string, number or boolean")


def check_infer(document: Any) -> None:
    """An `/infer` request's JSON (with the binary extension: its JSON header)."""
    if not isinstance(document, dict):
        raise InvalidRequest("request", document, "a JSON object with 'inputs'")
    if "id" in document and not isinstance(document["id"], str):
        raise InvalidRequest("id", document["id"], "a string")
    if "parameters" in document:
        check_parameters("parameters", document["parameters"])
    inputs = document.get("inputs")
    if not isinstance(inputs, list):
        raise InvalidRequest("inputs", inputs, "a list of input tensors")
    for index, tensor in enumerate(inputs):
        if not isinstance(tensor, dict):
            raise InvalidRequest(f"inputs[{index}]", tensor, "an object with name, shape, datatype and data")
        name = tensor.get("name")
        if not isinstance(name, str):
            raise InvalidRequest(f"inputs[{index}].name", name, "a string")
        shape = tensor.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**63 for d in shape):
            raise InvalidRequest(f"{name}.shape", shape, "a list of non-negative integers")
        datatype = tensor.get("datatype")
        if datatype not in DATATYPES:
            raise InvalidRequest(f"{name}.datatype", datatype, f"one of {', '.join(sorted(DATATYPES))}")
        if "parameters" in tensor:
            check_parameters(f"{name}.parameters", tensor["parameters"])
        if "data" in tensor:
            count = check_elements(f"{name}.data", datatype, tensor["data"])
            if count != (expected := math.prod(shape)):
                raise InvalidRequest(f"{name}.data", f"<{count} values>", f"{expected} value{'' if expected == 1 else 's'}, as its shape {shape} says")
    outputs = document.get("outputs", [])
    if not isinstance(outputs, list):
        raise InvalidRequest("outputs", outputs, "a list of requested outputs")
    for index, output in enumerate(outputs):
        if not isinstance(output, dict) or not isinstance(output.get("name"), str):
            raise InvalidRequest(f"outputs[{index}]", output, "an object with a name")
        if "parameters" in output:
            check_parameters(f"{output['name']}.parameters", output["parameters"])


def check_generate(document: Any, input_types: dict[str, str]) -> None:
    """A `/generate` or `/generate_stream` request: a JSON object whose keys are the model's inputs (typed as its
    config says: `input_types` maps name -> KServe datatype), plus `id` and `parameters`."""
    if not isinstance(document, dict):
        raise InvalidRequest("request", document, "a JSON object of the model's inputs")
    for key, value in document.items():
        if key == "parameters":
            check_parameters("parameters", value)
        elif key == "id":
            if not isinstance(value, str):
                raise InvalidRequest("id", value, "a string")
        elif key in input_types:
            check_elements(key, input_types[key], value)


def datatypes_of(config: dict) -> dict[str, str]:
    """Input name -> KServe datatype, from a model's config as `GET /v2/models/<m>/config` returns it."""
    return {i["name"]: ("BYTES" if i["data_type"] == "TYPE_STRING" else i["data_type"].removeprefix("TYPE_"))
            for i in config.get("input", [])}


def mp4_form_for_json(document: dict) -> bool:
    """A `pipeline_unary` /infer request's JSON (the whole body, or the JSON header of one with binary inputs):
    tritonserver writes an output not asked in binary as a JSON string, and the MP4's raw bytes then make the
    answer invalid JSON. Where the request leaves the MP4's form open (no output named, none asked in binary, no
    MP4_BASE64), VIDEO_MP4_BASE64 is asked for it (`parameters.mp4_base64`: the document is changed, returns
    True); a request for VIDEO_MP4 as JSON is refused, naming what to ask instead."""
    parameters = document.get("parameters", {})
    binary_all = parameters.get("binary_data_output") is True
    for output in document.get("outputs", []):
        binary = output.get("parameters", {}).get("binary_data", binary_all)
        if output["name"] == "VIDEO_MP4" and binary is not True:
            raise InvalidRequest("VIDEO_MP4.parameters.binary_data", binary, "true: a JSON answer cannot carry the MP4's raw "
                                 "bytes (or ask for the VIDEO_MP4_BASE64 output)")
    if document.get("outputs") or binary_all:
        return False
    asked = [(t["name"], t.get("data")) for t in document["inputs"] if t["name"] == "MP4_BASE64"]
    if "mp4_base64" in parameters:
        asked.append(("mp4_base64", parameters["mp4_base64"]))
    for field, value in asked:  # the input's value is in its data (or in the binary part, where there is none)
        if value is not None and value not in (True, [True]):
            raise InvalidRequest(field, value, "true or left out when the answer is JSON (no output asked in binary): a "
                                 "JSON answer cannot carry the MP4's raw bytes")
    if asked:
        return False
    document["parameters"] = {**parameters, "mp4_base64": True}
    return True
