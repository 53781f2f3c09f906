"""LTX2DistilledPipeline vs ltx-pipelines 1.0.0's DistilledPipeline (#14), on tiny checkpoints (CPU, fp32).

The repo folder holds Lightricks/LTX-2's names: `ltx-2-19b-dev` (one seed) beside `ltx-2-19b-distilled`
(another seed), so the video tells which file the resolver took: the distilled class must take the distilled
one. The reference runs unchanged except for its hard-coded bf16 (bound to fp32) and Gemma 12B config.
"""
from __future__ import annotations

import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch

from conftest import checkpoint_file, load_build_script
from ltx_backend.errors import InvalidRequest
from ltx_backend.pipelines.registry import DISTILLED, TWO_STAGE, files_needed
from ltx_backend.request import FIXED_BY_DISTILLATION, GenerationRequest, LoadOptions
from ltx_backend.runtime.local_components import load_pipeline
from ltx_backend.types import StepProgress
from parity import compare, psnr
from reference_env import TorchWithDtype, use_tiny_gemma_config

SETTINGS = dict(prompt="A red fox trots through fresh snow, wind howling", seed=42, width=128, height=128, num_frames=9)
CPU = torch.device("cpu")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """Lightricks/LTX-2's checkpoint names: the dev file from seed 0, the distilled one from seed 1."""
    maker = load_build_script("make_tiny_checkpoints")
    root = tmp_path_factory.mktemp("distilled")
    dev = maker.make_checkpoint(root / "dev", "2", seed=0).parent
    distilled = maker.make_checkpoint(root / "distilled", "2", seed=1).parent
    repo = root / "LTX-2"
    repo.mkdir()
    shutil.copy(checkpoint_file(dev), repo / "ltx-2-19b-dev.safetensors")
    shutil.copy(checkpoint_file(distilled), repo / "ltx-2-19b-distilled.safetensors")
    (upsampler,), (lora,) = dev.glob("*spatial-upscaler-x2*"), dev.glob("*distilled-lora*")
    shutil.copy(upsampler, repo / "ltx-2-spatial-upscaler-x2-1.0.safetensors")
    shutil.copy(lora, repo / "ltx-2-19b-distilled-lora-384.safetensors")
    for folder in ("text_encoder", "tokenizer"):
        shutil.copytree(dev / folder, repo / folder)
    return repo


def run_reference(repo, request, monkeypatch, images=(), checkpoint="ltx-2-19b-distilled.safetensors"):
    import ltx_pipelines.distilled as distilled

    use_tiny_gemma_config(repo, monkeypatch)
    monkeypatch.setattr(distilled, "torch", TorchWithDtype(torch.float32))
    pipeline = distilled.DistilledPipeline(
        distilled_checkpoint_path=str(repo / checkpoint), gemma_root=str(repo),
        spatial_upsampler_path=str(repo / "ltx-2-spatial-upscaler-x2-1.0.safetensors"), loras=[], device=CPU,
    )
    with torch.inference_mode():
        video, audio = pipeline(prompt=request.prompt, seed=request.seed, height=request.height, width=request.width,
                                num_frames=request.num_frames, frame_rate=request.fps, images=list(images))
        frames = torch.cat(list(video)).numpy()
    return frames, audio.waveform.float().numpy(), audio.sampling_rate


def test_distilled_matches_the_reference_on_the_distilled_file(repo, monkeypatch):
    pipeline = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=DISTILLED)
    assert pipeline.components.stage_weights.keys == [pipeline.components.plan.key(DISTILLED, 1)]  # one weight set, no LoRA
    request = GenerationRequest(**SETTINGS, pipeline_class_name=DISTILLED).resolve("2")
    steps: list[StepProgress] = []
    ours = pipeline(request, on_step=steps.append)
    assert [(s.stage, s.step, s.total) for s in steps] == [(1, i, 8) for i in range(1, 9)] + [(2, i, 3) for i in range(1, 4)]
    compare("LTX-2 distilled", ours, run_reference(repo, request, monkeypatch), request)
    on_dev = run_reference(repo, request, monkeypatch, checkpoint="ltx-2-19b-dev.safetensors")
    assert psnr(ours.frames, on_dev[0]) < 30  # the file decides the video: the dev one would give another


