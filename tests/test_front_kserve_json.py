"""The front proxy's checks of KServe v2 request JSON (client/ltx_client/front/kserve_json.py): each malformed
request tritonserver 2.51 answered 500 (or crashed on) is an InvalidRequest naming the field; well-formed ones
pass, whatever their values mean (that is the models' to check)."""
from __future__ import annotations

import json

import pytest

from ltx_backend.errors import InvalidRequest
from ltx_client.front.kserve_json import MAX_DEPTH, check_generate, check_infer, datatypes_of, mp4_form_for_json, parse

PROMPT = {"name": "PROMPT", "datatype": "BYTES", "shape": [1], "data": ["a fox"]}
TYPES = {"PROMPT": "BYTES", "WIDTH": "INT32", "SEED": "INT64", "GUIDANCE_SCALE": "FP32", "RETURN_RAW": "BOOL"}


def _tensor(name, datatype, data, shape=(1,)):
    return {"name": name, "datatype": datatype, "shape": list(shape), "data": data}


@pytest.mark.parametrize("body, field, allowed", [
    (b"hello", "request body", "a JSON object"),
    (b'{"inputs": [' + b"[" * 10_000 + b"]" * 10_000 + b"]}", "request body", f"nested at most {MAX_DEPTH} deep"),
    (b"[" * 200_000 + b"]" * 200_000, "request body", f"nested at most {MAX_DEPTH} deep"),  # crashed tritonserver 2.51
    (b'{"inputs": [{"name": "G", "datatype": "FP32", "shape": [1], "data": [NaN]}]}', "request body", "NaN is not JSON"),
    (b"\xff\xfe", "request body", "a JSON object"),
])
def test_a_body_that_is_not_json_is_refused_naming_it(body, field, allowed):
    with pytest.raises(InvalidRequest, match=allowed) as refused:
        parse(body, "request body")
    assert refused.value.field == field


@pytest.mark.parametrize("document, field, allowed", [
    ([1, 2], "request", "a JSON object"),
    ({"inputs": [PROMPT], "parameters": [1, 2]}, "parameters", "a JSON object of parameters"),
    ({"inputs": [PROMPT], "parameters": {"a": {"b": 1}}}, "parameters.a", "a string, number or boolean"),
    ({"inputs": [PROMPT], "parameters": {"a": 2**64}}, "parameters.a", "INT64 data"),
    ({"inputs": [PROMPT], "id": 7}, "id", "a string"),
    ({"inputs": {"a": 1}}, "inputs", "a list of input tensors"),
    ({}, "inputs", "a list of input tensors"),
    ({"inputs": [7]}, "inputs[0]", "an object"),
    ({"inputs": [{**PROMPT, "name": 3}]}, "inputs[0].name", "a string"),
    ({"inputs": [{**PROMPT, "shape": "x"}]}, "PROMPT.shape", "non-negative integers"),
    ({"inputs": [{**PROMPT, "shape": [-1]}]}, "PROMPT.shape", "non-negative integers"),
    ({"inputs": [{**PROMPT, "datatype": "STRING"}]}, "PROMPT.datatype", "one of BF16, BOOL, BYTES"),
    ({"inputs": [{**PROMPT, "data": [1]}]}, "PROMPT.data", "BYTES data: a string"),
    ({"inputs": [PROMPT, _tensor("GUIDANCE_SCALE", "FP32", ["NaN"])]}, "GUIDANCE_SCALE.data", "FP32 data: a finite number"),
    ({"inputs": [PROMPT, _tensor("GUIDANCE_SCALE", "FP32", [True])]}, "GUIDANCE_SCALE.data", "FP32 data: a finite number"),
    ({"inputs": [PROMPT, _tensor("SEED", "INT64", [2**64])]}, "SEED.data", "INT64 data: an integer from -9223372036854775808"),
    ({"inputs": [PROMPT, _tensor("WIDTH", "INT32", [2**40])]}, "WIDTH.data", "INT32 data: an integer from -2147483648 to 2147483647"),
    ({"inputs": [PROMPT, _tensor("WIDTH", "INT32", [64.5])]}, "WIDTH.data", "INT32 data"),
    ({"inputs": [PROMPT, _tensor("WIDTH", "UINT8", [[1, 2], [3, 256]], (2, 2))]}, "WIDTH.data", "UINT8 data: an integer from 0 to 255"),
    ({"inputs": [PROMPT, _tensor("RETURN_RAW", "BOOL", ["yes"])]}, "RETURN_RAW.data", "BOOL data: true or false"),
    ({"inputs": [PROMPT, {**_tensor("WIDTH", "INT32", [64]), "parameters": []}]}, "WIDTH.parameters", "a JSON object"),
    # tritonserver answers these with 500 "Unable to parse 'data': Shape does not match true shape of 'data' field"
    ({"inputs": [PROMPT, _tensor("WIDTH", "INT32", [64, 64])]}, "WIDTH.data", r"1 value, as its shape \[1\] says"),
    ({"inputs": [PROMPT, _tensor("L", "FP32", [], (1, 128, 1, 1000, 1000))]}, "L.data", r"128000000 values, as its shape"),
    ({"inputs": [PROMPT, _tensor("M", "UINT8", [[0, 1], [2, 3]], (2, 3))]}, "M.data", r"6 values, as its shape \[2, 3\] says"),
    ({"inputs": [PROMPT], "outputs": {"name": "VIDEO_MP4"}}, "outputs", "a list"),
    ({"inputs": [PROMPT], "outputs": [{"binary_data": True}]}, "outputs[0]", "an object with a name"),
])
def test_a_malformed_infer_request_is_refused_naming_the_field(document, field, allowed):
    with pytest.raises(InvalidRequest, match=allowed) as refused:
        check_infer(parse(json.dumps(document).encode(), "request body"))
    assert refused.value.field == field


