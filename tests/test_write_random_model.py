"""build/write_random_model.py (a random-weight model folder in the published layout, for issue #16's start-up and
served measurements) and the scripts that load it: the files hold RandomWeightsModel's values under the names
the resolver picks, the loaders read them back equal, and bench_e2e / bench_served run through them.
"""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from conftest import ROOT, load_build_script
from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
from ltx_backend.loading.lora import read_lora
from ltx_backend.loading.published_files import EVERY_FILE
from ltx_backend.loading.sources import open_model
from ltx_backend.runtime.loaders import load_latent_upsampler
from ltx_testing.random_weights import RandomWeightsModel

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """The tiny LTX-2.3 folder in fp32, Gemma in a folder of its own (linked), and the sizes written."""
    writer = load_build_script("write_random_model")
    root = tmp_path_factory.mktemp("random-model")
    shard_bytes, writer.GEMMA_SHARD_BYTES = writer.GEMMA_SHARD_BYTES, 100_000  # the tiny Gemma (430 kB) in several shards
    try:
        sizes = writer.write_model(root / "ltx-2.3", "2.3", "tiny", CPU, torch.float32, seed=3, gemma_dir=root / "gemma", log=lambda _: None)
    finally:
        writer.GEMMA_SHARD_BYTES = shard_bytes
    return root / "ltx-2.3", sizes


def assert_same_state(ours: torch.nn.Module, theirs: torch.nn.Module, what: str) -> None:
    a, b = ours.state_dict(), theirs.state_dict()
    assert a.keys() == b.keys(), what
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{what}: {differ[:3]}"