def test_distilled_with_an_image_matches_the_reference(repo, monkeypatch, tmp_path):
    from ltx_pipelines.utils.args import ImageConditioningInput
    from PIL import Image

    y, x = np.mgrid[0:150, 0:200]
    image = np.stack([x * 255 // 200, y * 255 // 150, np.full_like(x, 90)], axis=-1).astype(np.uint8)
    path = str(tmp_path / "first.png")
    Image.fromarray(image).save(path)
    request = GenerationRequest(**SETTINGS, pipeline_class_name=DISTILLED, image_paths=(path,), image_strengths=(0.8,)).resolve("2")
    pipeline = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=DISTILLED)
    ours = pipeline(request)
    reference = run_reference(repo, request, monkeypatch, [ImageConditioningInput(path, 0, 0.8, 33)])
    compare("LTX-2 distilled, one image", ours, reference, request)
    unconditioned = pipeline(GenerationRequest(**SETTINGS, pipeline_class_name=DISTILLED).resolve("2"))
    assert psnr(ours.frames, unconditioned.frames) < 40  # the image made a difference


@pytest.mark.parametrize("field", FIXED_BY_DISTILLATION)
def test_steps_guidance_and_negative_prompt_are_refused_naming_them(field):
    value = "blurry" if field == "negative_prompt" else 4
    with pytest.raises(InvalidRequest, match=rf"invalid {field}=.*left out with LTX2DistilledPipeline: .*fixed schedule"):
        GenerationRequest(prompt="a fox", pipeline_class_name=DISTILLED, **{field: value}).resolve("2")


def test_the_distilled_class_is_served_on_its_own_and_takes_no_distilled_lora():
    assert files_needed([DISTILLED]).distilled_checkpoint and not files_needed([DISTILLED]).distilled_lora
    assert not files_needed([TWO_STAGE]).distilled_checkpoint
    with pytest.raises(InvalidRequest, match="LTX2DistilledPipeline on its own"):
        files_needed([TWO_STAGE, DISTILLED])


def test_a_repo_without_a_distilled_checkpoint_is_a_clear_error(repo, tmp_path):
    from ltx_backend.loading.model_path import ModelPathError

    only_dev = tmp_path / "dev-only"
    shutil.copytree(repo, only_dev, ignore=shutil.ignore_patterns("ltx-2-19b-distilled.safetensors"))
    with pytest.raises(ModelPathError, match=r"lacks a distilled checkpoint \(\*distilled\*.safetensors, not the distilled LoRA\)"):
        load_pipeline(str(only_dev), CPU, torch.float32, pipeline_class_name=DISTILLED)


def test_fp8_cast_distilled_runs_in_fp8(repo):
    """The distilled model in fp8 (ltx-2-19b-distilled-fp8's form): its block Linears hold fp8 and it runs."""
    from ltx_backend.models.fp8_linear import Fp8CastLinear

    pipeline = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=DISTILLED, options=LoadOptions(quantization="fp8-cast"))
    assert any(isinstance(m, Fp8CastLinear) for m in pipeline.components.transformer.modules())
    result = pipeline(GenerationRequest(**dict(SETTINGS, width=64, height=64), pipeline_class_name=DISTILLED).resolve("2"))
    assert result.frames.shape == (9, 64, 64, 3) and result.frames.std() > 1.0


@pytest.mark.server
def test_served_distilled_fp8_equals_in_process(repo, tmp_path):
    """serve --pipeline-class-name LTX2DistilledPipeline --quantization fp8-cast: every model reads the distilled
    checkpoint, the denoiser holds fp8 weights; the served video is the in-process one, bit for bit."""
    from ltx_backend.serving.repository import RepositoryOptions, render_repository
    from ltx_client.remote import generate_grpc
    from ltx_client.server import TritonServer, free_port

    options = RepositoryOptions(model_path=str(repo), pipeline_classes=(DISTILLED,), load=LoadOptions(quantization="fp8-cast"))
    rendered = render_repository(options, tmp_path / "repo")
    assert all('key: "checkpoint" value: { string_value: "distilled" }' in (m / "config.pbtxt").read_text() for m in rendered.iterdir())
    request = GenerationRequest(**dict(SETTINGS, width=64, height=64), pipeline_class_name=DISTILLED)
    server = TritonServer(rendered, free_port(), free_port(), free_port(), log_path=tmp_path / "server.log").start(timeout=600)
    try:
        progress = []
        served = generate_grpc(server.grpc_url, request, on_progress=lambda p: progress.append((p.stage, p.step)), return_raw=True, timeout=600)
    finally:
        server.stop()
    assert progress == [(1, i) for i in range(1, 9)] + [(2, i) for i in range(1, 4)]
    local = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=DISTILLED, options=LoadOptions(quantization="fp8-cast"))
    expected = local(request.resolve("2"))
    np.testing.assert_array_equal(served.frames, expected.frames)
    np.testing.assert_array_equal(served.audio, expected.audio)
    assert "Linears hold fp8 weights (fp8-cast)" in (tmp_path / "server.log").read_text()


def test_serve_refuses_the_distilled_class_beside_the_dev_ones(repo, tmp_path, capsys):
    from ltx_client.cli import main

    assert main(["serve", "--model-path", str(repo), "--run-dir", str(tmp_path), "--pipeline-class-name", TWO_STAGE, DISTILLED]) == 2
    assert "LTX2DistilledPipeline on its own: it loads the distilled checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "model_repository").exists()


