"""Loading LTX-2 / LTX-2.3 from the diffusers layout (loading/diffusers_layout.py).

A tiny random-weight pipeline is written by diffusers itself (build/make_tiny_diffusers.py, run in the separate
.venv-diffusers, which also dumps diffusers' transformer and VAE decoder outputs on fixed inputs). Every component
must load with zero missing / unexpected keys, and the loaded transformer and video decoder must reproduce diffusers'
outputs. Components are built with our model code where it exists, else with ltx-core's (same state-dict keys).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from ltx_backend.loading import diffusers_layout as dl

REPO = Path(__file__).resolve().parents[1]
DIFFUSERS_PYTHON = REPO / ".venv-diffusers" / "bin" / "python"
VERSIONS = {"2": "ltx-2", "2.3": "ltx-2.3"}

@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    """Tiny checkpoints written by diffusers 0.42 itself, from its own venv (`make setup` makes it): a missing
    venv fails these tests, it does not skip them."""
    assert DIFFUSERS_PYTHON.exists(), f"{DIFFUSERS_PYTHON} is missing: `make setup` (build/setup_diffusers_env.sh) makes it"
    out = tmp_path_factory.mktemp("tiny-diffusers")
    subprocess.run([str(DIFFUSERS_PYTHON), str(REPO / "build" / "make_tiny_diffusers.py"), "--out", str(out)], check=True,
                   capture_output=True, cwd=REPO, timeout=300)
    return out


def test_model_version_from_configs(tiny_root):
    for version, folder in VERSIONS.items():
        assert dl.diffusers_model_version(tiny_root / folder) == version
        assert json.loads((tiny_root / folder / "model_index.json").read_text())["_class_name"] == "LTX2Pipeline"


def test_metadata_config_sections(tiny_root):
    v2 = dl.diffusers_metadata_config(tiny_root / "ltx-2")
    v23 = dl.diffusers_metadata_config(tiny_root / "ltx-2.3")
    t2, t23 = v2["transformer"], v23["transformer"]
    assert (t2["num_attention_heads"], t2["attention_head_dim"], t2["audio_num_attention_heads"], t2["audio_attention_head_dim"]) == (2, 16, 2, 8)
    assert t2["positional_embedding_max_pos"] == [20, 2048, 2048] and t2["audio_positional_embedding_max_pos"] == [20]
    assert t2["rope_type"] == "split" and t2["frequencies_precision"] == "float64"
    assert not t2["apply_gated_attention"] and "caption_proj_before_connector" not in t2
    assert t23["apply_gated_attention"] and t23["cross_attention_adaln"] and t23["caption_proj_before_connector"]
    assert t23["connector_num_attention_heads"] * t23["connector_attention_head_dim"] == 32
    assert v2["vae"]["decoder_blocks"] == [
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_space", {"multiplier": 2}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
        ["compress_all", {"multiplier": 2, "residual": True}],
        ["res_x", {"num_layers": 1, "inject_noise": False}],
    ]
    assert v2["vae"]["encoder_blocks"][1::2] == [["compress_space_res", {"multiplier": 1}], ["compress_all_res", {"multiplier": 2}]]
    assert "spatial_padding_mode" not in v2["vae"] and v23["vae"]["spatial_padding_mode"] == "zeros"
    assert "bwe" not in v2["vocoder"] and v23["vocoder"]["bwe"]["output_sampling_rate"] == 48000


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("name", list(dl.SUBFOLDERS))
def test_component_loads_strict(tiny_root, version, name):
    root = tiny_root / VERSIONS[version]
    module = dl.load_diffusers_component(root, name, "cpu", torch.float32)
    state = module.state_dict()
    assert all(not t.is_meta for t in state.values())
    # every tensor came from the diffusers files, unchanged
    from safetensors import safe_open

    files = dl.weight_files(root, dl.SUBFOLDERS[name])
    stored = {}
    for file in files:
        with safe_open(str(file), framework="pt") as f:
            stored.update({k: f.get_tensor(k) for k in f.keys()})
    rename, _ = dl.component_key_map(root, name)
    for key, tensor in state.items():
        assert torch.equal(tensor, stored[rename(key)].to(tensor.dtype)), key


def test_unexpected_key_is_named(tiny_root, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    root = tmp_path / "broken"
    shutil.copytree(tiny_root / "ltx-2", root, ignore=shutil.ignore_patterns("vae", "audio_vae", "text_encoder"))
    file = dl.weight_files(root, "vocoder")[0]
    tensors = load_file(str(file))
    tensors["conv_in.extra"] = torch.zeros(1)
    del tensors["conv_out.bias"]
    save_file(tensors, str(file))
    with pytest.raises(dl.CheckpointError, match=r"missing key\(s\): conv_post.bias.*unexpected.*conv_in.extra"):
        dl.load_diffusers_component(root, "vocoder", "cpu", torch.float32)


def _close(actual: torch.Tensor, expected: np.ndarray) -> float:
    expected_t = torch.from_numpy(expected)
    assert actual.shape == expected_t.shape
    error = (actual - expected_t).abs().max().item()
    assert error <= 1e-4 * max(1.0, expected_t.abs().max().item()), error
    return error


@pytest.mark.parametrize("version", VERSIONS)
def test_transformer_matches_diffusers(tiny_root, version):
    """Our transformer's velocity (LTXModel's output) from diffusers-layout weights == diffusers' own output."""
    from ltx_backend.models.transformer import BatchPerturbations, ModalityInput

    root = tiny_root / VERSIONS[version]
    ref = {k.split(".", 1)[1]: torch.from_numpy(v) for k, v in np.load(root / "reference.npz").items() if k.startswith("transformer.")}
    model = dl.load_diffusers_component(root, "transformer", "cpu", torch.float32)
    mask = ref["context_mask"]
    video = ModalityInput(latent=ref["video_latent"], sigma=ref["video_sigma"], timesteps=ref["video_timesteps"],
                          positions=ref["video_positions"], context=ref["video_context"], context_mask=mask)
    audio = ModalityInput(latent=ref["audio_latent"], sigma=ref["audio_sigma"], timesteps=ref["audio_timesteps"],
                          positions=ref["audio_positions"], context=ref["audio_context"], context_mask=mask)
    with torch.no_grad():
        video_out, audio_out = model.velocity(video, audio, BatchPerturbations.none(2))
    _close(video_out, ref["video_out"].numpy())
    _close(audio_out, ref["audio_out"].numpy())


