"""User LoRAs: key formats, exact merged deltas, coverage, shape errors, snapshots, path resolution,
and parity with ltx-core 1.0.0's fuse_loras on bf16 weights (tiny checkpoints, CPU)."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import checkpoint_file, load_build_script
from ltx_backend.loading.checkpoint import read_checkpoint_info
from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS, load_part
from ltx_backend.loading.diffusers_layout import transformer_diffusers_key
from ltx_backend.loading.lora import (
    LoraError,
    LoraShapeError,
    WeightSnapshot,
    apply_loras,
    lora_capable_layers,
    read_lora,
    touched_modules,
)
from ltx_backend.loading.lora_formats import to_our_module_path
from ltx_backend.models.transformer import BatchPerturbations, ModalityInput, full_transformer_config
from ltx_testing.tiny_configs import tiny_checkpoint_config

MAKER = load_build_script("make_tiny_checkpoints")
RANK = 4
# How each format names a module's matrices and alpha, written out independently of the reader.
FORMATS = {
    "reference": (lambda m: "diffusion_model." + m, "lora_A.weight", "lora_B.weight"),
    "comfyui": (lambda m: "diffusion_model." + m, "lora_down.weight", "lora_up.weight"),
    "diffusers": (lambda m: "transformer." + transformer_diffusers_key(m), "lora_A.weight", "lora_B.weight"),
    "diffusers-down-up": (lambda m: "transformer." + transformer_diffusers_key(m), "lora_down.weight", "lora_up.weight"),
    "peft": (lambda m: "base_model.model." + transformer_diffusers_key(m), "lora_A.default.weight", "lora_B.default.weight"),
}
# alpha written per format (None: no alpha, factor 1); rank 4, so the factors are 1, 0.5, 2, 0.25, 2.
ALPHAS = {"reference": None, "comfyui": 2.0, "diffusers": 8.0, "diffusers-down-up": 1.0, "peft": 8.0}
CAPABLE = {"2": 56, "2.3": 68}  # Linears of the 2 tiny blocks: 14 (LTX-2) or 17 (2.3, gate logits) per stream


def load_transformer(tiny_checkpoints, version: str, dtype=torch.float32) -> torch.nn.Module:
    info = read_checkpoint_info(checkpoint_file(tiny_checkpoints[version]))
    return load_part(info, "transformer", torch.device("cpu"), dtype)


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def run(model: torch.nn.Module, version: str) -> torch.Tensor:
    """Video and audio outputs of one transformer call on fixed inputs, concatenated."""
    g = torch.Generator().manual_seed(3)
    dtype = next(model.parameters()).dtype
    video_text, audio_text = (64, 64) if version == "2" else (32, 16)

    def stream(tokens: int, axes: int, text: int) -> ModalityInput:
        starts = torch.arange(tokens, dtype=torch.float32).view(1, 1, tokens, 1).expand(1, axes, tokens, 1)
        sigma = torch.tensor([0.7])
        return ModalityInput(
            latent=torch.randn(1, tokens, 128, generator=g).to(dtype),
            sigma=sigma,
            timesteps=torch.full((1, tokens), 0.7),
            positions=torch.cat([starts, starts + 1], dim=-1),
            context=torch.randn(1, 5, text, generator=g).to(dtype),
        )

    with torch.no_grad():
        video, audio = model(stream(6, 3, video_text), stream(5, 1, audio_text), BatchPerturbations.none(1))
    return torch.cat([video.flatten(), audio.flatten()]).float()


def expected_deltas(path, key_format: str, modules, scale: float, alpha: float | None) -> dict[str, torch.Tensor]:
    """scale * B @ A * alpha / rank per module, in float64, from the file's tensors by the format's key names."""
    tensors = load_file(str(path))
    stem, down_suffix, up_suffix = FORMATS[key_format]
    factor = 1.0 if alpha is None else alpha / RANK
    return {
        m: scale * factor * (tensors[f"{stem(m)}.{up_suffix}"].double() @ tensors[f"{stem(m)}.{down_suffix}"].double())
        for m in modules
    }


# ------------------------------------------------------------------------------------------ key formats


@pytest.mark.parametrize("version", ["2", "2.3"])
@pytest.mark.parametrize("key_format", list(FORMATS))
def test_each_format_merges_scale_b_a_alpha_over_rank(tiny_checkpoints, tmp_path, version, key_format):
    alpha = ALPHAS[key_format]
    path = MAKER.make_tiny_lora(tmp_path / key_format / "lora.safetensors", version, key_format, rank=RANK, seed=5, alpha=alpha)
    lora = read_lora(str(path))
    model = load_transformer(tiny_checkpoints, version)
    base, base_out = state(model), run(model, version)
    modules = lora_capable_layers(model)
    assert sorted(lora.layers) == sorted(modules)

    report = apply_loras(model, [(lora, 0.7)])

    assert (report.covered, report.total) == (CAPABLE[version], CAPABLE[version])
    deltas = expected_deltas(path, key_format, modules, 0.7, alpha)
    after = model.state_dict()
    for m, delta in deltas.items():
        expected = (base[f"{m}.weight"].double() + delta).float()
        assert torch.allclose(after[f"{m}.weight"], expected, rtol=0, atol=1e-6), m
        assert (after[f"{m}.weight"] - base[f"{m}.weight"]).abs().max() > 1e-2, m
    changed = {k for k in base if not torch.equal(base[k], after[k])}
    assert changed == {f"{m}.weight" for m in modules}
    assert (run(model, version) - base_out).abs().max() > 1e-2


def test_alpha_factor_is_applied_and_missing_alpha_means_factor_one(tiny_checkpoints, tmp_path):
    """The same matrices with alpha 2 (rank 4) merge half the delta of the file without alpha."""
    modules = ["transformer_blocks.0.attn1.to_q"]
    plain = MAKER.make_tiny_lora(tmp_path / "a" / "l.safetensors", "2", "comfyui", rank=RANK, seed=1, modules=modules)
    halved = MAKER.make_tiny_lora(tmp_path / "b" / "l.safetensors", "2", "comfyui", rank=RANK, seed=1, modules=modules, alpha=2.0)
    weights = []
    for path in (plain, halved):
        model = load_transformer(tiny_checkpoints, "2")
        base = model.get_submodule(modules[0]).weight.detach().clone()
        apply_loras(model, [(read_lora(str(path)), 1.0)])
        weights.append(model.get_submodule(modules[0]).weight.detach() - base)
    assert torch.allclose(weights[1] * 2, weights[0], atol=1e-6)


def test_diffusers_module_names_map_onto_ours_for_every_linear():
    """Inverse of diffusers' conversion for every Linear of the tiny and the full-size transformers."""
    configs = [tiny_checkpoint_config("2"), tiny_checkpoint_config("2.3")]
    configs += [{"transformer": full_transformer_config(v)} for v in ("2", "2.3")]
    for config in configs:
        with torch.device("meta"):
            model = CHECKPOINT_PARTS["transformer"].build(config)
        for name, module in model.named_modules():
            if isinstance(module, torch.nn.Linear):
                assert to_our_module_path("transformer." + transformer_diffusers_key(name)) == name
                assert to_our_module_path("diffusion_model." + name) == name
                assert to_our_module_path("base_model.model.transformer." + transformer_diffusers_key(name)) == name
    assert to_our_module_path("text_encoder.layers.0.q_proj") is None
    assert to_our_module_path("diffusion_model.video_embeddings_connector.transformer_1d_blocks.0.attn1.to_q") is None