@pytest.mark.server
def test_served_ic_lora_and_distilled_retake_equal_in_process(repo, tmp_path):
    """serve --pipeline-class-name LTX2ICLoraPipeline LTX2DistilledRetakePipeline --lora-path IC-LORA (x2 reference
    scale in its metadata): control videos travel as VIDEO_CONDITIONING bytes, the clip as VIDEO bytes; both videos
    are the in-process ones, bit for bit; bad control videos are INVALID_ARG naming the field, and it keeps serving."""
    from ltx_backend.pipelines.registry import DISTILLED_RETAKE, IC_LORA
    from ltx_backend.serving.repository import RepositoryOptions, render_repository
    from ltx_client.remote import generate_grpc
    from ltx_client.server import TritonServer, free_port
    from serving import grpc_unary, int32, text
    from test_ic_lora_parity import control_video, mask_video
    from test_source_clip import clip

    maker = load_build_script("make_tiny_checkpoints")
    lora = str(maker.make_tiny_lora(tmp_path / "ic-lora.safetensors", "2", seed=78, metadata={"reference_downscale_factor": "2"}))
    load = LoadOptions(lora_path=lora)
    options = RepositoryOptions(model_path=str(repo), pipeline_classes=(IC_LORA, DISTILLED_RETAKE), load=load)
    rendered = render_repository(options, tmp_path / "repo")
    controls = (control_video(tmp_path / "c0.mp4", 17, 4), control_video(tmp_path / "c1.mp4", 9, 5))
    (tmp_path / "clip.mp4").write_bytes(clip(frames=9, width=96))
    ic = GenerationRequest(**dict(SETTINGS, width=128, height=128), pipeline_class_name=IC_LORA, video_conditioning_paths=controls,
                           video_conditioning_strengths=(1.0, 0.5))
    masked = replace(ic, conditioning_attention_mask_path=mask_video(tmp_path / "mask.mp4", 17), conditioning_attention_strength=0.8,
                     skip_stage_2=True)
    retake = GenerationRequest(prompt="The fox looks back", pipeline_class_name=DISTILLED_RETAKE, video_path=str(tmp_path / "clip.mp4"),
                               retake_start=0.1, retake_end=0.3)
    bad = [
        ({"VIDEO_CONDITIONING": (np.array([b"not a video"], dtype=np.object_), "BYTES")}, "video_conditioning"),
        ({}, "video_conditioning"),  # none
        ({"VIDEO_CONDITIONING": (np.array([open(controls[0], "rb").read()], dtype=np.object_), "BYTES"),
          "VIDEO_CONDITIONING_STRENGTHS": (np.array([1.0, 0.5], np.float32), "FP32")}, "video_conditioning_strengths"),
        ({"VIDEO_CONDITIONING": (np.array([open(controls[0], "rb").read()], dtype=np.object_), "BYTES"),
          "CONDITIONING_ATTENTION_MASK": (np.array([b"not a video"], dtype=np.object_), "BYTES")}, "conditioning_attention_mask"),
    ]
    base = {"PROMPT": text("a fox"), "PIPELINE_CLASS_NAME": text(IC_LORA), "WIDTH": int32(128), "HEIGHT": int32(128), "NUM_FRAMES": int32(9)}
    server = TritonServer(rendered, free_port(), free_port(), free_port(), log_path=tmp_path / "server.log").start(timeout=600)
    try:
        errors = [grpc_unary(server.grpc_url, {**base, **changes})[1] for changes, _ in bad]
        served_ic = generate_grpc(server.grpc_url, ic, return_raw=True, timeout=600)
        served_masked = generate_grpc(server.grpc_url, masked, return_raw=True, timeout=600)  # the mask's bytes travel
        served_retake = generate_grpc(server.grpc_url, retake, return_raw=True, timeout=600)
    finally:
        server.stop()
    for (status, message), (_, field) in zip(errors, bad):
        assert status == "StatusCode.INVALID_ARGUMENT" and field in message, message
    local_ic = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=IC_LORA, options=load)
    assert local_ic.components.reference_downscale_factor == 2
    expected = local_ic(ic.resolve("2"))
    np.testing.assert_array_equal(served_ic.frames, expected.frames)
    np.testing.assert_array_equal(served_ic.audio, expected.audio)
    expected = local_ic(masked.resolve("2"))
    assert served_masked.frames.shape == (9, 64, 64, 3)  # stage 1's half size
    np.testing.assert_array_equal(served_masked.frames, expected.frames)
    np.testing.assert_array_equal(served_masked.audio, expected.audio)
    local_retake = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=DISTILLED_RETAKE, options=load)
    expected = local_retake(retake.resolve("2"))
    np.testing.assert_array_equal(served_retake.frames, expected.frames)
    np.testing.assert_array_equal(served_retake.audio, expected.audio)
