"""LTX2TwoStagePipeline / LTX2TwoStageHQPipeline vs ltx-pipelines 1.0.0's TI2VidTwoStagesPipeline,
TI2VidTwoStagesHQPipeline and KeyframeInterpolationPipeline on the same tiny checkpoint, upsampler,
distilled LoRA, prompt and seed (CPU, fp32).

The reference runs unchanged except for what stands between it and fp32 on CPU:
- its hard-coded bf16 is bound to fp32 (TorchWithDtype) and its Gemma 3 12B config replaced by the tiny one;
- ltx-core's LoRA fusion (loader/fuse_loras.py) refuses fp32 base weights ("Unsupported dtype"); the test
  lets fp32 weights through its bf16 branch, which is the same formula in the weights' dtype:
  W + (B * strength) @ A. Ours merges W + strength * (B @ A) (loading/lora.py, no alpha in the distilled
  file, so no alpha/rank factor either way): equal up to float rounding;
- the HQ pipeline's res_2s loop rounds latents to bf16 between steps by a default argument
  (model_dtype=torch.bfloat16, not reached by TorchWithDtype); the test binds it to fp32, as ours uses
  the pipeline dtype.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
import torch

from conftest import checkpoint_file
from ltx_backend.pipelines.registry import TWO_STAGE, TWO_STAGE_HQ
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline
from ltx_backend.types import StepProgress
from parity import compare
from reference_env import TorchWithDtype, allow_fp32_lora_fusion, run_reference, use_tiny_gemma_config

SETTINGS = dict(prompt="A red fox trots through fresh snow, wind howling", seed=42, width=128, height=128, num_frames=9, num_inference_steps=3)
CPU = torch.device("cpu")


def extras(directory):
    (upsampler,) = directory.glob("*spatial-upscaler-x2*.safetensors")
    (lora,) = directory.glob("*distilled-lora*.safetensors")
    return upsampler, lora


def reference_pipeline(module_name: str, class_name: str, directory, monkeypatch, **kwargs):
    import importlib

    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps

    module = importlib.import_module(f"ltx_pipelines.{module_name}")
    use_tiny_gemma_config(directory, monkeypatch)
    monkeypatch.setattr(module, "torch", TorchWithDtype(torch.float32))
    allow_fp32_lora_fusion(monkeypatch)
    if hasattr(module, "res2s_audio_video_denoising_loop"):
        loop = module.res2s_audio_video_denoising_loop
        monkeypatch.setattr(module, "res2s_audio_video_denoising_loop", functools.partial(loop, model_dtype=torch.float32))
    upsampler, lora = extras(directory)
    return getattr(module, class_name)(
        checkpoint_path=str(checkpoint_file(directory)),
        distilled_lora=[LoraPathStrengthAndSDOps(str(lora), 1.0, LTXV_LORA_COMFY_RENAMING_MAP)],
        spatial_upsampler_path=str(upsampler),
        gemma_root=str(directory),
        loras=[],
        device=CPU,
        **kwargs,
    )






@pytest.mark.parametrize("version", ["2", "2.3"])
def test_two_stage_matches_reference(version, tiny_checkpoints, monkeypatch):
    from ltx_pipelines.utils.constants import LTX_2_3_PARAMS, LTX_2_PARAMS

    directory = tiny_checkpoints[version]
    pipeline = load_pipeline(str(directory), CPU, torch.float32, pipeline_class_name=TWO_STAGE)
    request = GenerationRequest(**SETTINGS, pipeline_class_name=TWO_STAGE).resolve(version)
    steps: list[StepProgress] = []
    ours = pipeline(request, on_step=steps.append)
    assert [(s.stage, s.step, s.total) for s in steps] == [(1, 1, 3), (1, 2, 3), (1, 3, 3), (2, 1, 3), (2, 2, 3), (2, 3, 3)]
    reference = reference_pipeline("ti2vid_two_stages", "TI2VidTwoStagesPipeline", directory, monkeypatch)
    params = LTX_2_3_PARAMS if version == "2.3" else LTX_2_PARAMS
    compare(f"LTX-{version} two-stage", ours, run_reference(reference, request, params), request)


def test_hq_matches_reference(tiny_checkpoints, monkeypatch):
    from ltx_pipelines.utils.constants import LTX_2_3_HQ_PARAMS

    directory = tiny_checkpoints["2.3"]
    pipeline = load_pipeline(str(directory), CPU, torch.float32, pipeline_class_name=TWO_STAGE_HQ)
    request = GenerationRequest(**dict(SETTINGS, num_inference_steps=2), pipeline_class_name=TWO_STAGE_HQ).resolve("2.3")
    ours = pipeline(request)
    reference = reference_pipeline(
        "ti2vid_two_stages_hq", "TI2VidTwoStagesHQPipeline", directory, monkeypatch,
        distilled_lora_strength_stage_1=0.25, distilled_lora_strength_stage_2=0.5,
    )
    compare("LTX-2.3 HQ two-stage", ours, run_reference(reference, request, LTX_2_3_HQ_PARAMS), request)


def write_images(tmp_path) -> list[str]:
    rng = np.random.default_rng(5)
    paths = []
    for i, (h, w) in enumerate([(150, 200), (90, 70)]):
        y, x = np.mgrid[0:h, 0:w]
        image = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 60 + 120 * i)], axis=-1)
        image = np.clip(image + rng.integers(-20, 20, image.shape), 0, 255).astype(np.uint8)
        from PIL import Image

        path = tmp_path / f"image{i}.png"
        Image.fromarray(image).save(path)
        paths.append(str(path))
    return paths


def test_two_images_match_reference_keyframe_interpolation(tiny_checkpoints, monkeypatch, tmp_path):
    """image_mode="keyframes": every image (frame 0 included) as keyframe tokens, as KeyframeInterpolationPipeline."""
    from ltx_pipelines.utils.args import ImageConditioningInput
    from ltx_pipelines.utils.constants import LTX_2_PARAMS

    directory = tiny_checkpoints["2"]
    paths = write_images(tmp_path)
    request = GenerationRequest(
        **SETTINGS, pipeline_class_name=TWO_STAGE, image_paths=tuple(paths), image_strengths=(1.0, 0.8), image_mode="keyframes"
    ).resolve("2")
    assert request.image_frame_indices == (0, 8)
    ours = load_pipeline(str(directory), CPU, torch.float32, pipeline_class_name=TWO_STAGE)(request)
    reference = reference_pipeline("keyframe_interpolation", "KeyframeInterpolationPipeline", directory, monkeypatch)
    images = [ImageConditioningInput(p, i, s, 33) for p, i, s in zip(paths, request.image_frame_indices, request.image_strengths)]
    compare("LTX-2 keyframe interpolation", ours, run_reference(reference, request, LTX_2_PARAMS, images), request)


def test_two_images_match_reference_ti2vid_two_stages(tiny_checkpoints, monkeypatch, tmp_path):
    """image_mode="combined" (default): frame 0 replaces the first latent frame, the last image is keyframe tokens."""
    from ltx_pipelines.utils.args import ImageConditioningInput
    from ltx_pipelines.utils.constants import LTX_2_PARAMS

    directory = tiny_checkpoints["2"]
    paths = write_images(tmp_path)
    request = GenerationRequest(**SETTINGS, pipeline_class_name=TWO_STAGE, image_paths=tuple(paths), image_strengths=(1.0, 0.9)).resolve("2")
    ours = load_pipeline(str(directory), CPU, torch.float32, pipeline_class_name=TWO_STAGE)(request)
    reference = reference_pipeline("ti2vid_two_stages", "TI2VidTwoStagesPipeline", directory, monkeypatch)
    images = [ImageConditioningInput(p, i, s, 33) for p, i, s in zip(paths, request.image_frame_indices, request.image_strengths)]
    compare("LTX-2 two-stage TI2V (two images)", ours, run_reference(reference, request, LTX_2_PARAMS, images), request)


def test_one_stage_with_an_image_matches_reference(tiny_checkpoints, monkeypatch, tmp_path):
    import ltx_pipelines.ti2vid_one_stage as one_stage
    from ltx_pipelines.utils.args import ImageConditioningInput
    from ltx_pipelines.utils.constants import LTX_2_3_PARAMS

    directory = tiny_checkpoints["2.3"]
    (path, _) = write_images(tmp_path)
    request = GenerationRequest(**dict(SETTINGS, width=96, height=64), image_paths=(path,), image_strengths=(0.7,)).resolve("2.3")
    ours = load_pipeline(str(directory), CPU, torch.float32)(request)
    use_tiny_gemma_config(directory, monkeypatch)
    monkeypatch.setattr(one_stage, "torch", TorchWithDtype(torch.float32))
    reference = one_stage.TI2VidOneStagePipeline(checkpoint_path=str(checkpoint_file(directory)), gemma_root=str(directory), loras=[], device=CPU)
    images = [ImageConditioningInput(path, 0, 0.7, 33)]
    compare("LTX-2.3 one-stage TI2V", ours, run_reference(reference, request, LTX_2_3_PARAMS, images), request)