def test_diffusers_lora_on_top_level_modules(tiny_checkpoints, tmp_path):
    """proj_in / time_embed (diffusers) land on patchify_proj / adaln_single, reported outside the blocks."""
    modules = ["patchify_proj", "adaln_single.linear", "transformer_blocks.0.attn1.to_q"]
    path = MAKER.make_tiny_lora(tmp_path / "l.safetensors", "2.3", "diffusers", rank=RANK, seed=2, modules=modules)
    assert "transformer.proj_in.lora_A.weight" in load_file(str(path))
    model = load_transformer(tiny_checkpoints, "2.3")
    base = state(model)
    report = apply_loras(model, [(read_lora(str(path)), 1.0)])
    for m, delta in expected_deltas(path, "diffusers", modules, 1.0, None).items():
        assert torch.allclose(model.state_dict()[f"{m}.weight"], (base[f"{m}.weight"].double() + delta).float(), atol=1e-6)
    assert report.summary() == (
        "LoRA l covers 1/68 LoRA-capable layers; 67 keep base weights; "
        "also 2 layers outside the blocks (adaln_single.linear, patchify_proj)"
    )


# --------------------------------------------------------------------------------------------- coverage


def test_coverage_summary_counts_and_unused_keys(tiny_checkpoints, tmp_path, caplog):
    """attn1 of blocks 0 and 1 only (8 Linears), plus keys for the text encoder and LTX-2.3's gates."""
    modules = [f"transformer_blocks.{b}.attn1.{p}" for b in (0, 1) for p in ("to_q", "to_k", "to_v", "to_out.0")]
    gates = [f"transformer_blocks.{b}.attn1.to_gate_logits" for b in (0, 1)]
    path = MAKER.make_tiny_lora(tmp_path / "attn1.safetensors", "2.3", "reference", rank=RANK, modules=modules + gates)
    tensors = load_file(str(path))
    tensors["text_encoder.layers.0.q_proj.lora_A.weight"] = torch.zeros(RANK, 8)
    tensors["text_encoder.layers.0.q_proj.lora_B.weight"] = torch.zeros(8, RANK)
    save_file(tensors, str(path))

    lora = read_lora(str(path))
    assert lora.unused_keys == ("text_encoder.layers.0.q_proj",)
    model = load_transformer(tiny_checkpoints, "2")  # LTX-2 has no gate logits: those 2 are not used
    with caplog.at_level(logging.INFO, logger="ltx_backend.loading.lora"):
        report = apply_loras(model, [(lora, 1.0)])
    assert (report.covered, report.total) == (8, 56)
    assert report.modified == frozenset(modules)
    assert report.unmatched_keys == {
        "attn1": (
            "text_encoder.layers.0.q_proj",
            "diffusion_model.transformer_blocks.0.attn1.to_gate_logits",
            "diffusion_model.transformer_blocks.1.attn1.to_gate_logits",
        )
    }
    assert report.summary() == (
        "LoRA attn1 covers 8/56 LoRA-capable layers; 48 keep base weights; 3 keys not used: "
        "text_encoder.layers.0.q_proj, diffusion_model.transformer_blocks.0.attn1.to_gate_logits, "
        "diffusion_model.transformer_blocks.1.attn1.to_gate_logits"
    )
    logged = [r.getMessage() for r in caplog.records if r.name == "ltx_backend.loading.lora"]
    assert logged == [report.summary()]


