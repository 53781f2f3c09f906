"""build/bench_e2e.py (the end-to-end two-stage benchmark) and its random-weight model source.

The benchmark itself needs a GPU; here it runs at tiny size on the CPU, and the random-weight source is
checked against what it stands in for: the tiny checkpoint's modules (same keys, shapes, dtypes, computed
buffers) and the published full-size structures (parameter counts, on the meta device).
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT, load_build_script
from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
from ltx_backend.loading.lora import read_lora
from ltx_backend.loading.published_files import EVERY_FILE
from ltx_backend.loading.sources import open_model
from ltx_backend.runtime.loaders import load_latent_upsampler
from ltx_testing.random_weights import (
    GEMMA3_12B_TEXT_CONFIG,
    TINY_GEMMA_TEXT_CONFIG,
    RandomWeightsModel,
    byte_tokenizer,
)

# Phases every two-stage request without images goes through (rows of the table).
PHASE_ROWS = (
    "total latency",
    "text encoding",
    "stage 1 denoise",
    "ms per stage-1 step",
    "latent upsampler",
    "stage 2 denoise",
    "VAE decode",
    "audio decode",
    "stage-weight switch wait",
)


def shapes(module: torch.nn.Module) -> dict[str, tuple]:
    return {k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()}


# ------------------------------------------------------------------------------------ the benchmark


@pytest.mark.slow
def test_bench_e2e_tiny_on_cpu(tmp_path):
    out = tmp_path / "e2e.json"
    command = [
        sys.executable, str(ROOT / "build" / "bench_e2e.py"), "--tiny", "--device", "cpu",
        "--width", "64", "--height", "64", "--num-frames", "9", "--steps", "3", "--warmup", "1", "--iters", "2",
        "--json", str(out),
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    table = {}
    for line in run.stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[0] != "phase":
            table[cells[0].strip("*")] = cells[1:]
    for phase in PHASE_ROWS:
        matches = [name for name in table if name.startswith(phase)]
        assert len(matches) == 1, f"row {phase!r} missing from the table:\n{run.stdout}"
        mean, low = (float(v) for v in table[matches[0]][:2])
        assert math.isfinite(mean) and low <= mean + 1e-9
        if phase != "stage-weight switch wait":
            assert low > 0, f"{phase}: {table[matches[0]]}"
    assert "stage 1 denoise, 3 steps" in run.stdout and "stage 2 denoise, 3 steps" in run.stdout
    assert "all outputs finite: yes" in run.stdout
    assert "frames (9, 64, 64, 3) uint8" in run.stdout

    raw = json.loads(out.read_text())
    assert raw["steps"] == {"1": 3, "2": 3} and raw["size"] == "tiny" and raw["finite"] is True
    assert len(raw["runs"]) == 2
    # each timed request is also encoded to MP4, after the call: the table's total without and with it
    assert len(raw["mp4_seconds"]) == 2 and min(raw["mp4_seconds"]) > 0
    total, with_mp4, mp4 = (float(table[name][0]) for name in
                            ("total latency (s)", "total with MP4 encoding (s)", "MP4 encoding, after the call (s)"))
    assert with_mp4 == pytest.approx(total + mp4, abs=0.002)
    for run_times in raw["runs"]:
        phases = sum(v for k, v in run_times.items() if k != "total")
        # the phases are disjoint parts of the request: their sum is at most the wall time of the call
        assert 0 < phases <= run_times["total"] + 1e-6
        assert run_times["stage 1 denoise"] > 0 and run_times["VAE decode"] > 0
    mean_stage1 = np.mean([r["stage 1 denoise"] for r in raw["runs"]])
    ms_per_step = float(next(v for k, v in table.items() if k.startswith("ms per stage-1 step"))[0])
    assert ms_per_step == pytest.approx(mean_stage1 * 1000 / 3, abs=0.06)
    # snapshot mode on CPU switches in model(): stage 1 -> 2 and (from the second request) 2 -> 1
    assert len(raw["switch_seconds"]) == 2 * (1 + 2) - 1
    assert raw["parameters"]["distilled LoRA"] > 0


def test_phase_timer_reports_nan_and_inf():
    bench = load_build_script("bench_e2e")
    timer = bench.PhaseTimer(torch.device("cpu"))
    timer.check_finite("fine", torch.zeros(3), np.ones(2), torch.tensor(True))
    assert timer.finish() == []
    timer.check_finite("text encoding", torch.tensor([1.0, float("nan")]))
    timer.check_finite("audio decode", np.array([np.inf], dtype=np.float32))
    timer.check_finite("VAE decode", torch.tensor(False))  # an isfinite flag of a decoded tile
    assert timer.finish() == ["text encoding", "audio decode", "VAE decode"]
    timer.check_finite("stage 1 denoise", torch.zeros(2))
    assert timer.finish() == ["text encoding", "audio decode", "VAE decode"]  # kept across requests


# ------------------------------------------------------------------------------ random-weight source


def test_tiny_random_model_matches_the_tiny_checkpoint(tiny_checkpoints):
    random, checkpoint = RandomWeightsModel("2", "tiny"), open_model(str(tiny_checkpoints["2"]), EVERY_FILE)
    assert random.model_version == checkpoint.model_version == "2"
    cpu = torch.device("cpu")
    for name in CHECKPOINT_PARTS:
        ours, theirs = random.load(name, cpu, torch.float32), checkpoint.load(name, cpu, torch.float32)
        assert shapes(ours) == shapes(theirs), name
        assert not ours.training and not any(p.requires_grad for p in ours.parameters())
        for key, value in ours.state_dict().items():
            assert torch.isfinite(value).all(), key
            if value.dim() >= 2 and value.numel() > 64:  # N(0, 1/fan_in), not the checkpoint's values
                std = 1 / math.sqrt(math.prod(value.shape[1:]))
                assert 0.5 * std < value.std().item() < 1.5 * std, key
                assert not torch.equal(value, theirs.state_dict()[key])
    ours, theirs = random.text_encoder(cpu, torch.float32), checkpoint.text_encoder(cpu, torch.float32)
    assert shapes(ours.gemma.model) == shapes(theirs.gemma.model)
    assert shapes(ours.embeddings_processor) == shapes(theirs.embeddings_processor)
    encoding = ours.encode(["A red fox runs through fresh snow", ""])
    reference = theirs.encode(["A red fox runs through fresh snow", ""])
    assert encoding.video.shape == reference.video.shape and encoding.audio.shape == reference.audio.shape
    assert torch.isfinite(encoding.video).all() and 0.1 < encoding.video.std().item() < 10

    upsampler = random.latent_upsampler(cpu, torch.float32)
    assert shapes(upsampler) == shapes(load_latent_upsampler(checkpoint.files.spatial_upsampler, cpu, torch.float32))
    lora, file_lora = random.distilled_lora(cpu, torch.float32), read_lora(str(checkpoint.files.distilled_lora))
    assert lora.layers.keys() == file_lora.layers.keys()
    for path, layer in lora.layers.items():
        assert layer.down.shape == file_lora.layers[path].down.shape and layer.up.shape == file_lora.layers[path].up.shape
        assert layer.alpha is None and layer.rank == 4


def test_random_vocoder_keeps_computed_filters(tiny_checkpoints):
    """LTX-2.3's BigVGAN vocoder has computed anti-aliasing filters (buffers): the same as a loaded file's."""
    ours = RandomWeightsModel("2.3", "tiny").load("vocoder", "cpu", torch.float32)
    theirs = open_model(str(tiny_checkpoints["2.3"])).load("vocoder", "cpu", torch.float32)
    assert shapes(ours) == shapes(theirs)
    buffers = [name for name, _ in ours.named_buffers()]
    assert len(buffers) > 100
    reference = theirs.state_dict()
    for name, buffer in ours.named_buffers():
        assert torch.equal(buffer, reference[name]), name


def test_random_weights_are_seeded_and_on_the_asked_dtype():
    a = RandomWeightsModel("2", "tiny", seed=0).load("transformer", "cpu", torch.bfloat16).state_dict()
    b = RandomWeightsModel("2", "tiny", seed=0).load("transformer", "cpu", torch.bfloat16).state_dict()
    c = RandomWeightsModel("2", "tiny", seed=1).load("transformer", "cpu", torch.bfloat16).state_dict()
    assert all(v.dtype == torch.bfloat16 for v in a.values())
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sum(not torch.equal(a[k], c[k]) for k in a) == len(a)
    # each VAE's per-channel statistics are one set of values, shared by its encoder and its decoder
    model = RandomWeightsModel("2", "tiny")
    for kind in ("video", "audio"):
        encoder, decoder = (model.load(f"{kind}_{part}", "cpu", torch.float32) for part in ("encoder", "decoder"))
        for key in ("per_channel_statistics.std-of-means", "per_channel_statistics.mean-of-means"):
            assert torch.equal(encoder.state_dict()[key], decoder.state_dict()[key]), (kind, key)


def test_full_size_structures_on_meta():
    """Full size, on the meta device (no memory): the published LTX-2 parameter counts."""
    model = RandomWeightsModel("2", "full")
    meta = torch.device("meta")
    transformer = model.load("transformer", meta, torch.bfloat16)
    assert sum(p.numel() for p in transformer.parameters()) == 18_876_174_592  # as tests/test_transformer_full_size.py
    assert all(p.dtype == torch.bfloat16 and p.is_meta for p in transformer.parameters())
    encoder = model.text_encoder(meta, torch.bfloat16)
    gemma = sum(p.numel() for p in encoder.gemma.parameters())
    assert 11.7e9 < gemma < 11.8e9  # Gemma 3 12B's text tower (its vision tower is not used)
    assert sum(p.numel() for p in encoder.embeddings_processor.parameters()) == 1_431_475_200  # LTX-2's text path: 1.43B
    lora = model.distilled_lora(meta, torch.bfloat16)
    assert {layer.rank for layer in lora.layers.values()} == {384}
    blocks = [n for n, m in transformer.named_modules() if n.startswith("transformer_blocks.") and isinstance(m, torch.nn.Linear)]
    assert sorted(lora.layers) == sorted(blocks) and len(blocks) == 48 * 28
    upsampler = model.latent_upsampler(meta, torch.bfloat16)
    assert 0.49e9 < sum(p.numel() for p in upsampler.parameters()) < 0.5e9  # ~995 MB in bf16, as published


def test_gemma_configs_match_their_sources():
    from ltx_core.text_encoders.gemma.config import GEMMA3_CONFIG_FOR_LTX

    assert GEMMA3_12B_TEXT_CONFIG == dataclasses.asdict(GEMMA3_CONFIG_FOR_LTX.text_config)
    tiny_gemma = load_build_script("tiny_gemma")
    assert TINY_GEMMA_TEXT_CONFIG == tiny_gemma.TEXT_CONFIG


def test_byte_tokenizer_pads_left_like_gemma():
    tokenizer = byte_tokenizer()
    encoded = tokenizer(["héllo", "a b"], padding="max_length", max_length=12, truncation=True, return_tensors="pt")
    ids, mask = encoded.input_ids, encoded.attention_mask
    assert ids.shape == (2, 12) and mask.shape == (2, 12)
    assert mask[0].tolist() == [0] * 5 + [1] * 7  # <bos> + 6 UTF-8 bytes
    assert ids[0, 5].item() == 2 and ids[0, :5].tolist() == [0] * 5  # <bos>, left padding with <pad> = 0
    assert int(ids.max()) < TINY_GEMMA_TEXT_CONFIG["vocab_size"]
    long = tokenizer(["x" * 5000], padding="max_length", max_length=1024, truncation=True, return_tensors="pt")
    assert long.input_ids.shape == (1, 1024) and bool(long.attention_mask.all())
    assert re.fullmatch(r"h\S*llo", tokenizer.decode(ids[0], skip_special_tokens=True))


def test_bench_e2e_fails_on_nan(monkeypatch, capsys):
    """A NaN in the VAE decoder's output (invisible in uint8 frames) makes the run report it and exit 1."""
    bench = load_build_script("bench_e2e")
    load = RandomWeightsModel.load

    def load_with_nan(self, name, device, dtype, storage=None):
        module = load(self, name, device, dtype, storage)
        if name == "video_decoder":
            with torch.no_grad():
                next(module.parameters()).view(-1)[0] = float("nan")
        return module

    monkeypatch.setattr(RandomWeightsModel, "load", load_with_nan)
    code = bench.main(["--tiny", "--device", "cpu", "--width", "64", "--height", "64", "--num-frames", "9",
                       "--steps", "1", "--warmup", "0", "--iters", "1"])
    out = capsys.readouterr().out
    assert code == 1
    assert "all outputs finite: NO (VAE decode)" in out