def test_well_formed_infer_requests_pass_whatever_their_values_mean():
    check_infer({"id": "r1", "parameters": {"seed": 3, "mp4_base64": True, "x": 0.5, "s": "t"},
                 "inputs": [PROMPT, _tensor("WIDTH", "INT32", [99999]), _tensor("SEED", "INT64", [2**63 - 1]),
                            _tensor("GUIDANCE_SCALE", "FP32", [1]), _tensor("M", "UINT8", [[0, 255], [1, 2]], (2, 2)),
                            {"name": "IMAGES", "datatype": "BYTES", "shape": [2], "parameters": {"binary_data_size": 10}}],
                 "outputs": [{"name": "VIDEO_MP4", "parameters": {"binary_data": True}}]})


@pytest.mark.parametrize("document, field, allowed", [
    ({"PROMPT": "a fox", "WIDTH": "abc"}, "WIDTH", "INT32 data"),
    ({"PROMPT": "a fox", "WIDTH": 64.5}, "WIDTH", "INT32 data"),
    ({"PROMPT": "a fox", "SEED": 2**64}, "SEED", "INT64 data"),
    ({"PROMPT": 5}, "PROMPT", "BYTES data: a string"),
    ({"PROMPT": "a fox", "RETURN_RAW": "no"}, "RETURN_RAW", "BOOL data"),
    ({"PROMPT": "a fox", "parameters": [1]}, "parameters", "a JSON object"),
    ({"PROMPT": "a fox", "id": []}, "id", "a string"),
    ([1, 2], "request", "a JSON object of the model's inputs"),
])
def test_a_malformed_generate_request_is_refused_naming_the_field(document, field, allowed):
    with pytest.raises(InvalidRequest, match=allowed) as refused:
        check_generate(document, TYPES)
    assert refused.value.field == field


