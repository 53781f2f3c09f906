"""The two-stage device modes (runtime/stage_weights.py): resident, snapshot, original.

The same stage weights bit for bit in every mode, snapshot restores bit-identically, `original` releases
the stage-1 transformer before building stage 2, and the three modes give identical frames (CPU fp32).
"""
from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.lora import read_lora, touched_modules
from ltx_backend.loading.sources import open_model
from ltx_backend.pipelines.registry import TWO_STAGE
from ltx_backend.request import GenerationRequest, LoadOptions
from ltx_backend.runtime.local_components import load_pipeline
from ltx_backend.runtime.stage_weights import DEVICE_MODES, stage_weights

CPU = torch.device("cpu")


def bits(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter and buffer as raw integer bits (torch.equal on floats would let -0.0 == 0.0 pass)."""
    out = {}
    for name, t in model.state_dict().items():
        t = t.detach().cpu().contiguous()
        out[name] = t.view(torch.int32) if t.dtype == torch.float32 else t.clone()
        out[name] = out[name].clone()
    return out


def same_bits(a: dict, b: dict, names=None) -> bool:
    return all(torch.equal(a[n], b[n]) for n in (names or a.keys())) and a.keys() == b.keys()


@pytest.fixture(scope="module")
def tiny(tiny_checkpoints):
    directory = tiny_checkpoints["2"]
    source = open_model(str(directory))
    (lora_path,) = directory.glob("*distilled-lora*.safetensors")
    lora = read_lora(str(lora_path))
    return source, lora


def loader(source):
    return lambda: source.load("transformer", CPU, torch.float32)


def test_snapshot_restores_stage_one_bit_identically(tiny):
    source, lora = tiny
    base = bits(source.load("transformer", CPU, torch.float32))
    sets = {"base": [], "distilled": [(lora, 1.0)]}
    resident = stage_weights(loader(source), sets, "resident")
    stage2 = bits(resident.model("distilled"))
    snapshot = stage_weights(loader(source), sets, "snapshot")
    model = snapshot.model("base")
    touched = {f"{m}.weight" for m in touched_modules([lora], model)}
    assert touched and len(touched) < len(base)
    assert same_bits(bits(model), base)
    for _ in range(2):  # switch back and forth twice: every restore is exact
        assert snapshot.model("distilled") is model  # one transformer, weights copied in
        now = bits(model)
        assert same_bits(now, stage2)
        assert all(not torch.equal(now[n], base[n]) for n in touched)
        assert snapshot.model("base") is model
        assert same_bits(bits(model), base)
    # only the touched tensors are kept, one host copy of their base values: stage 2 is merged on the device
    assert list(snapshot._snapshots) == ["base"]
    for snap in snapshot._snapshots.values():
        assert set(snap.tensors) == touched and snap.on_host
    assert len(snapshot.switch_seconds) == 4


def test_hq_stage_weights_are_the_same_in_every_mode(tiny):
    """HQ: the distilled LoRA at 0.25 in stage 1 and 0.5 in stage 2; every mode holds the same bits."""
    source, lora = tiny
    sets = {"stage1": [(lora, 0.25)], "stage2": [(lora, 0.5)]}
    weights = {mode: stage_weights(loader(source), sets, mode) for mode in DEVICE_MODES}
    assert sorted(weights["snapshot"]._snapshots) == ["stage1", "stage2"]  # no set is the bare base: both copied in
    for stage in ("stage2", "stage1", "stage2"):
        expected = bits(weights["resident"].model(stage))
        for mode in ("snapshot", "original"):
            assert same_bits(bits(weights[mode].model(stage)), expected), (mode, stage)
    assert not same_bits(bits(weights["resident"].model("stage1")), bits(weights["resident"].model("stage2")))


def test_resident_keeps_two_transformers_original_releases_before_building(tiny):
    source, lora = tiny
    sets = {"base": [], "distilled": [(lora, 1.0)]}
    resident = stage_weights(loader(source), sets, "resident")
    assert resident.model("base") is not resident.model("distilled")
    assert resident.switch_seconds == []  # no switching

    alive_at_load: list[bool] = []
    previous: list[weakref.ref] = []

    def load():
        gc.collect()
        alive_at_load.append(bool(previous) and previous[-1]() is not None)
        return source.load("transformer", CPU, torch.float32)

    original = stage_weights(load, sets, "original")
    previous.append(weakref.ref(original.model("base")))
    stage2 = original.model("distilled")
    previous.append(weakref.ref(stage2))
    del stage2
    original.model("base")
    assert alive_at_load == [False, False, False]  # each build happened after the previous transformer was freed
    assert len(original.switch_seconds) == 2


def test_bad_device_mode_is_named(tiny):
    source, _ = tiny
    with pytest.raises(InvalidRequest, match="invalid device_mode='shared': one of resident, snapshot, original"):
        stage_weights(loader(source), {"base": []}, "shared")
    with pytest.raises(InvalidRequest, match="invalid device_mode='x'"):
        load_pipeline(source, CPU, torch.float32, pipeline_class_name=TWO_STAGE, device_mode="x")


@pytest.mark.parametrize("quantization", [None, "fp8-cast"])
def test_three_modes_give_identical_frames(tiny_checkpoints, quantization):
    """Two-stage LTX-2 in each mode; snapshot and original serve a second request, which starts from the
    stage-2 weights the first left behind. Every output is bit-identical, with the transformer in full precision
    or in fp8 (the distilled LoRA merged into fp8 weights for stage 2, #14). (HQ's stage weights, distilled LoRA
    in both stages, are compared bit for bit across modes above.)"""
    settings = dict(prompt="A paper boat on a puddle", seed=11, width=64, height=64, num_frames=9, num_inference_steps=2)
    request = GenerationRequest(**settings, pipeline_class_name=TWO_STAGE).resolve("2")
    results = {}
    for mode, requests in (("resident", 1), ("snapshot", 2), ("original", 2)):
        pipeline = load_pipeline(str(tiny_checkpoints["2"]), CPU, torch.float32, pipeline_class_name=TWO_STAGE, device_mode=mode,
                                 options=LoadOptions(quantization=quantization))
        results[mode] = [pipeline(request) for _ in range(requests)]
        components = pipeline.components
        assert components.stage_weights.current == components.plan.key(TWO_STAGE, 2)
    reference = results["resident"][0]
    assert reference.frames.shape == (9, 64, 64, 3) and reference.frames.std() > 1.0
    for mode, outputs in results.items():
        for output in outputs:
            assert np.array_equal(output.frames, reference.frames), mode
            assert np.array_equal(output.audio, reference.audio), mode


def test_a_stage_lora_that_does_not_fit_fails_at_load_in_every_mode(tiny):
    """Snapshot mode merges stage 2 on the device at each switch; the LoRA is still checked when loading."""
    from ltx_backend.loading.lora import LoraFile, LoraLayer, LoraShapeError

    source, _ = tiny
    wrong = LoraFile("wrong", {"transformer_blocks.0.attn1.to_q": LoraLayer(down=torch.zeros(2, 5), up=torch.zeros(32, 2))})
    for mode in DEVICE_MODES:
        with pytest.raises(LoraShapeError, match="LoRA wrong does not fit layer transformer_blocks.0.attn1.to_q"):
            stage_weights(loader(source), {"base": [], "wrong": [(wrong, 1.0)]}, mode)