def test_guidance_presets_set_the_passes_per_step():
    """--guidance reference runs the pipeline's 4 passes per stage-1 step; sglang, SGLang's CFG-only 2."""
    from ltx_backend.pipelines.registry import TWO_STAGE
    from ltx_backend.request import GenerationRequest

    bench = load_build_script("bench_e2e")
    passes = {
        name: bench.stage1_passes(GenerationRequest(prompt="p", pipeline_class_name=TWO_STAGE, **fields).resolve("2"), "2")
        for name, fields in bench.GUIDANCE.items()
    }
    assert passes == {"reference": 4, "sglang": 2}


def test_sglang_cases_are_requests_of_their_pipelines():
    """Each SGLang case resolves as our request of its class, with the guidance passes SGLang runs per step:
    LTX-2 CFG only (2), LTX-2.3's CFG + STG + modality (4), HQ's CFG + modality (3)."""
    bench = load_build_script("bench_e2e")
    passes = {}
    for name, case in bench.SGLANG_CASES.items():
        args = bench.parse_args(["--case", name])
        assert (args.version, args.width, args.height, args.num_frames, args.steps, args.image) == (
            case.version, case.width, case.height, 25, case.steps, case.image)
        request = bench.build_request(args)
        assert (request.width, request.height, request.num_frames, request.num_inference_steps, len(request.images)) == (
            case.width, case.height, 25, case.steps, int(case.image))
        passes[name] = bench.stage1_passes(request, args.version)
        assert bench.anchor(args).goal_s == pytest.approx(case.e2e_s / 2)
    assert passes == {"ltx_2_two_stage_t2v": 2, "ltx_2.3_two_stage_t2v_2gpus": 4, "ltx_2_3_two_stage_ti2v_2gpus": 4,
                      "ltx_2.3_one_stage_ti2v": 4, "ltx_2_3_hq_pipeline": 3}
    # flags given with a case change its request: the comparison says so; without a case, issue #5's figures
    changed = bench.anchor(bench.parse_args(["--case", "ltx_2_3_hq_pipeline", "--width", "128", "--steps", "2"]))
    assert changed.total_s == 19.0 and "NOT this request: --width 128, --steps 2 changed" in changed.what
    assert bench.anchor(bench.parse_args([])).total_s == bench.SGLANG_H100_TOTAL_S
    assert "NOT" not in bench.anchor(bench.parse_args(["--case", "ltx_2_two_stage_t2v"])).what
    assert bench.parse_args(["--case", "ltx_2.3_one_stage_ti2v", "--no-image"]).image is False
    for refused in (["--case", "ltx_2_two_stage_t2v", "--pipeline", "distilled"], ["--model-path", "m", "--tiny"]):
        with pytest.raises(SystemExit):
            bench.parse_args(refused)


