"""build/train_tiny_checkpoint.py, in a few steps: it writes a checkpoint in the official layout that the pipelines
load, records what it was trained with, and states a criterion that an undertrained run fails. (The committed
checkpoint the pixel tests read, tests/fixtures/ltx-2.3-trained, is the full run: `make trained-checkpoint`.)"""
from __future__ import annotations

import json

import pytest
import torch

from conftest import load_build_script
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trainer():
    return load_build_script("train_tiny_checkpoint")


def test_a_short_run_writes_a_loadable_checkpoint_that_fails_the_criterion(trainer, tmp_path):
    out = tmp_path / trainer.NAME
    logged = []
    path = trainer.make_trained_checkpoint(out, vae_steps=2, upsampler_steps=2, transformer_steps=2,
                                           log=logged.append, require_criterion=False)
    assert path == out / f"{trainer.NAME}.safetensors" and path.is_file()
    assert {p.name for p in out.iterdir()} >= {
        "text_encoder", "tokenizer", "training.json", f"tiny-{trainer.NAME}-spatial-upscaler-x2.safetensors",
        f"tiny-{trainer.NAME}-distilled-lora.safetensors",
    }
    record = json.loads((out / "training.json").read_text())
    assert (record["vae_steps"], record["upsampler_steps"], record["transformer_steps"]) == (2, 2, 2)
    assert record["vae_criterion"] == trainer.VAE_CRITERION
    assert any(line.startswith("vae criterion:") for line in logged)
    # two steps do not teach the VAE anything: the stated criterion says so
    assert record["vae_still_reconstruction_ratio"] > trainer.VAE_CRITERION
    with pytest.raises(trainer.CriterionNotMet, match="not below 0.25"):
        trainer.check_criterion(record)
    # the pipelines load it as they load any official checkpoint, two-stage files included
    pipeline = load_pipeline(str(out), torch.device("cpu"), torch.float32, pipeline_class_name="LTX2TwoStagePipeline")
    request = GenerationRequest(prompt="a calm lake", pipeline_class_name="LTX2TwoStagePipeline", width=64, height=64,
                                num_frames=9, num_inference_steps=1).resolve("2.3")
    assert pipeline(request).frames.shape == (9, 64, 64, 3)


def test_the_committed_checkpoint_meets_the_criterion(trainer, trained_checkpoint):
    """The criterion, measured again here on the committed weights (it is also what training.json says)."""
    from ltx_backend.loading.sources import open_model

    record = json.loads((trained_checkpoint / "training.json").read_text())
    trainer.check_criterion(record)
    source = open_model(str(trained_checkpoint))
    cpu = torch.device("cpu")
    ratio = trainer.still_reconstruction_ratio(source.load("video_encoder", cpu, torch.float32),
                                               source.load("video_decoder", cpu, torch.float32))
    assert ratio < trainer.VAE_CRITERION
    assert ratio == pytest.approx(record["vae_still_reconstruction_ratio"], abs=1e-3)
