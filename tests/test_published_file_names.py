"""The files of the published repos, by their real names (issue #13): the dev checkpoint over the distilled and
quantised ones, the newest version of a file (`-1.1` over `-1.0` over none), the spatial x2 upscaler and not
the temporal or x1.5 ones beside it, the single files over the diffusers copy Lightricks/LTX-2 also holds.
Decoys (other seeds) stand under the names that must not be taken: a wrong choice changes the video."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from conftest import checkpoint_file, load_build_script
from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.model_path import Needs, find_model_files
from ltx_backend.loading.published_files import EVERY_FILE, file_version
from ltx_backend.pipelines.registry import TWO_STAGE
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline

CPU = torch.device("cpu")
REQUEST = dict(prompt="a boat on a lake", pipeline_class_name=TWO_STAGE, width=64, height=64, num_frames=9, num_inference_steps=2)


def _temporal_upscaler(path: Path) -> Path:
    from ltx_backend.models.latent_upsampler import build_latent_upsampler

    config = {"in_channels": 128, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3,
              "spatial_upsample": False, "temporal_upsample": True}
    state = {k: v.contiguous() for k, v in build_latent_upsampler(config).state_dict().items()}
    save_file(state, str(path), metadata={"config": json.dumps(config)})
    return path


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    """(real, repo): the tiny LTX-2.3 files as made, and a repo folder holding them under Lightricks/LTX-2.3's
    names beside decoys from another seed."""
    maker = load_build_script("make_tiny_checkpoints")
    root = tmp_path_factory.mktemp("published")
    real = maker.make_checkpoint(root / "real", "2.3", seed=0).parent
    decoy = maker.make_checkpoint(root / "decoy", "2.3", seed=1).parent
    repo = root / "LTX-2.3"
    repo.mkdir()
    (upsampler,), (lora,) = real.glob("*spatial-upscaler-x2*"), real.glob("*distilled-lora*")
    (decoy_upsampler,), (decoy_lora,) = decoy.glob("*spatial-upscaler-x2*"), decoy.glob("*distilled-lora*")
    for name, source in {
        "ltx-2.3-22b-dev.safetensors": checkpoint_file(real),
        "ltx-2.3-22b-distilled.safetensors": checkpoint_file(decoy),
        "ltx-2.3-22b-distilled-1.1.safetensors": checkpoint_file(decoy),
        "ltx-2.3-22b-distilled-lora-384.safetensors": decoy_lora,
        "ltx-2.3-22b-distilled-lora-384-1.1.safetensors": lora,
        "ltx-2.3-spatial-upscaler-x2-1.0.safetensors": decoy_upsampler,
        "ltx-2.3-spatial-upscaler-x2-1.1.safetensors": upsampler,
        "ltx-2.3-spatial-upscaler-x1.5-1.0.safetensors": decoy_upsampler,
    }.items():
        shutil.copy(source, repo / name)
    _temporal_upscaler(repo / "ltx-2.3-temporal-upscaler-x2-1.0.safetensors")
    for folder in ("text_encoder", "tokenizer"):
        shutil.copytree(real / folder, repo / folder)
    return real, repo


def test_file_versions_order_newest_first():
    names = ["ltx-2.3-22b-distilled-lora-384", "ltx-2.3-22b-distilled-lora-384-1.1", "ltx-2.3-spatial-upscaler-x2-1.0"]
    assert [file_version(n + ".safetensors") for n in names] == [(), (1, 1), (1, 0)]
    assert file_version("x-1.10.safetensors") > file_version("x-1.9.safetensors")  # numbers, not text


def test_the_right_file_of_each_kind_is_found_by_name(published):
    _, repo = published
    files = find_model_files(str(repo), EVERY_FILE)
    assert files.layout == "single-file"
    assert files.checkpoint.name == "ltx-2.3-22b-dev.safetensors"
    assert files.spatial_upsampler.name == "ltx-2.3-spatial-upscaler-x2-1.1.safetensors"
    assert files.distilled_lora.name == "ltx-2.3-22b-distilled-lora-384-1.1.safetensors"


def test_the_repo_gives_the_video_of_the_same_files_given_by_path(published):
    real, repo = published
    (upsampler,), (lora,) = real.glob("*spatial-upscaler-x2*"), real.glob("*distilled-lora*")
    request = GenerationRequest(**REQUEST).resolve("2.3")
    from_repo = load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=TWO_STAGE)(request)
    by_path = load_pipeline(str(checkpoint_file(real)), CPU, torch.float32, pipeline_class_name=TWO_STAGE,
                            upsampler_path=upsampler, distilled_lora_path=lora)(request)
    assert np.array_equal(from_repo.frames, by_path.frames) and np.array_equal(from_repo.audio, by_path.audio)


def test_a_temporal_upscaler_given_by_hand_is_refused_naming_it(published):
    _, repo = published
    with pytest.raises(InvalidRequest, match=r"^invalid spatial_upsampler_path=.*: ltx-2.3-temporal-upscaler-x2-1.0.safetensors is not a spatial x2 latent upscaler"):
        load_pipeline(str(repo), CPU, torch.float32, pipeline_class_name=TWO_STAGE,
                      upsampler_path=repo / "ltx-2.3-temporal-upscaler-x2-1.0.safetensors")


def test_single_files_win_over_the_diffusers_copy_beside_them(published, tmp_path):
    """Lightricks/LTX-2 holds model_index.json and diffusers folders beside its single files."""
    _, repo = published
    both = tmp_path / "LTX-2-like"
    shutil.copytree(repo, both)
    (both / "model_index.json").write_text(json.dumps({"_class_name": "LTX2Pipeline"}))
    for folder in ("transformer", "vae", "latent_upsampler"):
        (both / folder).mkdir()
    files = find_model_files(str(both), EVERY_FILE)
    assert (files.layout, files.checkpoint.name) == ("single-file", "ltx-2.3-22b-dev.safetensors")
    assert files.spatial_upsampler.name == "ltx-2.3-spatial-upscaler-x2-1.1.safetensors"


def test_an_fp4_checkpoint_is_refused_at_resolution_naming_it_and_what_to_use(tmp_path):
    """ltx-2-19b-dev-fp4 (NVFP4) given by path, or the only checkpoint of a folder: refused before anything is
    read, naming the file and the fp8 one beside it (or the full-precision file with --quantization fp8-cast)."""
    from ltx_backend.loading.model_path import ModelPathError, plan_files

    names = ["ltx-2-19b-dev.safetensors", "ltx-2-19b-dev-fp8.safetensors", "ltx-2-19b-dev-fp4.safetensors"]
    assert plan_files(names, Needs(text_encoder=False), "repo").checkpoint == "ltx-2-19b-dev.safetensors"  # never chosen
    with pytest.raises(ModelPathError, match=r"ltx-2-19b-dev-fp4.safetensors holds NVFP4 \(fp4\) weights.*use ltx-2-19b-dev-fp8.safetensors \(fp8\)"):
        plan_files(names, Needs(text_encoder=False), "repo", checkpoint="ltx-2-19b-dev-fp4.safetensors")
    folder = tmp_path / "fp4"
    folder.mkdir()
    (folder / "ltx-2-19b-dev-fp4.safetensors").write_bytes(b"not read")
    with pytest.raises(ModelPathError, match=r"ltx-2-19b-dev-fp4.safetensors holds NVFP4.*--quantization fp8-cast"):
        find_model_files(str(folder), Needs(text_encoder=False))
    with pytest.raises(ModelPathError, match=r"ltx-2-19b-dev-fp4.safetensors holds NVFP4"):
        find_model_files(str(folder / "ltx-2-19b-dev-fp4.safetensors"), Needs(text_encoder=False))