@pytest.mark.slow
def test_bench_e2e_runs_an_sglang_image_case(tmp_path):
    """--case ltx_2.3_one_stage_ti2v at tiny size: one stage at the output size, the image encoded, the table
    against that case's SGLang time (18.22 s) and goal (half)."""
    out = tmp_path / "case.json"
    command = [sys.executable, str(ROOT / "build" / "bench_e2e.py"), "--case", "ltx_2.3_one_stage_ti2v", "--tiny", "--device", "cpu",
               "--width", "64", "--height", "64", "--num-frames", "9", "--steps", "2", "--warmup", "0", "--iters", "1",
               "--json", str(out)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "LTX-2.3 one-stage + image, 64x64x9 (SGLang case ltx_2.3_one_stage_ti2v)" in run.stdout
    assert "(4 passes per stage-1 step)" in run.stdout
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in run.stdout.splitlines()
            if line.startswith("| ")}
    assert rows["**total latency (s)**"][2:] == ["18.22", "9.11"]
    assert rows["ms per stage-1 step"][2] == "562.00"
    assert "stage 1 denoise, 2 steps (s)" in rows and float(rows["image encoding (s)"][0]) > 0
    assert not any(name.startswith(("latent upsampler", "stage 2")) for name in rows)
    raw = json.loads(out.read_text())
    assert (raw["case"], raw["pipeline"], raw["image"], raw["steps"]) == ("ltx_2.3_one_stage_ti2v", "one-stage", True, {"1": 2})
    assert "frames (9, 64, 64, 3) uint8" in run.stdout and "all outputs finite: yes" in run.stdout


@pytest.mark.slow
def test_bench_e2e_runs_the_distilled_request_in_fp8(tmp_path):
    """--pipeline distilled --quantization fp8-cast: 8 + 3 steps, no LoRA, the transformer's fp8 bytes reported."""
    command = [sys.executable, str(ROOT / "build" / "bench_e2e.py"), "--tiny", "--device", "cpu", "--width", "64", "--height", "64",
               "--num-frames", "9", "--pipeline", "distilled", "--quantization", "fp8-cast", "--warmup", "0", "--iters", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "LTX-2 distilled, 64x64x9" in run.stdout and "quantization fp8-cast" in run.stdout
    assert "stage 1 denoise, 8 steps" in run.stdout and "stage 2 denoise, 3 steps" in run.stdout
    assert "distilled LoRA 0.00M" in run.stdout and "all outputs finite: yes" in run.stdout
    refused = subprocess.run([*command, "--steps", "4"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert refused.returncode == 2 and "fixed schedule" in refused.stderr