def test_unused_key_list_is_truncated(tiny_checkpoints, tmp_path):
    path = MAKER.make_tiny_lora(tmp_path / "many.safetensors", "2", "reference", rank=RANK, modules=["transformer_blocks.0.ff.net.2"])
    tensors = load_file(str(path))
    for i in range(8):
        tensors[f"lora_te_text_model_encoder_layers_{i}_mlp_fc1.lora_down.weight"] = torch.zeros(RANK, 4)
    save_file(tensors, str(path))
    report = apply_loras(load_transformer(tiny_checkpoints, "2"), [(read_lora(str(path)), 1.0)])
    assert report.summary().startswith("LoRA many covers 1/56 LoRA-capable layers; 55 keep base weights; 8 keys not used: ")
    assert report.summary().endswith(", ... (+3 more)")


def test_blocks_only_lora_leaves_everything_else_on_base_weights(tiny_checkpoints, tmp_path):
    path = MAKER.make_tiny_lora(tmp_path / "blocks.safetensors", "2.3", "comfyui", rank=RANK, alpha=4.0)
    model = load_transformer(tiny_checkpoints, "2.3")
    base = state(model)
    apply_loras(model, [(read_lora(str(path)), 1.0)])
    after = model.state_dict()
    lora_weights = {f"{m}.weight" for m in lora_capable_layers(model)}
    outside = [k for k in base if k not in lora_weights]
    assert any(not k.startswith("transformer_blocks.") for k in outside) and any(k.endswith(".bias") for k in outside)
    for key in outside:
        assert torch.equal(after[key], base[key]), key
    for key in lora_weights:
        assert not torch.equal(after[key], base[key]), key


