"""Official single-file checkpoints: version from metadata, strict loading, reference-written files."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from conftest import checkpoint_file, load_build_script
from ltx_backend.loading.checkpoint import CheckpointError, read_checkpoint_info
from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS, check_every_key_is_claimed, load_part, unclaimed_keys
from ltx_backend.loading.model_path import find_model_files
from ltx_testing.tiny_configs import tiny_checkpoint_config


def test_version_comes_from_metadata_not_path(tiny_checkpoints, tmp_path):
    misleading = tmp_path / "LTX-2.3-lookalike"
    shutil.copytree(tiny_checkpoints["2"], misleading)
    info = read_checkpoint_info(find_model_files(str(misleading)).checkpoint)
    assert info.model_version == "2" and info.raw_model_version.startswith("2.0")
    assert read_checkpoint_info(checkpoint_file(tiny_checkpoints["2.3"])).model_version == "2.3"


@pytest.mark.parametrize("version", ["2", "2.3"])
def test_every_key_of_the_tiny_file_is_loaded(tiny_checkpoints, version):
    path = checkpoint_file(tiny_checkpoints[version])
    with safe_open(str(path), framework="pt") as f:
        assert unclaimed_keys(list(f.keys())) == []
    info = read_checkpoint_info(path)
    for name in CHECKPOINT_PARTS:
        module = load_part(info, name, torch.device("cpu"), torch.float32)
        assert not any(p.is_meta for p in module.parameters())


@pytest.mark.parametrize("version", ["2", "2.3"])
def test_reference_written_checkpoint_loads_with_no_missing_or_unexpected_keys(version, tmp_path):
    """State dicts of the reference's own classes, written under the official key names, load strictly."""
    from ltx_core.model.audio_vae import AudioDecoderConfigurator, VocoderConfigurator
    from ltx_core.model.transformer import LTXModelConfigurator
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    maker = load_build_script("make_tiny_checkpoints")
    config = tiny_checkpoint_config(version)
    reference = {
        "transformer": LTXModelConfigurator,
        "video_encoder": VideoEncoderConfigurator,
        "video_decoder": VideoDecoderConfigurator,
        "audio_decoder": AudioDecoderConfigurator,
        "vocoder": VocoderConfigurator,
    }
    tensors = {}
    for name, configurator in reference.items():
        module = configurator.from_config(config)
        if any(p.is_meta for p in module.parameters()):  # LTX-2's caption projection is built on meta
            module = module.to_empty(device="cpu")
        maker.randomize_(module, torch.Generator().manual_seed(1))
        for key, value in module.state_dict().items():
            tensors.setdefault(maker.checkpoint_key(key, CHECKPOINT_PARTS[name].key_map), value.contiguous())
    path = tmp_path / "reference.safetensors"
    save_file(tensors, str(path), metadata={"config": json.dumps(config), "model_version": "2.3.0" if version == "2.3" else "2.0.0"})
    info = read_checkpoint_info(path)
    for name, configurator in reference.items():
        ours = load_part(info, name, torch.device("cpu"), torch.float32)
        expected = {k: v for k, v in tensors.items() if CHECKPOINT_PARTS[name].key_map(k) is not None}
        state = ours.state_dict()
        assert len(state) == len(expected)
        for key, value in expected.items():
            assert torch.equal(state[CHECKPOINT_PARTS[name].key_map(key)], value)


def test_missing_and_unexpected_keys_are_named(tiny_checkpoints, tmp_path):
    path = checkpoint_file(tiny_checkpoints["2"])
    with safe_open(str(path), framework="pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    dropped = next(k for k in tensors if k.startswith("model.diffusion_model.transformer_blocks.0."))
    del tensors[dropped]
    tensors["model.diffusion_model.not_a_layer.weight"] = torch.zeros(1)
    broken = tmp_path / "broken.safetensors"
    save_file(tensors, str(broken), metadata=metadata)
    with pytest.raises(CheckpointError) as error:
        load_part(read_checkpoint_info(broken), "transformer", torch.device("cpu"), torch.float32)
    assert "transformer: 1 missing key(s): " + dropped.removeprefix("model.diffusion_model.") in str(error.value)
    with pytest.raises(CheckpointError) as error:
        check_every_key_is_claimed(read_checkpoint_info(broken))
    assert "1 unexpected key(s) no component loads: model.diffusion_model.not_a_layer.weight" in str(error.value)


def test_file_without_config_metadata_is_rejected(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"x": torch.zeros(1)}, str(path))
    with pytest.raises(CheckpointError, match="no 'config'"):
        read_checkpoint_info(path)


def _run_offline(hf_home, code: str) -> subprocess.CompletedProcess:

    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_repo_id_resolves_from_the_hugging_face_cache_offline(tiny_checkpoints, tmp_path):
    """A repo id goes through huggingface_hub's cache under HF_HOME; HF_HUB_OFFLINE is honoured."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--Lightricks--LTX-2.3"
    shutil.copytree(tiny_checkpoints["2.3"], repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    found = _run_offline(tmp_path / "hf", "from ltx_backend.loading.sources import open_model; "
                         "m = open_model('Lightricks/LTX-2.3'); print(m.model_version, m.files.checkpoint.name)")
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["2.3", "ltx-2.3-tiny.safetensors"]
    missing = _run_offline(tmp_path / "hf", "from ltx_backend.loading.model_path import find_model_files; "
                           "find_model_files('Lightricks/LTX-2')")
    assert missing.returncode != 0
    assert ("no file of Lightricks/LTX-2: not in the Hugging Face cache" in missing.stderr
            and "HF_HUB_OFFLINE=1: run `ltx-triton download --model-path Lightricks/LTX-2`" in missing.stderr), missing.stderr
