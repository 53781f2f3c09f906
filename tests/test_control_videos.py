"""The IC-LoRA class's control videos: request validation (each bad one an InvalidRequest naming the field), the
--video-conditioning flag, the LoRA's reference scale, and the stages its weights go to."""
from __future__ import annotations

import pytest

from conftest import load_build_script
from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.lora import LoraError, common_reference_downscale_factor, read_lora, read_reference_downscale_factor
from ltx_backend.pipelines.registry import DISTILLED, IC_LORA, spec_of
from ltx_backend.request import MAX_CONTROL_VIDEOS, GenerationRequest
from test_source_clip import clip

IC = dict(prompt="a dancer", pipeline_class_name=IC_LORA, width=128, height=128, num_frames=9)
CONTROL = clip(frames=17, width=96, height=80, sound=False)
MASK = clip(frames=9, width=96, height=80, sound=False)


def test_defaults_and_strengths():
    request = GenerationRequest(**IC, video_conditioning=(CONTROL, clip(frames=9))).resolve("2.3")
    assert request.video_conditioning_strengths == (1.0, 1.0)
    assert (request.num_inference_steps, request.guidance_scale) == (8, 1.0)  # the distilled schedule, unguided


BAD = [
    ("none", {}, "video_conditioning"),
    ("too many", {"video_conditioning": (CONTROL,) * (MAX_CONTROL_VIDEOS + 1)}, "video_conditioning"),
    ("paths and bytes", {"video_conditioning": (CONTROL,), "video_conditioning_paths": ("/x.mp4",)}, "video_conditioning"),
    ("missing file", {"video_conditioning_paths": ("/nonexistent/pose.mp4",)}, "video_conditioning_paths"),
    ("not a video", {"video_conditioning": (b"\x00\x00\x00\x18ftypisom",)}, "video_conditioning"),
    ("empty bytes", {"video_conditioning": (b"",)}, "video_conditioning"),
    ("a string, not a list", {"video_conditioning_paths": "pose.mp4"}, "video_conditioning_paths"),
    ("shorter and not 8k+1", {"video_conditioning": (clip(frames=6),), "num_frames": 9}, "video_conditioning"),
    ("strength count", {"video_conditioning": (CONTROL,), "video_conditioning_strengths": (1.0, 0.5)}, "video_conditioning_strengths"),
    ("strength above 1", {"video_conditioning": (CONTROL,), "video_conditioning_strengths": (1.5,)}, "video_conditioning_strengths"),
    ("for another class", {"video_conditioning": (CONTROL,), "pipeline_class_name": DISTILLED}, "video_conditioning"),
    ("strengths for another class", {"video_conditioning_strengths": (1.0,), "pipeline_class_name": DISTILLED}, "video_conditioning_strengths"),
    ("attention strength above 1", {"video_conditioning": (CONTROL,), "conditioning_attention_strength": 1.5},
     "conditioning_attention_strength"),
    ("attention strength for another class", {"pipeline_class_name": DISTILLED, "conditioning_attention_strength": 0.5},
     "conditioning_attention_strength"),
    ("steps for the distilled schedule", {"video_conditioning": (CONTROL,), "num_inference_steps": 4}, "num_inference_steps"),
    ("mask not a video", {"video_conditioning": (CONTROL,), "conditioning_attention_mask": b"RIFF...."}, "conditioning_attention_mask"),
    ("mask file missing", {"video_conditioning": (CONTROL,), "conditioning_attention_mask_path": "/nonexistent/mask.mp4"},
     "conditioning_attention_mask_path"),
    ("mask path and bytes", {"video_conditioning": (CONTROL,), "conditioning_attention_mask": MASK,
                             "conditioning_attention_mask_path": "/x.mp4"}, "conditioning_attention_mask"),
    # 17 frames -> 3 latent frames: the mask's frames after its first must split in 2 equal runs
    ("mask frames do not split", {"video_conditioning": (CONTROL,), "conditioning_attention_mask": clip(frames=12, sound=False),
                                  "num_frames": 17}, "conditioning_attention_mask"),
    ("one-frame mask, several latent frames", {"video_conditioning": (CONTROL,), "conditioning_attention_mask": clip(frames=1, sound=False)},
     "conditioning_attention_mask"),
    ("mask for another class", {"pipeline_class_name": DISTILLED, "conditioning_attention_mask": MASK}, "conditioning_attention_mask"),
    ("skip stage 2 for another class", {"pipeline_class_name": DISTILLED, "skip_stage_2": True}, "skip_stage_2"),
    ("skip stage 2 not a bool", {"video_conditioning": (CONTROL,), "skip_stage_2": "yes"}, "skip_stage_2"),
]


@pytest.mark.parametrize("name,fields,field", BAD, ids=[b[0] for b in BAD])
def test_bad_control_video_is_invalid_request_naming_the_field(name, fields, field):
    with pytest.raises(InvalidRequest) as error:
        GenerationRequest(**{**IC, **fields}).resolve("2")
    assert error.value.field == field, str(error.value)


