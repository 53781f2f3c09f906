import dataclasses
import math

import numpy as np
import pytest

from ltx_backend.errors import InvalidRequest
from ltx_backend.request import DEFAULT_NEGATIVE_PROMPT, GenerationRequest, LoadOptions


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
    ("seed", dict(seed=-2), "between 0 and 9223372036854775807, or -1 for a random seed"),
    ("seed", dict(seed=2**63), "between 0"),
    ("seed", dict(seed=1.5), "integer"),
    ("seed", dict(seed=True), "integer"),
    ("width", dict(width=100), "a multiple of 32 between 32 and 3840"),
    ("width", dict(width=96, pipeline_class_name="LTX2TwoStagePipeline"), "a multiple of 64 between 64 and 3840 (two-stage pipelines: stage 1 runs at half size)"),
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
    ("stg_scale", dict(stg_scale=-0.5), "between 0 and 50"),
    ("stg_scale", dict(stg_scale="1"), "number"),
    ("modality_scale", dict(modality_scale=math.inf), "number"),
    ("guidance_rescale", dict(guidance_rescale=1.5), "between 0 and 1"),
    ("skip_step", dict(skip_step=-1), "integer between 0 and 200"),
    ("skip_step", dict(skip_step=1.5), "integer"),
    ("fps", dict(fps=0.0), "between 1"),
    ("fps", dict(fps=math.inf), "number"),
    ("guidance_scale", dict(guidance_scale=10**400), "a number between 0 and 50"),  # beyond float: not an OverflowError
    ("fps", dict(num_frames=1, fps=50.0), "below 50 for 1 frame(s)"),  # no audio latent frame: round(0.5) = 0
    # bounds on the work (#18): the clip's seconds, whatever its frame count; its tokens at full size
    ("num_frames", dict(num_frames=481, fps=1.0), "at most 20.5 s of video and audio: 481 frames at 1 fps last 481 s"),
    ("num_frames", dict(num_frames=49, fps=1.0), "at most 20.5 s"),
    ("num_frames", dict(num_frames=129, width=3840, height=2176), "a clip of at most 130560 latent tokens"),
    ("prompt", dict(prompt="a\udcffb"), "text in UTF-8"),  # a command line whose bytes were not UTF-8
    ("negative_prompt", dict(negative_prompt="\ud800"), "text in UTF-8"),
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


LOAD_BAD = [
    ("lora_scale", dict(lora_scale=math.nan), "number"),
    ("lora_scale", dict(lora_path="style.safetensors", lora_scale=11.0), "between -10 and 10"),
    ("lora_path", dict(lora_path="  "), "a LoRA .safetensors file"),
    ("lora_path", dict(lora_path=3), "a LoRA .safetensors file"),
    ("lora_weight_name", dict(lora_weight_name="a.safetensors"), "only with lora_path"),
    ("lora_weight_name", dict(lora_path="owner/repo", lora_weight_name=b"a"), "a text string"),
]


@pytest.mark.parametrize("field,kwargs,allowed", LOAD_BAD, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(LOAD_BAD)])
def test_bad_load_options_name_field_value_and_allowed(field, kwargs, allowed):
    with pytest.raises(InvalidRequest) as info:
        LoadOptions(**kwargs).check()
    assert info.value.field == field and allowed in str(info.value)
    with pytest.raises(InvalidRequest) as info:  # the same check, named as the command-line flag
        LoadOptions(**kwargs).check(as_flags=True)
    assert info.value.field == "--" + field.replace("_", "-")


def test_seed_minus_one_draws_a_random_seed():
    """ltx-pipelines' retake convention, for every class: the resolved request carries the seed drawn."""
    seeds = {GenerationRequest(prompt="a fox", seed=-1).resolve("2").seed for _ in range(4)}
    assert all(0 <= seed < 2**31 for seed in seeds) and len(seeds) > 1  # four draws from 2^31, all equal: p = 2^-93
    assert GenerationRequest(prompt="a fox", seed=np.int64(-1)).resolve("2").seed >= 0


def test_load_options_are_not_request_fields():
    """The LoRA is chosen when a pipeline loads, not per request: GenerationRequest has no such field."""
    assert not {f.name for f in dataclasses.fields(LoadOptions)} & set(GenerationRequest.field_names())
    assert LoadOptions(lora_path="owner/repo", lora_scale=np.float32(0.5)).check().lora_scale == 0.5