def test_several_loras_compose(tiny_checkpoints, tmp_path):
    """Two LoRAs on overlapping layers: W + s1 * d1 + s2 * d2; touched_modules is the union."""
    first_modules = ["transformer_blocks.0.attn1.to_q", "transformer_blocks.0.ff.net.0.proj"]
    second_modules = ["transformer_blocks.0.attn1.to_q", "transformer_blocks.1.audio_attn2.to_v"]
    first = MAKER.make_tiny_lora(tmp_path / "first.safetensors", "2", "reference", rank=RANK, seed=1, modules=first_modules)
    second = MAKER.make_tiny_lora(tmp_path / "second.safetensors", "2", "diffusers", rank=RANK, seed=2, modules=second_modules, alpha=2.0)
    loras = [(read_lora(str(first)), 0.5), (read_lora(str(second)), -1.5)]
    assert touched_modules(loras) == set(first_modules) | set(second_modules)
    model = load_transformer(tiny_checkpoints, "2")
    base = state(model)
    report = apply_loras(model, loras)
    assert report.covered == 3 and [c.covered for c in report.loras] == [2, 2]
    d1 = expected_deltas(first, "reference", first_modules, 0.5, None)
    d2 = expected_deltas(second, "diffusers", second_modules, -1.5, 2.0)
    for m in set(first_modules) | set(second_modules):
        expected = base[f"{m}.weight"].double() + d1.get(m, 0) + d2.get(m, 0)
        assert torch.allclose(model.state_dict()[f"{m}.weight"], expected.float(), atol=1e-6), m


# ------------------------------------------------------------------------------------------------ errors


def test_shape_mismatch_is_a_clear_error_and_leaves_the_model_unchanged(tiny_checkpoints, tmp_path):
    good = MAKER.make_tiny_lora(tmp_path / "good.safetensors", "2", "reference", rank=RANK, seed=1)
    bad = MAKER.make_tiny_lora(tmp_path / "bad.safetensors", "2", "reference", rank=RANK, seed=2)
    tensors = load_file(str(bad))
    # the last block's last layer: every other layer of both LoRAs fits and would be merged first
    tensors["diffusion_model.transformer_blocks.1.audio_ff.net.2.lora_A.weight"] = torch.randn(RANK, 100)
    save_file(tensors, str(bad))
    model = load_transformer(tiny_checkpoints, "2")
    base = state(model)
    with pytest.raises(LoraShapeError) as error:
        apply_loras(model, [(read_lora(str(good)), 1.0), (read_lora(str(bad)), 1.0)])
    message = str(error.value)
    assert "LoRA bad does not fit layer transformer_blocks.1.audio_ff.net.2 (Linear 64 -> 16)" in message
    assert "expected down (A) [4, 64] and up (B) [16, 4] for rank 4, got down [4, 100] and up [16, 4]" in message
    after = model.state_dict()
    assert all(torch.equal(after[k], base[k]) for k in base)