def test_a_mask_of_matching_frames_and_skip_stage_2_are_taken():
    request = GenerationRequest(**IC, video_conditioning=(CONTROL, clip(frames=9)), conditioning_attention_mask=MASK,
                                conditioning_attention_strength=0.5, skip_stage_2=True).resolve("2.3")
    assert request.skip_stage_2 is True and request.conditioning_attention_mask == MASK
    # 17 frames: a control video of 3 latent frames takes the mask's 16 later frames in runs of 8
    assert GenerationRequest(**{**IC, "num_frames": 17}, video_conditioning=(CONTROL,), conditioning_attention_mask=CONTROL).resolve("2")


def test_attention_mask_flag_takes_an_optional_strength(capsys):
    import argparse

    from ltx_client.cli import _attention_fields, _generate_parser

    parser = argparse.ArgumentParser()
    _generate_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["generate", "--prompt", "p", "--conditioning-attention-mask", "mask.mp4", "0.4", "--skip-stage-2"])
    assert args.conditioning_attention_mask == ("mask.mp4", 0.4) and args.skip_stage_2
    assert _attention_fields(None, ("mask.mp4", 0.4)) == {"conditioning_attention_strength": 0.4, "conditioning_attention_mask_path": "mask.mp4"}
    assert _attention_fields(0.3, ("mask.mp4", None)) == {"conditioning_attention_strength": 0.3, "conditioning_attention_mask_path": "mask.mp4"}
    assert _attention_fields(None, None) == {"conditioning_attention_strength": 1.0, "conditioning_attention_mask_path": None}
    with pytest.raises(InvalidRequest) as error:
        _attention_fields(0.3, ("mask.mp4", 0.4))
    assert error.value.field == "--conditioning-attention-strength"
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--prompt", "p", "--conditioning-attention-mask", "mask.mp4", "strong"])
    assert "STRENGTH 'strong' is not a number" in capsys.readouterr().err


def test_video_conditioning_flag_takes_optional_strengths():
    from ltx_client.cli import _control_videos

    assert _control_videos(["depth.mp4", "pose.mp4:0.5", "C:/clips/edges.mp4:1", "dir:name.mp4"]) == {
        "video_conditioning_paths": ("depth.mp4", "pose.mp4", "C:/clips/edges.mp4", "dir:name.mp4"),
        "video_conditioning_strengths": (1.0, 0.5, 1.0, 1.0),
    }
    assert _control_videos(None) == {}


def test_reference_scale_is_read_from_the_lora_metadata(tmp_path):
    maker = load_build_script("make_tiny_checkpoints")
    plain = maker.make_tiny_lora(tmp_path / "plain.safetensors", "2", seed=1)
    half = maker.make_tiny_lora(tmp_path / "half.safetensors", "2", seed=2, metadata={"reference_downscale_factor": "2"})
    third = maker.make_tiny_lora(tmp_path / "third.safetensors", "2", seed=3, metadata={"reference_downscale_factor": "3"})
    broken = maker.make_tiny_lora(tmp_path / "broken.safetensors", "2", seed=4, metadata={"reference_downscale_factor": "two"})
    assert read_lora(str(plain)).reference_downscale_factor == 1 and read_reference_downscale_factor(str(half)) == 2
    assert common_reference_downscale_factor([read_lora(str(plain)), read_lora(str(half))]) == 2
    with pytest.raises(LoraError, match="different reference_downscale_factor"):
        common_reference_downscale_factor([read_lora(str(half)), read_lora(str(third))])
    with pytest.raises(LoraError, match="reference_downscale_factor='two'"):
        read_lora(str(broken))


def test_the_ic_lora_goes_into_stage_1_only():
    """ltx-pipelines' ICLoraPipeline fuses the IC-LoRA into its stage-1 transformer; stage 2 has none."""
    user = [("ic-lora", 1.0)]
    assert spec_of(IC_LORA).stage_loras(None, user) == {1: user, 2: []}
    assert spec_of(DISTILLED).stage_loras(None, user) == {1: user, 2: user}


@pytest.mark.parametrize("frames,latent", [((17, 40, 24), (3, 5, 3)), ((33, 64, 64), (5, 2, 2)), ((25, 30, 50), (4, 3, 7)),
                                           ((9, 16, 16), (1, 1, 1)), ((1, 8, 8), (1, 8, 8))])
def test_mask_weights_equal_the_reference_downsampling(frames, latent):
    """latent_token_weights vs ltx-pipelines' ICLoraPipeline._downsample_mask_to_latent: runs over several latent
    frames, a batch of two, non-square grids, a single latent frame, a one-frame mask."""
    import torch
    from ltx_core.types import VideoLatentShape
    from ltx_pipelines.ic_lora import ICLoraPipeline

    from ltx_backend.pipelines.control_videos import latent_token_weights

    mask = torch.rand(2, 1, *frames, generator=torch.Generator().manual_seed(sum(frames)))
    expected = ICLoraPipeline._downsample_mask_to_latent(mask, VideoLatentShape(batch=2, channels=128, frames=latent[0],
                                                                                height=latent[1], width=latent[2]))
    torch.testing.assert_close(latent_token_weights(mask, torch.Size(latent)), expected, rtol=0, atol=1e-6)
