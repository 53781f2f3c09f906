"""The real repos as published (issue #13), from a Hugging Face cache and from a hub: `--model-path
Lightricks/LTX-2.3` (Gemma from google/gemma-3-12b-it-qat-q4_0-unquantized, flat and sharded) and
`Lightricks/LTX-2` (its own text_encoder/ + tokenizer/, diffusers folders beside the single files).

Tiny files stand under the published names, decoys (another seed) under the names that must not be taken, in a
cache laid out as huggingface_hub lays it out (blobs, snapshots/<sha>, refs/main). Every class resolves the right
files by name, and its video equals a run given the same files by explicit paths. `ltx-triton download` runs
against tests/hub_server.py (the hub's two endpoints on localhost) and downloads exactly the allow-list."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import checkpoint_file, load_build_script
from hub_server import HostedRepo, HubServer
from ltx_backend.loading.model_path import find_model_files, plan_files
from ltx_backend.loading.published_files import GEMMA_REPO
from ltx_backend.pipelines.registry import DISTILLED, ONE_STAGE, TWO_STAGE, TWO_STAGE_HQ, files_needed
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline

CPU = torch.device("cpu")
SMALL = ["--width", "64", "--height", "64", "--num-frames", "9", "--num-inference-steps", "2", "--seed", "3", "--device", "cpu"]
PROMPT = "a boat on a lake"

# The files each class takes from each repo (the newest version; dev, never distilled / fp8 / fp4).
LTX23 = {"checkpoint": "ltx-2.3-22b-dev.safetensors", "lora": "ltx-2.3-22b-distilled-lora-384-1.1.safetensors",
         "upsampler": "ltx-2.3-spatial-upscaler-x2-1.1.safetensors"}
LTX2 = {"checkpoint": "ltx-2-19b-dev.safetensors", "lora": "ltx-2-19b-distilled-lora-384.safetensors",
        "upsampler": "ltx-2-spatial-upscaler-x2-1.0.safetensors"}
CASES = [("Lightricks/LTX-2.3", ONE_STAGE), ("Lightricks/LTX-2.3", TWO_STAGE), ("Lightricks/LTX-2.3", TWO_STAGE_HQ),
         ("Lightricks/LTX-2", ONE_STAGE), ("Lightricks/LTX-2", TWO_STAGE)]
# LTX2DistilledPipeline takes the distilled checkpoint (the newest, full precision) and no distilled LoRA.
DISTILLED_CHECKPOINTS = {"Lightricks/LTX-2.3": "ltx-2.3-22b-distilled-1.1.safetensors", "Lightricks/LTX-2": "ltx-2-19b-distilled.safetensors"}
DISTILLED_CASES = [(repo_id, DISTILLED) for repo_id in DISTILLED_CHECKPOINTS]
GEMMA_SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
GEMMA_FLAT = ("config.json", *GEMMA_SHARDS, "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json",
              "tokenizer.model", "tokenizer_config.json")


def _temporal_upscaler(path: Path) -> None:
    from ltx_backend.models.latent_upsampler import build_latent_upsampler

    config = {"in_channels": 128, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3, "spatial_upsample": False, "temporal_upsample": True}
    save_file({k: v.contiguous() for k, v in build_latent_upsampler(config).state_dict().items()}, str(path), metadata={"config": json.dumps(config)})


def _sharded_gemma(gemma_dir: Path, tokenizer_dir: Path, out: Path, extras: tuple[str, ...]) -> None:
    """Gemma as Google publishes it: config, two shards + index, tokenizer files, and files we never read."""
    out.mkdir(parents=True)
    weights = load_file(str(gemma_dir / "model.safetensors"))
    keys = sorted(weights)
    halves = (keys[: len(keys) // 2], keys[len(keys) // 2 :])
    for shard, part in zip(GEMMA_SHARDS, halves):
        save_file({k: weights[k] for k in part}, str(out / shard), metadata={"format": "pt"})
    index = {"metadata": {}, "weight_map": {k: shard for shard, part in zip(GEMMA_SHARDS, halves) for k in part}}
    (out / "model.safetensors.index.json").write_text(json.dumps(index))
    shutil.copy(gemma_dir / "config.json", out / "config.json")
    for file in tokenizer_dir.iterdir():
        if file.name != "preprocessor_config.json":
            shutil.copy(file, out / file.name)
    for name in extras:
        (out / name).write_text("{}")


def _files(pairs: dict[str, Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in pairs.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / name)


def _into_cache(hub: Path, repo_id: str, folder: Path) -> None:
    """The folder as huggingface_hub caches a repo: content-addressed blobs, a snapshot of links, refs/main."""
    repo = hub / ("models--" + repo_id.replace("/", "--"))
    sha = hashlib.sha1(repo_id.encode()).hexdigest()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = file.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = repo / "snapshots" / sha / file.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(sha)


@pytest.fixture(scope="module")
def published(tiny_checkpoints, tmp_path_factory):
    """{"repos": {repo id: folder as published}, "real": {version: dir}, "hf_home": a cache of all three}."""
    maker = load_build_script("make_tiny_checkpoints")
    root = tmp_path_factory.mktemp("published")
    real = tiny_checkpoints
    decoy = {v: maker.make_checkpoint(root / f"decoy-{v}", v, seed=1).parent for v in ("2", "2.3")}

    def extras(directory: Path) -> tuple[Path, Path]:
        (upsampler,), (lora,) = directory.glob("*spatial-upscaler-x2*"), directory.glob("*distilled-lora*")
        return upsampler, lora

    (up23, lora23), (decoy_up23, decoy_lora23) = extras(real["2.3"]), extras(decoy["2.3"])
    (up2, lora2), (decoy_up2, _) = extras(real["2"]), extras(decoy["2"])
    repos = {name: root / "hub" / name for name in ("Lightricks/LTX-2.3", "Lightricks/LTX-2", GEMMA_REPO)}

    ltx23 = repos["Lightricks/LTX-2.3"]
    _files({
        LTX23["checkpoint"]: checkpoint_file(real["2.3"]),
        "ltx-2.3-22b-distilled.safetensors": checkpoint_file(decoy["2.3"]),
        "ltx-2.3-22b-distilled-1.1.safetensors": checkpoint_file(decoy["2.3"]),
        "ltx-2.3-22b-distilled-lora-384.safetensors": decoy_lora23,
        LTX23["lora"]: lora23,
        "ltx-2.3-spatial-upscaler-x2-1.0.safetensors": decoy_up23,
        LTX23["upsampler"]: up23,
        "ltx-2.3-spatial-upscaler-x1.5-1.0.safetensors": decoy_up23,
    }, ltx23)
    _temporal_upscaler(ltx23 / "ltx-2.3-temporal-upscaler-x2-1.0.safetensors")
    (ltx23 / "README.md").write_text("# LTX-2.3\n")
    (ltx23 / "LICENSE").write_text("LTX-2 Community License\n")

    _sharded_gemma(real["2.3"] / "text_encoder", real["2.3"] / "tokenizer", repos[GEMMA_REPO],
                   ("preprocessor_config.json", "processor_config.json", "generation_config.json", "chat_template.json"))

    ltx2 = repos["Lightricks/LTX-2"]
    _files({
        LTX2["checkpoint"]: checkpoint_file(real["2"]),
        **{f"ltx-2-19b-{kind}.safetensors": checkpoint_file(decoy["2"]) for kind in ("dev-fp8", "dev-fp4", "distilled", "distilled-fp8")},
        LTX2["lora"]: lora2,
        LTX2["upsampler"]: up2,
        # the diffusers copy beside them: decoy bytes under its folder names (taking any of it changes the video)
        "transformer/diffusion_pytorch_model-00001-of-00001.safetensors": checkpoint_file(decoy["2"]),
        "latent_upsampler/diffusion_pytorch_model.safetensors": decoy_up2,
    }, ltx2)
    _temporal_upscaler(ltx2 / "ltx-2-temporal-upscaler-x2-1.0.safetensors")
    (ltx2 / "model_index.json").write_text(json.dumps({"_class_name": "LTX2Pipeline", "_diffusers_version": "0.37.0"}))
    for folder in ("transformer", "connectors", "vae", "audio_vae", "vocoder", "scheduler", "latent_upsampler"):
        (ltx2 / folder).mkdir(exist_ok=True)
        (ltx2 / folder / "config.json").write_text("{}")
    _sharded_gemma(real["2"] / "text_encoder", real["2"] / "tokenizer", ltx2 / "gemma-flat", ())
    (ltx2 / "text_encoder").mkdir()
    (ltx2 / "tokenizer").mkdir()
    for file in (ltx2 / "gemma-flat").iterdir():
        target = "text_encoder" if file.name.startswith("model") or file.name == "config.json" else "tokenizer"
        shutil.move(str(file), ltx2 / target / file.name)
    (ltx2 / "gemma-flat").rmdir()
    for name in ("chat_template.jinja", "processor_config.json", "preprocessor_config.json"):
        (ltx2 / "tokenizer" / name).write_text("{}")

    hf_home = root / "hf"
    for repo_id, folder in repos.items():
        _into_cache(hf_home / "hub", repo_id, folder)
    return {"repos": repos, "real": real, "hf_home": hf_home}


@pytest.fixture
def offline_cache(published, monkeypatch):
    """HF_HOME = the cache, HF_HUB_OFFLINE=1, for this process (huggingface_hub read both at import)."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HOME", str(published["hf_home"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(published["hf_home"] / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return published


def _expected(repo_id: str, class_name: str) -> dict:
    names = LTX23 if repo_id.endswith("2.3") else LTX2
    needs = files_needed([class_name])
    return {"checkpoint": DISTILLED_CHECKPOINTS[repo_id] if class_name == DISTILLED else names["checkpoint"], "upsampler": names["upsampler"] if needs.spatial_upsampler else None,
            "lora": names["lora"] if needs.distilled_lora else None,
            "gemma": GEMMA_REPO if repo_id.endswith("2.3") else repo_id}


@pytest.mark.parametrize("repo_id,class_name", CASES + DISTILLED_CASES)
def test_each_class_resolves_the_right_files_from_the_cache(offline_cache, repo_id, class_name):
    files = find_model_files(repo_id, files_needed([class_name]))
    found = {"checkpoint": files.checkpoint.name, "upsampler": files.spatial_upsampler and files.spatial_upsampler.name,
             "lora": files.distilled_lora and files.distilled_lora.name, "gemma": files.gemma_source}
    assert found == _expected(repo_id, class_name)
    assert files.layout == "single-file"
    hub = offline_cache["hf_home"] / "hub"
    assert str(files.checkpoint).startswith(str(hub / ("models--" + repo_id.replace("/", "--")) / "snapshots"))
    if repo_id.endswith("2.3"):  # Google's flat layout, in its own cached repo
        assert files.gemma.text_encoder == files.gemma.tokenizer and "models--google--gemma-3-12b-it" in str(files.gemma.text_encoder)
    else:  # LTX-2's own text_encoder/ + tokenizer/
        assert (files.gemma.text_encoder.name, files.gemma.tokenizer.name) == ("text_encoder", "tokenizer")


def _explicit(published, repo_id: str, class_name: str, request: GenerationRequest):
    """The same files given by explicit paths: the tiny checkpoint as made, its extras and its Gemma folder."""
    real = published["real"]["2.3" if repo_id.endswith("2.3") else "2"]
    (upsampler,), (lora,) = real.glob("*spatial-upscaler-x2*"), real.glob("*distilled-lora*")
    pipeline = load_pipeline(str(checkpoint_file(real)), CPU, torch.float32, pipeline_class_name=class_name,
                             upsampler_path=upsampler, distilled_lora_path=lora, text_encoder_path=str(real))
    return pipeline(request)


@pytest.mark.slow
@pytest.mark.parametrize("repo_id,class_name", CASES)
def test_generate_from_the_cache_gives_the_video_of_the_same_files_by_path(offline_cache, repo_id, class_name, tmp_path, caplog):
    from ltx_client.cli import main

    raw = tmp_path / "out.npz"
    with caplog.at_level(logging.INFO, logger="ltx_backend.loading.sources"):
        code = main(["generate", "--model-path", repo_id, "--pipeline-class-name", class_name, "--prompt", PROMPT, *SMALL, "--save-raw", str(raw)])
    assert code == 0
    expected = _expected(repo_id, class_name)
    (line,) = [r.getMessage() for r in caplog.records if "files:" in r.getMessage()]  # one line naming each file
    assert f"checkpoint {expected['checkpoint']}" in line and f"Gemma {expected['gemma']}" in line
    for kind, label in (("lora", "distilled LoRA"), ("upsampler", "spatial upscaler")):
        if expected[kind]:
            version = expected[kind].removesuffix(".safetensors").rsplit("-", 1)[-1]
            assert f"{label} {expected[kind]} ({'version ' + version if version[0] == '1' else 'unversioned'})" in line, line
    served = np.load(raw)
    version = "2.3" if repo_id.endswith("2.3") else "2"
    request = GenerationRequest(prompt=PROMPT, pipeline_class_name=class_name, width=64, height=64, num_frames=9,
                                num_inference_steps=2, seed=3).resolve(version)
    by_path = _explicit(offline_cache, repo_id, class_name, request)
    np.testing.assert_array_equal(served["frames"], by_path.frames)
    np.testing.assert_array_equal(served["audio"], by_path.audio)


def test_no_gemma_in_the_cache_is_a_clear_error_before_any_work(published, tmp_path):
    """LTX-2.3 cached without Gemma: exit 2 naming the Gemma repo, the flag and the download command; nothing written."""
    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    (hub / "models--Lightricks--LTX-2.3").symlink_to(published["hf_home"] / "hub" / "models--Lightricks--LTX-2.3")
    out = tmp_path / "outputs"
    env = dict(os.environ, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ltx_client.cli", "generate", "--model-path", "Lightricks/LTX-2.3", "--prompt", PROMPT,
                           "--output-path", str(out / "video.mp4")], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    print(f"no-Gemma error after {time.monotonic() - started:.1f} s")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    for needed in (GEMMA_REPO, "--text-encoder-path", "ltx-triton download --model-path Lightricks/LTX-2.3", "HF_HUB_OFFLINE=1"):
        assert needed in done.stderr, done.stderr
    assert not out.exists()


def test_no_gemma_in_the_cache_stops_before_any_file_is_read(published, tmp_path, monkeypatch, capsys):
    """The same, in-process, with every safetensors read refused: the resolver decides before reading anything."""
    from huggingface_hub import constants

    from ltx_client.cli import main

    hub = tmp_path / "hub"
    hub.mkdir()
    (hub / "models--Lightricks--LTX-2.3").symlink_to(published["hf_home"] / "hub" / "models--Lightricks--LTX-2.3")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)

    def refuse(*args, **kwargs):
        raise AssertionError(f"a safetensors file was read: {args[:1]}")

    for module in ("ltx_backend.loading.checkpoint", "ltx_backend.models.text_encoder.gemma", "ltx_backend.models.text_encoder.encoder"):
        monkeypatch.setattr(f"{module}.safe_open", refuse)
    assert main(["generate", "--model-path", "Lightricks/LTX-2.3", "--prompt", PROMPT, *SMALL]) == 2
    assert GEMMA_REPO in capsys.readouterr().err


# The repos' file lists as published (the table; LTX-2's diffusers copy sharded as diffusers shards it).
LISTINGS = {
    "Lightricks/LTX-2.3": [
        "README.md", "LICENSE", ".gitattributes", "ltx-2.3-22b-dev.safetensors", "ltx-2.3-22b-distilled.safetensors",
        "ltx-2.3-22b-distilled-1.1.safetensors", "ltx-2.3-22b-distilled-lora-384.safetensors",
        "ltx-2.3-22b-distilled-lora-384-1.1.safetensors", "ltx-2.3-spatial-upscaler-x2-1.0.safetensors",
        "ltx-2.3-spatial-upscaler-x2-1.1.safetensors", "ltx-2.3-spatial-upscaler-x1.5-1.0.safetensors",
        "ltx-2.3-temporal-upscaler-x2-1.0.safetensors",
    ],
    "Lightricks/LTX-2": [
        "README.md", "ltx-2-19b-dev.safetensors", "ltx-2-19b-dev-fp8.safetensors", "ltx-2-19b-dev-fp4.safetensors",
        "ltx-2-19b-distilled.safetensors", "ltx-2-19b-distilled-fp8.safetensors", "ltx-2-19b-distilled-lora-384.safetensors",
        "ltx-2-spatial-upscaler-x2-1.0.safetensors", "ltx-2-temporal-upscaler-x2-1.0.safetensors", "model_index.json",
        "transformer/config.json", "transformer/diffusion_pytorch_model.safetensors.index.json",
        *[f"transformer/diffusion_pytorch_model-{i:05d}-of-00008.safetensors" for i in range(1, 9)],
        "connectors/config.json", "connectors/diffusion_pytorch_model.safetensors",
        "text_encoder/config.json", "text_encoder/model.safetensors.index.json",
        *[f"text_encoder/model-{i:05d}-of-00011.safetensors" for i in range(1, 12)],
        *[f"tokenizer/{n}" for n in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json",
                                      "processor_config.json", "preprocessor_config.json", "added_tokens.json", "chat_template.jinja")],
        "vae/config.json", "vae/diffusion_pytorch_model.safetensors", "audio_vae/config.json", "audio_vae/diffusion_pytorch_model.safetensors",
        "vocoder/config.json", "vocoder/diffusion_pytorch_model.safetensors", "scheduler/scheduler_config.json",
        "latent_upsampler/config.json", "latent_upsampler/diffusion_pytorch_model.safetensors",
    ],
}
LTX2_GEMMA = ["text_encoder/config.json", "text_encoder/model.safetensors.index.json",
              *[f"text_encoder/model-{i:05d}-of-00011.safetensors" for i in range(1, 12)],
              *[f"tokenizer/{n}" for n in ("added_tokens.json", "special_tokens_map.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json")]]


@pytest.mark.parametrize("repo_id,class_name", CASES + DISTILLED_CASES)
def test_the_download_allow_list_is_exactly_the_files_of_the_class(repo_id, class_name):
    expected = _expected(repo_id, class_name)
    names = [expected["checkpoint"], expected["upsampler"], expected["lora"]]
    if repo_id == "Lightricks/LTX-2":
        names += LTX2_GEMMA  # its own Gemma; none of the diffusers copy
    plan = plan_files(LISTINGS[repo_id], files_needed([class_name]), repo_id)
    assert plan.fetch == tuple(sorted(n for n in names if n))


def test_gemma_from_google_s_repo_is_exactly_what_the_loader_reads():
    from ltx_backend.loading.published_files import gemma_layout, gemma_names

    google = ["README.md", ".gitattributes", "config.json", "generation_config.json", "added_tokens.json", "chat_template.json",
              *[f"model-{i:05d}-of-00005.safetensors" for i in range(1, 6)], "model.safetensors.index.json",
              "preprocessor_config.json", "processor_config.json", "special_tokens_map.json", "tokenizer.json",
              "tokenizer.model", "tokenizer_config.json"]
    assert gemma_layout(google) == ("", "")
    assert set(gemma_names(google, ("", ""))) == set(google) - {"README.md", ".gitattributes", "generation_config.json",
                                                               "chat_template.json", "preprocessor_config.json", "processor_config.json"}


def _cli(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ltx_client.cli", *args], env=env, capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.mark.slow
def test_download_fetches_exactly_the_allow_list_then_generate_runs_offline(published, tmp_path):
    """`ltx-triton download` against a hub (gated Gemma: HF_TOKEN honoured), then HF_HUB_OFFLINE=1 `generate`
    from the cache it filled, equal to the run on the same files by path."""
    repos = published["repos"]
    hosted = {"Lightricks/LTX-2.3": HostedRepo(repos["Lightricks/LTX-2.3"]), "Lightricks/LTX-2": HostedRepo(repos["Lightricks/LTX-2"]),
              GEMMA_REPO: HostedRepo(repos[GEMMA_REPO], token="hf_test_token")}
    base = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    with HubServer(hosted) as hub:
        env = dict(base, HF_HOME=str(tmp_path / "denied"), HF_ENDPOINT=hub.url, HF_HUB_DISABLE_TELEMETRY="1")
        denied = _cli(["download", "--model-path", "Lightricks/LTX-2.3"], env, tmp_path)
        assert denied.returncode == 2 and "Traceback" not in denied.stderr, denied.stderr
        assert f"{GEMMA_REPO} is gated" in denied.stderr and "HF_TOKEN" in denied.stderr, denied.stderr
        hub.downloads.clear()
        env.update(HF_HOME=str(tmp_path / "hf"), HF_TOKEN="hf_test_token")
        done = _cli(["download", "--model-path", "Lightricks/LTX-2.3", "--pipeline-class-name", TWO_STAGE], env, tmp_path)
        assert done.returncode == 0, done.stderr
        assert sorted(hub.downloads) == sorted(
            [("Lightricks/LTX-2.3", LTX23[k]) for k in ("checkpoint", "lora", "upsampler")] + [(GEMMA_REPO, n) for n in GEMMA_FLAT]
        )
        assert "models--Lightricks--LTX-2.3" in done.stdout and LTX23["upsampler"] in done.stdout
        hub.downloads.clear()
        done = _cli(["download", "--model-path", "Lightricks/LTX-2"], env, tmp_path)  # every class of LTX-2
        assert done.returncode == 0, done.stderr
        assert sorted(n for repo, n in hub.downloads) == sorted(
            [LTX2["checkpoint"], LTX2["lora"], LTX2["upsampler"], "text_encoder/config.json", "text_encoder/model.safetensors.index.json",
             *(f"text_encoder/{s}" for s in GEMMA_SHARDS), "tokenizer/special_tokens_map.json", "tokenizer/tokenizer.json",
             "tokenizer/tokenizer.model", "tokenizer/tokenizer_config.json"]
        )
    raw = tmp_path / "out.npz"
    offline = dict(base, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    done = _cli(["generate", "--model-path", "Lightricks/LTX-2.3", "--pipeline-class-name", TWO_STAGE, "--prompt", PROMPT, *SMALL,
                 "--save-raw", str(raw)], offline, tmp_path)
    assert done.returncode == 0, done.stderr
    request = GenerationRequest(prompt=PROMPT, pipeline_class_name=TWO_STAGE, width=64, height=64, num_frames=9, num_inference_steps=2,
                                seed=3).resolve("2.3")
    by_path = _explicit(published, "Lightricks/LTX-2.3", TWO_STAGE, request)
    np.testing.assert_array_equal(np.load(raw)["frames"], by_path.frames)




@pytest.mark.server
def test_serve_from_the_cache_serves_the_video_of_the_same_files_by_path(published, tmp_path):
    """`ltx-triton serve --model-path Lightricks/LTX-2.3` offline: every model of the server resolves its files
    (Gemma from its own repo) from the cache; a two-stage request gives the video of the files by path."""
    import signal

    from ltx_client.remote import generate_grpc
    from ltx_client.server import free_port

    ports = [free_port() for _ in range(3)]
    env = dict(os.environ, HF_HOME=str(published["hf_home"]), HF_HUB_OFFLINE="1")
    command = [sys.executable, "-m", "ltx_client.cli", "serve", "--model-path", "Lightricks/LTX-2.3", "--pipeline-class-name", TWO_STAGE,
               "--port", str(ports[0]), "--grpc-port", str(ports[1]), "--metrics-port", str(ports[2]), "--run-dir", str(tmp_path), "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines = []
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            lines.append(process.stdout.readline())
            if "Ctrl-C stops the server" in lines[-1] or process.poll() is not None:
                break
        assert "ready in" in "".join(lines), "".join(lines) + (tmp_path / "tritonserver.log").read_text()[-3000:]
        request = GenerationRequest(prompt=PROMPT, pipeline_class_name=TWO_STAGE, width=64, height=64, num_frames=9, num_inference_steps=2, seed=3)
        served = generate_grpc(f"localhost:{ports[1]}", request, return_raw=True, timeout=600)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=120)
    log = (tmp_path / "tritonserver.log").read_text()
    assert f"Gemma {GEMMA_REPO} (flat layout" in log and f"spatial upscaler {LTX23['upsampler']}" in log
    by_path = _explicit(published, "Lightricks/LTX-2.3", TWO_STAGE, request.resolve("2.3"))
    np.testing.assert_array_equal(served.frames, by_path.frames)
    np.testing.assert_array_equal(served.audio, by_path.audio)


def test_offline_a_missing_file_names_the_repo_the_file_and_the_download_command(published, tmp_path, monkeypatch):
    """A cache holding only LTX-2.3's dev checkpoint: one stage resolves (Gemma given by path); two stages stop
    before any weight is read, naming what is missing and how to fetch it."""
    from huggingface_hub import constants

    from ltx_backend.loading.model_path import ModelPathError

    only = tmp_path / "only-dev"
    _files({LTX23["checkpoint"]: published["repos"]["Lightricks/LTX-2.3"] / LTX23["checkpoint"]}, only)
    _into_cache(tmp_path / "hf" / "hub", "Lightricks/LTX-2.3", only)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    gemma = str(published["repos"][GEMMA_REPO])
    assert find_model_files("Lightricks/LTX-2.3", files_needed([ONE_STAGE]), gemma).checkpoint.name == LTX23["checkpoint"]
    with pytest.raises(ModelPathError) as error:
        find_model_files("Lightricks/LTX-2.3", files_needed([TWO_STAGE]), gemma)
    message = str(error.value)
    assert "a spatial x2 upscaler (*spatial-upscaler-x2*.safetensors) of Lightricks/LTX-2.3: not in the Hugging Face cache" in message, message
    assert f"HF_HUB_OFFLINE=1: run `ltx-triton download --model-path Lightricks/LTX-2.3 --text-encoder-path {gemma}`" in message


def test_serve_refuses_a_temporal_upscaler_before_starting_anything(published, tmp_path, capsys):
    from ltx_client.cli import main

    repo = published["repos"]["Lightricks/LTX-2.3"]
    temporal = repo / "ltx-2.3-temporal-upscaler-x2-1.0.safetensors"
    assert main(["serve", "--model-path", str(repo), "--text-encoder-path", str(published["repos"][GEMMA_REPO]),
                 "--spatial-upsampler-path", str(temporal), "--run-dir", str(tmp_path)]) == 2
    assert "ltx-2.3-temporal-upscaler-x2-1.0.safetensors is not a spatial x2 latent upscaler" in capsys.readouterr().err
    assert not (tmp_path / "model_repository").exists()


def test_the_file_flags_reach_the_models_that_load_those_files(tmp_path):
    from ltx_backend.serving.repository import RepositoryOptions, render_repository

    options = RepositoryOptions(model_path="Lightricks/LTX-2.3", text_encoder_path="/models/gemma",
                                upsampler_path="/models/up.safetensors", distilled_lora_path="/models/lora.safetensors")
    repo = render_repository(options, tmp_path)
    configs = {p.parent.name: p.read_text() for p in repo.glob("*/config.pbtxt")}
    owners = {key: sorted(name for name, text in configs.items() if f'key: "{key}"' in text)
              for key in ("text_encoder_path", "upsampler_path", "distilled_lora_path")}
    assert owners == {"text_encoder_path": ["text_encoder"], "upsampler_path": ["latent_upsampler"], "distilled_lora_path": ["denoiser"]}
    assert 'key: "text_encoder_path" value: { string_value: "/models/gemma" }' in configs["text_encoder"]