def test_lora_for_another_model_is_an_error(tiny_checkpoints, tmp_path):
    path = tmp_path / "other.safetensors"
    save_file({"lora_unet_down_blocks_0_attn.lora_down.weight": torch.zeros(4, 8),
               "lora_unet_down_blocks_0_attn.lora_up.weight": torch.zeros(8, 4)}, str(path))
    with pytest.raises(LoraError, match="no LoRA layer of the LTX transformer found in the file"):
        read_lora(str(path))
    # transformer-shaped names, but a module this model lacks (LTX-2 has no gate logits)
    gates = MAKER.make_tiny_lora(tmp_path / "gates.safetensors", "2.3", "reference", modules=["transformer_blocks.0.attn1.to_gate_logits"])
    model = load_transformer(tiny_checkpoints, "2")
    with pytest.raises(LoraError, match="none of its 1 layers is a Linear of this model"):
        apply_loras(model, [(read_lora(str(gates)), 1.0)])


def test_dora_is_refused_rather_than_merged_without_its_magnitudes(tmp_path):
    path = MAKER.make_tiny_lora(tmp_path / "dora.safetensors", "2", "comfyui", modules=["transformer_blocks.0.attn1.to_q"])
    tensors = load_file(str(path))
    tensors["diffusion_model.transformer_blocks.0.attn1.to_q.dora_scale"] = torch.ones(1, 32)
    save_file(tensors, str(path))
    with pytest.raises(LoraError, match=r"DoRA adapters are not supported \(magnitude keys such as diffusion_model.transformer_blocks.0.attn1.to_q.dora_scale\)"):
        read_lora(str(path))


def test_ranks_of_down_and_up_must_agree(tmp_path):
    path = tmp_path / "ranks.safetensors"
    save_file({"diffusion_model.transformer_blocks.0.attn1.to_q.lora_A.weight": torch.zeros(4, 32),
               "diffusion_model.transformer_blocks.0.attn1.to_q.lora_B.weight": torch.zeros(32, 3)}, str(path))
    with pytest.raises(LoraShapeError, match=r"transformer_blocks.0.attn1.to_q: ranks differ, down \(4, 32\) and up \(32, 3\)"):
        read_lora(str(path))


# --------------------------------------------------------------------------------------------- snapshots


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_snapshot_restores_bit_identically(tiny_checkpoints, tmp_path, dtype):
    path = MAKER.make_tiny_lora(tmp_path / "l.safetensors", "2.3", "reference", rank=RANK, alpha=None)
    lora = read_lora(str(path))
    model = load_transformer(tiny_checkpoints, "2.3", dtype)
    base = state(model)
    paths = touched_modules([lora], model)
    stage1 = WeightSnapshot.take(model, paths)
    assert stage1.module_paths == paths and stage1.on_host and stage1.nbytes > 0
    assert not stage1.pinned  # CPU weights: plain host copies

    apply_loras(model, [(lora, 1.0)])
    merged = state(model)
    assert any(not torch.equal(merged[k], base[k]) for k in base)
    stage2 = WeightSnapshot.take(model, paths, on_host=False)

    stage1.restore(model)
    assert all(torch.equal(model.state_dict()[k], base[k]) for k in base)
    stage2.to_host().restore(model)
    assert all(torch.equal(model.state_dict()[k], merged[k]) for k in merged)
    stage1.restore(model)  # a snapshot stays valid after a restore
    assert all(torch.equal(model.state_dict()[k], base[k]) for k in base)


def test_snapshot_of_an_unknown_module_is_an_error(tiny_checkpoints):
    model = load_transformer(tiny_checkpoints, "2")
    with pytest.raises(KeyError, match="transformer_blocks.0.attn1.to_gate_logits"):
        WeightSnapshot.take(model, ["transformer_blocks.0.attn1.to_gate_logits"])


# ------------------------------------------------------------------------------------------------- paths