@pytest.mark.parametrize("version", VERSIONS)
def test_video_decoder_matches_diffusers(tiny_root, version):
    root = tiny_root / VERSIONS[version]
    ref = np.load(root / "reference.npz")
    decoder = dl.load_diffusers_component(root, "video_decoder", "cpu", torch.float32)
    if getattr(decoder, "timestep_conditioning", False):
        decoder.decode_noise_scale = 0.0  # the reference adds seeded noise before decoding; diffusers' decoder does not
    timestep = torch.from_numpy(ref["decoder.timestep"]) if decoder.timestep_conditioning else None
    with torch.no_grad():
        video = decoder(torch.from_numpy(ref["decoder.latent"]), timestep=timestep)
    _close(video, ref["decoder.video"])


@pytest.mark.parametrize("version", VERSIONS)
def test_latent_upsampler_folder_matches_diffusers(tiny_root, version):
    """A diffusers latent_upsampler/ (config.json, no safetensors metadata) loads as the spatial x2 upsampler and
    reproduces diffusers' LTX2LatentUpsamplerModel; the resolver takes it for the two-stage classes."""
    from ltx_backend.loading.model_path import find_model_files
    from ltx_backend.loading.published_files import Needs
    from ltx_backend.runtime.loaders import load_latent_upsampler

    root = tiny_root / VERSIONS[version]
    files = find_model_files(str(root), Needs(spatial_upsampler=True))
    assert (files.layout, files.spatial_upsampler) == ("diffusers", root / "latent_upsampler")
    ref = np.load(root / "reference.npz")
    upsampler = load_latent_upsampler(files.spatial_upsampler, "cpu", torch.float32)
    with torch.no_grad():
        upsampled = upsampler(torch.from_numpy(ref["upsampler.latent"]))
    _close(upsampled, ref["upsampler.upsampled"])
