import math

import pytest

from ltx_backend.request import DEFAULT_NEGATIVE_PROMPT, GenerationRequest, InvalidRequest


def test_defaults_follow_the_spec_table():
    r2 = GenerationRequest(prompt="a cat").resolve("2")
    assert (r2.width, r2.height, r2.num_frames, r2.num_inference_steps, r2.fps, r2.seed) == (768, 512, 121, 40, 24.0, 10)
    r23 = GenerationRequest(prompt="a cat").resolve("2.3")
    assert (r23.width, r23.height, r23.num_frames, r23.num_inference_steps) == (768, 512, 121, 30)
    assert r23.negative_prompt == DEFAULT_NEGATIVE_PROMPT
    assert GenerationRequest(prompt="a cat", negative_prompt="").resolve("2").negative_prompt == ""


BAD = [
    ("prompt", dict(prompt=""), "non-empty"),
    ("prompt", dict(prompt="   "), "non-empty"),
    ("prompt", dict(prompt=7), "text"),
    ("prompt", dict(prompt="x" * 20_001), "at most"),
    ("negative_prompt", dict(negative_prompt=b"bytes"), "text"),
    ("pipeline_class_name", dict(pipeline_class_name="LTXPipeline"), "one of"),
    ("pipeline_class_name", dict(pipeline_class_name="LTX2TwoStageHQPipeline"), "LTX-2.3"),
    ("seed", dict(seed=-1), "between 0"),
    ("seed", dict(seed=1.5), "integer"),
    ("seed", dict(seed=True), "integer"),
    ("width", dict(width=100), "multiple of 32"),
    ("width", dict(width=0), "between"),
    ("width", dict(width=7680), "between"),
    ("height", dict(height=200), "multiple of 32"),
    ("height", dict(height="512"), "integer"),
    ("width", dict(width=3840, height=3840), "width*height"),
    ("num_frames", dict(num_frames=120), "8k+1"),
    ("num_frames", dict(num_frames=0), "between 1"),
    ("num_frames", dict(num_frames=489), "between 1 and 481"),
    ("num_inference_steps", dict(num_inference_steps=0), "between 1"),
    ("num_inference_steps", dict(num_inference_steps=1000), "between 1 and 200"),
    ("guidance_scale", dict(guidance_scale=math.nan), "number"),
    ("guidance_scale", dict(guidance_scale=-1.0), "between 0"),
    ("fps", dict(fps=0.0), "between 1"),
    ("fps", dict(fps=math.inf), "number"),
    ("lora_scale", dict(lora_scale=math.nan), "number"),
]


@pytest.mark.parametrize("field,kwargs,allowed", BAD, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD)])
def test_bad_values_name_field_value_and_allowed(field, kwargs, allowed):
    fields = dict(prompt="a cat")
    fields.update(kwargs)
    with pytest.raises(InvalidRequest) as info:
        GenerationRequest(**fields).resolve("2")
    message = str(info.value)
    assert info.value.field == field
    assert message.startswith(f"invalid {field}=")
    assert allowed in message


def test_value_is_in_the_message():
    with pytest.raises(InvalidRequest, match=r"invalid num_frames=120: 8k\+1"):
        GenerationRequest(prompt="a cat", num_frames=120).resolve("2.3")