def test_folder_with_several_files_needs_a_weight_name(tmp_path):
    folder = tmp_path / "loras"
    MAKER.make_tiny_lora(folder / "style-a.safetensors", "2", "reference", modules=["transformer_blocks.0.attn1.to_q"])
    MAKER.make_tiny_lora(folder / "style-b.safetensors", "2", "comfyui", modules=["transformer_blocks.0.attn1.to_k"])
    with pytest.raises(LoraError, match=r"2 .safetensors files \(style-a.safetensors, style-b.safetensors\); choose the LoRA with lora_weight_name"):
        read_lora(str(folder))
    chosen = read_lora(str(folder), weight_name="style-b.safetensors")
    assert chosen.name == "style-b" and list(chosen.layers) == ["transformer_blocks.0.attn1.to_k"]
    with pytest.raises(LoraError, match=r"lora_weight_name='style-c.safetensors'.*style-a.safetensors, style-b.safetensors"):
        read_lora(str(folder), weight_name="style-c.safetensors")
    (folder / "style-a.safetensors").unlink()
    assert list(read_lora(str(folder)).layers) == ["transformer_blocks.0.attn1.to_k"]  # one file: no name needed
    with pytest.raises(LoraError, match="not an existing local file or folder"):
        read_lora(str(tmp_path / "missing.safetensors"))


def test_peft_folder_reads_lora_alpha_from_adapter_config(tmp_path):
    path = MAKER.make_tiny_lora(tmp_path / "peft" / "adapter_model.safetensors", "2", "peft", rank=RANK, alpha=16.0,
                                modules=["transformer_blocks.0.attn1.to_q"])
    assert json.loads((path.parent / "adapter_config.json").read_text())["lora_alpha"] == 16.0
    lora = read_lora(str(path.parent))
    assert lora.layers["transformer_blocks.0.attn1.to_q"].factor == 4.0


