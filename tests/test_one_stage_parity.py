"""LTX2Pipeline vs ltx-pipelines' TI2VidOneStagePipeline on the same tiny checkpoint, prompt and seed (fp32, CPU).

The reference pipeline runs unchanged; only its hard-coded bf16 is bound to fp32 (TorchWithDtype) and its
hard-coded Gemma 3 12B config is replaced by the tiny checkpoint's (use_tiny_gemma_config).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import checkpoint_file
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline
from ltx_backend.types import StepProgress
from parity import compare
from reference_env import TorchWithDtype, use_tiny_gemma_config
from reference_env import run_reference as reference_run

SETTINGS = dict(prompt="A red fox trots through fresh snow, wind howling", seed=42, width=96, height=64, num_frames=17, num_inference_steps=4)


def run_reference(directory, version: str, request: GenerationRequest, monkeypatch):
    from ltx_pipelines.utils.constants import LTX_2_3_PARAMS, LTX_2_PARAMS

    return run_reference_with(directory, request, LTX_2_3_PARAMS if version == "2.3" else LTX_2_PARAMS, monkeypatch)


def run_reference_with(directory, request: GenerationRequest, params, monkeypatch):
    import ltx_pipelines.ti2vid_one_stage as one_stage

    use_tiny_gemma_config(directory, monkeypatch)
    monkeypatch.setattr(one_stage, "torch", TorchWithDtype(torch.float32))
    pipeline = one_stage.TI2VidOneStagePipeline(
        checkpoint_path=str(checkpoint_file(directory)), gemma_root=str(directory), loras=[], device=torch.device("cpu")
    )
    return reference_run(pipeline, request, params)


@pytest.mark.parametrize("version", ["2", "2.3"])
def test_one_stage_matches_reference(version, tiny_checkpoints, monkeypatch):
    directory = tiny_checkpoints[version]
    pipeline = load_pipeline(str(directory), device=torch.device("cpu"), dtype=torch.float32)
    assert pipeline.model_version == version
    request = GenerationRequest(**SETTINGS).resolve(version)
    steps: list[StepProgress] = []
    ours = pipeline(request, on_step=steps.append)
    ref_frames, ref_audio, ref_rate = run_reference(directory, version, request, monkeypatch)

    assert [s.step for s in steps] == [1, 2, 3, 4] and {s.total for s in steps} == {4}
    compare(f"LTX-{version} one-stage", ours, (ref_frames, ref_audio, ref_rate), request)


def test_same_seed_same_video_other_seed_differs(tiny_checkpoints):
    pipeline = load_pipeline(str(tiny_checkpoints["2.3"]), device=torch.device("cpu"), dtype=torch.float32)
    small = dict(SETTINGS, num_inference_steps=2, num_frames=9)
    a = pipeline(GenerationRequest(**small).resolve("2.3"))
    b = pipeline(GenerationRequest(**small).resolve("2.3"))
    c = pipeline(GenerationRequest(**dict(small, seed=43)).resolve("2.3"))
    assert np.array_equal(a.frames, b.frames) and np.array_equal(a.audio, b.audio)
    assert not np.array_equal(a.frames, c.frames)


def run_counting_batches(pipeline, request: GenerationRequest):
    """The pipeline's result and the batch size of each transformer call it made."""
    batches = []
    hook = pipeline.components.transformer.register_forward_pre_hook(lambda _, args: batches.append(args[0].latent.shape[0]))
    try:
        return pipeline(request), batches
    finally:
        hook.remove()


def test_guidance_overrides_match_reference_and_drop_passes(tiny_checkpoints, monkeypatch):
    """SGLang's LTX-2 guidance (CFG 4.0 only) through the request's guidance fields: the reference with the
    same guider parameters gives the same video and audio, and each step runs 2 passes instead of 4."""
    from dataclasses import replace

    from ltx_pipelines.utils.constants import LTX_2_PARAMS

    directory = tiny_checkpoints["2"]
    pipeline = load_pipeline(str(directory), device=torch.device("cpu"), dtype=torch.float32)
    request = GenerationRequest(
        **dict(SETTINGS, num_inference_steps=3), guidance_scale=4.0, stg_scale=0.0, modality_scale=1.0, guidance_rescale=0.0
    ).resolve("2")
    ours, batches = run_counting_batches(pipeline, request)
    assert batches == [2, 2, 2]  # cond + uncond, one call per step

    def cfg_only(params, cfg_scale):
        return replace(params, cfg_scale=cfg_scale, stg_scale=0.0, modality_scale=1.0, rescale_scale=0.0)

    params = replace(
        LTX_2_PARAMS,
        video_guider_params=cfg_only(LTX_2_PARAMS.video_guider_params, 4.0),
        audio_guider_params=cfg_only(LTX_2_PARAMS.audio_guider_params, LTX_2_PARAMS.audio_guider_params.cfg_scale),
    )
    compare("LTX-2 one-stage, CFG-only guidance", ours, run_reference_with(directory, request, params, monkeypatch), request)


def test_skip_step_matches_reference_and_skips_the_transformer(tiny_checkpoints, monkeypatch):
    """skip_step 1 (both streams): the transformer runs at steps 0 and 2 of 3, and the video and audio are
    the reference's with the same guider parameters."""
    from dataclasses import replace

    from ltx_pipelines.utils.constants import LTX_2_PARAMS

    directory = tiny_checkpoints["2"]
    pipeline = load_pipeline(str(directory), device=torch.device("cpu"), dtype=torch.float32)
    request = GenerationRequest(**dict(SETTINGS, num_inference_steps=3), skip_step=1).resolve("2")
    ours, batches = run_counting_batches(pipeline, request)
    assert batches == [4, 4]
    params = replace(
        LTX_2_PARAMS,
        video_guider_params=replace(LTX_2_PARAMS.video_guider_params, skip_step=1),
        audio_guider_params=replace(LTX_2_PARAMS.audio_guider_params, skip_step=1),
    )
    compare("LTX-2 one-stage, skip_step 1", ours, run_reference_with(directory, request, params, monkeypatch), request)