def test_the_files_hold_the_random_model_under_the_published_names(written):
    folder, sizes = written
    model = open_model(str(folder), EVERY_FILE)
    assert model.model_version == "2.3"
    assert model.files.checkpoint.name == "ltx-2.3-22b-dev.safetensors"
    assert model.files.spatial_upsampler.name == "ltx-2.3-spatial-upscaler-x2-1.0.safetensors"
    assert model.files.distilled_lora.name == "ltx-2.3-22b-distilled-lora-384.safetensors"
    assert (folder / "text_encoder").is_symlink() and (folder / "tokenizer").is_symlink()
    index = json.loads((folder / "text_encoder" / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) >= 3 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    for shard in shards:  # each shard holds exactly the keys the index gives it
        with safe_open(str(folder / "text_encoder" / shard), framework="pt") as file:
            assert sorted(file.keys()) == sorted(k for k, v in index["weight_map"].items() if v == shard)
    assert sizes["ltx-2.3-22b-dev.safetensors"] == model.files.checkpoint.stat().st_size
    random = RandomWeightsModel("2.3", "tiny", seed=3)
    for name in CHECKPOINT_PARTS:  # each VAE's statistics are stored once and read by its encoder and decoder
        assert_same_state(model.load(name, CPU, torch.float32), random.load(name, CPU, torch.float32), name)
    assert_same_state(load_latent_upsampler(model.files.spatial_upsampler, CPU, torch.float32),
                      random.latent_upsampler(CPU, torch.float32), "upsampler")
    ours, theirs = read_lora(str(model.files.distilled_lora)), random.distilled_lora(CPU, torch.float32)
    assert ours.layers.keys() == theirs.layers.keys()
    assert all(torch.equal(ours.layers[k].down, theirs.layers[k].down) and torch.equal(ours.layers[k].up, theirs.layers[k].up)
               for k in ours.layers)
    # Gemma's text tower and the connectors, and the byte tokenizer written beside them: the same encoding
    encoder, reference = model.text_encoder(CPU, torch.float32), random.text_encoder(CPU, torch.float32)
    assert_same_state(encoder.gemma.model, reference.gemma.model, "gemma")
    assert_same_state(encoder.embeddings_processor, reference.embeddings_processor, "embeddings processor")
    prompts = ["A red fox runs through fresh snow", ""]
    a, b = encoder.encode(prompts), reference.encode(prompts)
    assert torch.equal(a.video, b.video) and torch.equal(a.audio, b.audio)


def test_the_full_size_plan():
    """Full size on the meta device: the bytes the disk check plans for."""
    writer = load_build_script("write_random_model")
    random = RandomWeightsModel("2.3", "full")
    files, gemma = writer.planned_bytes(random, torch.bfloat16)
    assert 54e9 < files < 57e9 and 23e9 < gemma < 24e9  # checkpoint 46 GB + distilled LoRA 8 GB + upsampler 1 GB; Gemma 3 12B


def test_a_folder_without_room_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    writer = load_build_script("write_random_model")
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(SystemExit, match=r"has 0.0 GB free, the random model needs 0.1 GB there \(files 0.1 GB, Gemma 0.0 GB"):
        writer.write_model(tmp_path / "m", "2", "tiny", CPU, torch.float32, gemma_dir=None, log=lambda _: None)
    assert not any((tmp_path / "m").iterdir())


def test_a_rerun_replaces_the_links_and_keeps_folders(tmp_path):
    """A second run into a folder does not write through a link an earlier run left, and does not delete a folder."""
    writer = load_build_script("write_random_model")
    out = tmp_path / "m"
    writer.write_model(out, "2", "tiny", CPU, torch.float32, gemma_dir=tmp_path / "g1", log=lambda _: None)
    writer.write_model(out, "2", "tiny", CPU, torch.float32, gemma_dir=None, log=lambda _: None)
    assert not (out / "text_encoder").is_symlink() and (out / "text_encoder" / "config.json").exists()
    with pytest.raises(SystemExit, match="is a folder; remove it to link Gemma"):
        writer.write_model(out, "2", "tiny", CPU, torch.float32, gemma_dir=tmp_path / "g2", log=lambda _: None)
    assert not (tmp_path / "g2").exists() or not any((tmp_path / "g2").iterdir())


@pytest.mark.slow
def test_bench_e2e_loads_the_folder_as_generate_does(written, tmp_path):
    folder, _ = written
    command = [sys.executable, str(ROOT / "build" / "bench_e2e.py"), "--model-path", str(folder), "--case", "ltx_2.3_two_stage_t2v_2gpus",
               "--device", "cpu", "--width", "64", "--height", "64", "--num-frames", "9", "--steps", "2", "--warmup", "0", "--iters", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"loaded {folder} (files) on cpu" in run.stderr
    assert "loading (from files: reading, LoRA merge, snapshots)" in run.stdout and "all outputs finite: yes" in run.stdout
    assert "distilled LoRA 0.01M" in run.stdout  # read from the folder's LoRA file
    wrong = subprocess.run([*command[:4], "--version", "2", "--device", "cpu", "--width", "64", "--height", "64", "--num-frames", "9",
                            "--steps", "1", "--warmup", "0", "--iters", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert wrong.returncode != 0 and "is LTX-2.3, the request is LTX-2's" in wrong.stdout + wrong.stderr


@pytest.mark.server
@pytest.mark.slow
def test_bench_served_starts_the_server_and_times_the_case(written):
    """`ltx-triton serve` on the folder, its start-up timed, the case's request (shrunk) through gRPC and through
    `generate --url`; the server stops cleanly."""
    folder, _ = written
    command = [sys.executable, str(ROOT / "build" / "bench_served.py"), str(folder), "--case", "ltx_2.3_one_stage_ti2v", "--tiny-request",
               "--device", "cpu", "--iters", "1"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[2:-1]] for line in run.stdout.splitlines() if line.startswith("| ")}
    assert float(rows["start-up: `serve` launched to ready (s)"][0]) > 0
    served = rows["**served request, gRPC stream, MP4 included (s)**"]
    assert float(served[0]) > 0 and served[2:] == ["18.22 (MP4 excluded)", "9.11"]
    assert float(rows["`ltx-triton generate --url`: Python start-up, request, MP4 written (s)"][0]) > 0
    assert "serving LTX2Pipeline" in run.stdout


def test_bench_served_says_why_a_server_did_not_start(tmp_path):
    """A failed start reports tritonserver's error lines (which model failed, the stub's error) before the end of
    serve's output: the log's tail alone is the shutdown table, which names no cause."""
    bench_served = load_build_script("bench_served")
    (tmp_path / "tritonserver.log").write_text(
        "I1207 08:21:54.391 1 server.cc:1] starting\n"
        "E1207 08:21:56.478 1 model_lifecycle.cc:642] \"failed to load 'denoiser' version 1: ModuleNotFoundError\"\n"
        "I1207 08:21:57.000 1 server.cc:345] shutting down\n")
    (tmp_path / "serve.out").write_text("| strict_readiness | 1 |\nerror: creating server: Internal - failed to load all models\n")
    report = bench_served.startup_errors(tmp_path)
    assert report.splitlines()[0].startswith("E1207") and "failed to load 'denoiser'" in report.splitlines()[0]
    assert "starting" not in report and report.rstrip().endswith("failed to load all models")