def _run_offline(hf_home, code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HOME=str(hf_home), HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_hugging_face_repo_id_resolves_from_the_offline_cache(tmp_path):
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "hub" / "models--someone--ltx2-style-lora"
    snapshot = repo / "snapshots" / revision
    MAKER.make_tiny_lora(snapshot / "style.safetensors", "2", "comfyui", rank=RANK, alpha=2.0,
                         modules=["transformer_blocks.1.ff.net.2"])
    shutil.copy(snapshot / "style.safetensors", snapshot / "style-v2.safetensors")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    code = ("from ltx_backend.loading.lora import read_lora; "
            "l = read_lora('someone/ltx2-style-lora', weight_name='style-v2.safetensors'); "
            "print(l.name, list(l.layers), l.layers['transformer_blocks.1.ff.net.2'].factor)")
    found = _run_offline(tmp_path / "hf", code)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["someone/ltx2-style-lora/style-v2", "['transformer_blocks.1.ff.net.2']", "0.5"]
    several = _run_offline(tmp_path / "hf", "from ltx_backend.loading.lora import read_lora; read_lora('someone/ltx2-style-lora')")
    assert "2 .safetensors files (style-v2.safetensors, style.safetensors); choose the LoRA with lora_weight_name" in several.stderr
    missing = _run_offline(tmp_path / "hf", "from ltx_backend.loading.lora import read_lora; read_lora('someone/absent')")
    assert "invalid lora_path='someone/absent': HF_HUB_OFFLINE is set and the repo is not in the cache" in missing.stderr


# ---------------------------------------------------------------------------------------------- reference


def test_reference_format_merge_matches_ltx_core_fuse_loras_on_bf16(tiny_checkpoints, tmp_path):
    """ltx-core's loader + apply_loras (bf16 base, strength 0.8) vs ours on the same bf16 weights.

    ltx-core rounds B @ A to bf16 before adding it in bf16; we add in float32 and round once. Weights the
    LoRA does not touch are identical; adapted ones agree within bf16 rounding.
    """
    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraStateDictWithStrength
    from ltx_core.loader import apply_loras as reference_apply_loras
    from ltx_core.loader.sft_loader import SafetensorsStateDictLoader
    from ltx_core.model.transformer import LTXV_MODEL_COMFY_RENAMING_MAP

    modules = [m for m in lora_capable_layers(load_transformer(tiny_checkpoints, "2")) if ".1." not in m]
    path = MAKER.make_tiny_lora(tmp_path / "distilled-like.safetensors", "2", "reference", rank=8, seed=4,
                                modules=modules, dtype=torch.bfloat16)
    loader = SafetensorsStateDictLoader()
    base_sd = loader.load(str(checkpoint_file(tiny_checkpoints["2"])), sd_ops=LTXV_MODEL_COMFY_RENAMING_MAP)
    base_sd = type(base_sd)({k: v.to(torch.bfloat16) for k, v in base_sd.sd.items()}, base_sd.device, base_sd.size, {torch.bfloat16})
    lora_sd = loader.load(str(path), sd_ops=LTXV_LORA_COMFY_RENAMING_MAP)
    reference = reference_apply_loras(base_sd, [LoraStateDictWithStrength(lora_sd, 0.8)], dtype=torch.bfloat16).sd

    model = load_transformer(tiny_checkpoints, "2", torch.bfloat16)
    base = state(model)
    apply_loras(model, [(read_lora(str(path)), 0.8)])
    ours = model.state_dict()
    lora_tensors = lora_sd.sd
    adapted = {f"{m}.weight" for m in modules}
    for key, value in ours.items():
        if key not in adapted:
            assert torch.equal(value, reference[key]), key
            continue
        module = key[: -len(".weight")]
        a, b = lora_tensors[f"{module}.lora_A.weight"].float(), lora_tensors[f"{module}.lora_B.weight"].float()
        delta = reference[key].float() - base[key].float()
        difference = (value.float() - reference[key].float()).abs()
        assert delta.abs().max() > 0.05, key  # the LoRA did something
        # bf16 roundings (each at most 2^-8 relative): ours once on the result; ltx-core on B * strength,
        # on B @ A and on the sum. Bounded by 2^-8 (2 |result| + 2 * strength * |B| @ |A|).
        bound = (2 * value.float().abs() + 2 * 0.8 * (b.abs() @ a.abs())) * 2.0**-8 + 1e-6
        assert bool((difference <= bound).all()), (key, float(difference.max()))
        assert difference.max() < 0.05 * delta.abs().max(), key


@pytest.mark.parametrize("config,message", [
    (b"[1]", "holds a JSON list, not an object"),
    (b"{bad", "is not a readable JSON file"),
    (b"\xff\xfe", "is not a readable JSON file"),
    (b'{"lora_alpha": "sixteen"}', "lora_alpha='sixteen' is not a finite number"),
    (b'{"lora_alpha": 8, "alpha_pattern": ["q"]}', "alpha_pattern=['q'] is not an object of regex -> number"),
    (b'{"lora_alpha": 8, "alpha_pattern": {"(": 4}}', "alpha_pattern key '(' is not a regular expression"),
    (b'{"lora_alpha": 8, "alpha_pattern": {"(?i)to_q": 4}}', "alpha_pattern key '(?i)to_q' is not a regular expression"),
], ids=["list", "syntax", "not-utf8", "alpha-text", "pattern-list", "pattern-regex", "pattern-flags"])
def test_bad_adapter_config_is_a_lora_error_naming_the_file(tmp_path, config, message):
    path = MAKER.make_tiny_lora(tmp_path / "peft" / "adapter_model.safetensors", "2", "peft", rank=RANK, alpha=16.0,
                                modules=["transformer_blocks.0.attn1.to_q"])
    (path.parent / "adapter_config.json").write_bytes(config)
    with pytest.raises(LoraError) as info:
        read_lora(str(path.parent))
    assert str(info.value).startswith(f"invalid lora_path={str(path.parent)!r}: ")
    assert "adapter_config.json" in str(info.value) and message in str(info.value)


@pytest.mark.parametrize("name", ["/etc/passwd", "../other/style.safetensors", "style.txt", ""])
def test_weight_name_must_be_a_safetensors_file_inside_the_folder(tmp_path, name):
    folder = tmp_path / "loras"
    MAKER.make_tiny_lora(folder / "style.safetensors", "2", "reference", modules=["transformer_blocks.0.attn1.to_q"])
    with pytest.raises(LoraError, match=rf"^invalid lora_weight_name={re.escape(repr(name))}: a .safetensors file name inside"):
        read_lora(str(folder), weight_name=name)