def test_edge_values_that_are_allowed_and_numpy_numbers():
    assert GenerationRequest(prompt="a", num_frames=1, fps=49.0).resolve("2").fps == 49.0  # one audio latent frame
    assert GenerationRequest(prompt="a", num_frames=9, fps=120.0).resolve("2").fps == 120.0
    r = GenerationRequest(prompt="a", width=np.int64(512), seed=np.uint32(7), guidance_scale=np.float32(2.5)).resolve("2")
    assert (r.width, r.seed, r.guidance_scale) == (512, 7, 2.5)
    assert type(r.width) is int and type(r.seed) is int and type(r.guidance_scale) is float
    with pytest.raises(InvalidRequest, match="invalid width=True"):
        GenerationRequest(prompt="a", width=np.bool_(True)).resolve("2")


def test_the_largest_clips_the_bounds_are_sized_for_are_allowed():
    assert GenerationRequest(prompt="a", num_frames=481, fps=24.0).resolve("2").num_frames == 481  # 20.04 s
    assert GenerationRequest(prompt="a", num_frames=121, width=3840, height=2176).resolve("2.3").width == 3840
    assert GenerationRequest(prompt="a", num_frames=481, width=1920, height=1088).resolve("2.3").num_frames == 481


def test_conditioning_images_count_toward_the_tokens_and_the_pixels():
    import io

    from PIL import Image

    def png(width: int, height: int) -> bytes:
        buffer = io.BytesIO()
        Image.new("RGB", (width, height), (90, 120, 200)).save(buffer, format="PNG")
        return buffer.getvalue()

    small = png(64, 64)
    full = dict(prompt="a", width=3840, height=2176, num_frames=113, image_frame_indices=(0, 8, 16), image_crf=0)
    with pytest.raises(InvalidRequest, match=r"invalid images='<3 images>': fewer keyframe images for 3840x2176 x 113 frames: each adds 8160 tokens"):
        GenerationRequest(images=(small,) * 3, **full).resolve("2.3")
    assert GenerationRequest(images=(small,), **{**full, "image_frame_indices": (0,)}).resolve("2.3").images  # frame 0 adds no tokens
    assert GenerationRequest(images=(small,), **{**full, "num_frames": 105, "image_frame_indices": (0,), "image_mode": "keyframes"}).resolve("2.3").images
    big = png(3840, 2176)  # 8.4 Mpixels each; four of them are over the 33.4 Mpixel total
    with pytest.raises(InvalidRequest, match=r"invalid images='<5 images, 41779200 pixels>': images of at most 33423360 pixels in all"):
        GenerationRequest(prompt="a", images=(big,) * 5, image_frame_indices=(0, 8, 16, 24, 32), num_frames=41, image_crf=0).resolve("2.3")


def test_value_is_in_the_message():
    with pytest.raises(InvalidRequest, match=r"invalid num_frames=120: 8k\+1"):
        GenerationRequest(prompt="a cat", num_frames=120).resolve("2.3")


def test_guidance_terms_stay_the_pipelines_defaults_unless_given():
    from ltx_backend.sampling.guidance import default_guidance, request_guidance

    r = GenerationRequest(prompt="a cat").resolve("2")
    assert (r.stg_scale, r.modality_scale, r.guidance_rescale) == (None, None, None)
    assert request_guidance(default_guidance("2"), r) == default_guidance("2")
    # SGLang's LTX-2 default (CFG 4.0 only): both streams lose STG and modality isolation, audio keeps CFG 7
    r = GenerationRequest(prompt="a cat", guidance_scale=4.0, stg_scale=0, modality_scale=1, guidance_rescale=0).resolve("2")
    video, audio = request_guidance(default_guidance("2"), r)
    assert (video.cfg_scale, video.stg_scale, video.modality_scale, video.rescale_scale) == (4.0, 0.0, 1.0, 0.0)
    assert (audio.cfg_scale, audio.stg_scale, audio.modality_scale, audio.rescale_scale) == (7.0, 0.0, 1.0, 0.0)
    assert not video.needs_perturbed() and not video.needs_isolated() and not audio.needs_perturbed()
    video, audio = request_guidance(default_guidance("2.3"), GenerationRequest(prompt="a cat", skip_step=2).resolve("2.3"))
    assert (video.skip_step, audio.skip_step, video.stg_scale) == (2, 2, 1.0)


def test_hq_takes_no_stg():
    with pytest.raises(InvalidRequest, match=r"invalid stg_scale=1.0: 0 with LTX2TwoStageHQPipeline"):
        GenerationRequest(prompt="a cat", pipeline_class_name="LTX2TwoStageHQPipeline", stg_scale=1.0).resolve("2.3")
    r = GenerationRequest(prompt="a cat", pipeline_class_name="LTX2TwoStageHQPipeline", stg_scale=0).resolve("2.3")
    assert r.stg_scale == 0
