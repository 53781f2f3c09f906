"""--enhance-prompt vs ltx-pipelines 1.0.0's generate_enhanced_prompt on the tiny Gemma 3 (its chat template and
256 image tokens are the published model's): the same rewrite for text-to-video and image-to-video at a seed, and
a whole one-stage generation with enhancement equal to TI2VidOneStagePipeline(enhance_prompt=True)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import checkpoint_file
from ltx_backend.loading.published_files import Needs
from ltx_backend.loading.sources import open_model
from ltx_backend.models.text_encoder.enhancer import PROMPTS, clean_response
from ltx_backend.pipelines.prompt_enhancement import enhancement_image
from ltx_backend.request import GenerationRequest
from parity import compare
from reference_env import TorchWithDtype, use_tiny_gemma_config

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def encoders(tiny_checkpoints):
    """(ours, the reference's GemmaTextEncoder) on the tiny LTX-2.3 Gemma, fp32."""
    from ltx_pipelines.utils.model_ledger import ModelLedger

    directory = tiny_checkpoints["2.3"]
    with pytest.MonkeyPatch.context() as monkeypatch:
        use_tiny_gemma_config(directory, monkeypatch)
        ledger = ModelLedger(dtype=torch.float32, device=CPU, checkpoint_path=str(checkpoint_file(directory)), gemma_root_path=str(directory))
        reference = ledger.text_encoder()
    ours = open_model(str(directory), Needs(text_encoder=True)).text_encoder(CPU, torch.float32)
    return ours, reference


def image_file(path: Path, height: int = 150, width: int = 200) -> str:
    from PIL import Image

    Image.fromarray(np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path)
    return str(path)


def test_system_prompts_are_ltx_cores():
    import ltx_core.text_encoders.gemma.encoders.base_encoder as base

    reference = Path(base.__file__).parent / "prompts"
    for kind in ("t2v", "i2v"):
        name = f"gemma_{kind}_system_prompt.txt"
        assert (PROMPTS / name).read_text() == (reference / name).read_text()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [42, 7])
def test_text_to_video_enhancement_equals_the_reference(encoders, seed):
    from ltx_pipelines.utils.helpers import generate_enhanced_prompt

    ours, reference = encoders
    expected = generate_enhanced_prompt(reference, "A red fox runs through fresh snow", None, seed=seed)
    enhanced = ours.enhance("A red fox runs through fresh snow", None, seed)
    assert enhanced == expected and len(enhanced) > 20


@pytest.mark.slow
@pytest.mark.parametrize("size", [(150, 200), (1200, 400)])  # the long side resized down, and up
def test_image_to_video_enhancement_equals_the_reference(encoders, tmp_path, size):
    from ltx_pipelines.utils.helpers import generate_enhanced_prompt

    ours, reference = encoders
    path = image_file(tmp_path / "first.png", *size)
    expected = generate_enhanced_prompt(reference, "The dog runs", path, seed=5)
    image = enhancement_image(GenerationRequest(prompt="The dog runs", image_paths=(path,)))
    assert image.dtype == torch.uint8 and max(image.shape[:2]) == 896
    assert ours.enhance("The dog runs", image, 5) == expected
    assert ours.enhance("The dog runs", None, 5) != expected  # the image is seen


def test_clean_response():
    assert clean_response("\u201c  **A fox\u2019s run \u2014 fast\u201d") == "A fox's run - fast\""
    assert clean_response("123 ...") == "123 ..."


@pytest.mark.slow
def test_one_stage_with_enhancement_equals_the_reference(tiny_checkpoints, monkeypatch):
    """The rewrite replaces the prompt before encoding (the negative prompt stays), seeded by the request's seed."""
    import ltx_pipelines.ti2vid_one_stage as one_stage
    from ltx_pipelines.utils.constants import LTX_2_3_PARAMS

    from ltx_backend.runtime.local_components import load_pipeline

    directory = tiny_checkpoints["2.3"]
    request = GenerationRequest(prompt="A quiet harbor at dawn", enhance_prompt=True, seed=3, width=96, height=64, num_frames=9,
                                num_inference_steps=2).resolve("2.3")
    ours = load_pipeline(str(directory), CPU, torch.float32)(request)
    use_tiny_gemma_config(directory, monkeypatch)
    monkeypatch.setattr(one_stage, "torch", TorchWithDtype(torch.float32))
    reference = one_stage.TI2VidOneStagePipeline(checkpoint_path=str(checkpoint_file(directory)), gemma_root=str(directory), loras=[],
                                                 device=CPU)
    with torch.inference_mode():
        video, audio = reference(
            prompt=request.prompt, negative_prompt=request.negative_prompt, seed=request.seed, height=request.height,
            width=request.width, num_frames=request.num_frames, frame_rate=request.fps,
            num_inference_steps=request.num_inference_steps, video_guider_params=LTX_2_3_PARAMS.video_guider_params,
            audio_guider_params=LTX_2_3_PARAMS.audio_guider_params, images=[], enhance_prompt=True,
        )
        frames = torch.cat(list(video)).numpy()
    assert ours.enhanced_prompt and ours.enhanced_prompt != request.prompt
    compare("LTX-2.3 one-stage with --enhance-prompt", ours, (frames, audio.waveform.float().numpy(), audio.sampling_rate), request)
    plain = load_pipeline(str(directory), CPU, torch.float32)(GenerationRequest(**{**request.__dict__, "enhance_prompt": False}))
    assert plain.enhanced_prompt is None and not np.array_equal(plain.frames, ours.frames)