def test_generate_inputs_are_typed_from_the_model_config():
    config = {"input": [{"name": "PROMPT", "data_type": "TYPE_STRING", "dims": [1]},
                        {"name": "WIDTH", "data_type": "TYPE_INT32", "dims": [1]}]}
    assert datatypes_of(config) == {"PROMPT": "BYTES", "WIDTH": "INT32"}
    check_generate({"PROMPT": "a fox", "WIDTH": 64, "parameters": {"seed": 1}, "UNKNOWN": {"left": "to the server"}}, datatypes_of(config))


@pytest.mark.parametrize("document, changed", [
    ({"inputs": [PROMPT]}, True),  # the form left open: base64, so that the answer is valid JSON
    ({"inputs": [PROMPT], "parameters": {"seed": 3}}, True),
    ({"inputs": [PROMPT], "outputs": []}, True),
    ({"inputs": [PROMPT], "parameters": {"mp4_base64": True}}, False),
    ({"inputs": [PROMPT, _tensor("MP4_BASE64", "BOOL", [True])]}, False),
    ({"inputs": [PROMPT, {"name": "MP4_BASE64", "datatype": "BOOL", "shape": [1], "parameters": {"binary_data_size": 1}}]}, False),
    ({"inputs": [PROMPT], "parameters": {"binary_data_output": True}}, False),  # raw bytes, in binary
    ({"inputs": [PROMPT], "outputs": [{"name": "VIDEO_MP4", "parameters": {"binary_data": True}}]}, False),
    ({"inputs": [PROMPT], "outputs": [{"name": "VIDEO_MP4"}], "parameters": {"binary_data_output": True}}, False),
    ({"inputs": [PROMPT], "outputs": [{"name": "VIDEO_MP4_BASE64"}, {"name": "SEED"}]}, False),
])
def test_a_json_only_pipeline_request_gets_the_mp4_in_a_form_json_carries(document, changed):
    before = json.loads(json.dumps(document))
    assert mp4_form_for_json(document) is changed
    assert document == ({**before, "parameters": {**before.get("parameters", {}), "mp4_base64": True}} if changed else before)


@pytest.mark.parametrize("document, field, allowed", [
    ({"inputs": [PROMPT], "outputs": [{"name": "VIDEO_MP4"}]}, "VIDEO_MP4.parameters.binary_data", "true: a JSON answer cannot carry"),
    ({"inputs": [PROMPT], "outputs": [{"name": "VIDEO_MP4", "parameters": {"binary_data": False}}], "parameters": {"binary_data_output": True}},
     "VIDEO_MP4.parameters.binary_data", "or ask for the VIDEO_MP4_BASE64 output"),
    ({"inputs": [PROMPT], "parameters": {"mp4_base64": False}}, "mp4_base64", "true or left out when the answer is JSON"),
    ({"inputs": [PROMPT, _tensor("MP4_BASE64", "BOOL", [False])]}, "MP4_BASE64", "true or left out when the answer is JSON"),
])
def test_a_json_only_request_for_raw_mp4_bytes_as_json_is_refused(document, field, allowed):
    with pytest.raises(InvalidRequest, match=allowed) as refused:
        mp4_form_for_json(document)
    assert refused.value.field == field


@pytest.mark.parametrize("body, field", [
    (b'{"inputs": [{"name": "G", "datatype": "FP32", "shape": [1], "data": [1e400]}]}', "G.data"),
    (b'{"parameters": {"guidance_scale": -1e400}, "inputs": [{"name": "P", "datatype": "BYTES", "shape": [1], "data": ["x"]}]}',
     "parameters.guidance_scale"),
])
def test_a_number_beyond_float_is_refused_not_passed_on_as_infinity(body, field):
    """json.loads reads 1e400 as inf, which a rewritten body would carry on as `Infinity` (not JSON)."""
    with pytest.raises(InvalidRequest, match="a finite number") as refused:
        check_infer(parse(body, "request body"))
    assert refused.value.field == field
