"""Which LoRAs each stage's transformer weights carry: the user LoRA in every stage, composed with the
distilled LoRA in stage 2 (and the HQ pipeline's stage 1), in-process and in the served denoiser's plan."""
from __future__ import annotations

import pytest
import torch

from conftest import load_build_script
from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.lora import read_lora
from ltx_backend.loading.sources import open_model
from ltx_backend.pipelines.registry import ONE_STAGE, TWO_STAGE, TWO_STAGE_HQ, spec_of
from ltx_backend.runtime.stage_weights import stage_weights
from ltx_backend.runtime.weight_plan import weight_plan

LAYER = "transformer_blocks.0.attn1.to_q"


@pytest.fixture(scope="module")
def loras(tiny_checkpoints, tmp_path_factory):
    maker = load_build_script("make_tiny_checkpoints")
    folder = tmp_path_factory.mktemp("loras")
    user = read_lora(str(maker.make_tiny_lora(folder / "user.safetensors", "2.3", key_format="diffusers", seed=1)))
    distilled = read_lora(str(maker.make_tiny_lora(folder / "distilled.safetensors", "2.3", key_format="reference", seed=2)))
    return user, distilled


def _delta(lora, scale):
    layer = lora.layers[LAYER]
    return scale * (layer.up.float() @ layer.down.float()) * (1.0 if layer.alpha is None else layer.alpha / layer.down.shape[0])


def test_user_lora_in_every_stage_and_distilled_composed_in_stage_two(loras):
    user, distilled = loras
    assert spec_of(ONE_STAGE).stage_loras(None, [(user, 0.7)]) == {1: [(user, 0.7)]}
    assert spec_of(TWO_STAGE).stage_loras(distilled, [(user, 0.7)]) == {1: [(user, 0.7)], 2: [(user, 0.7), (distilled, 1.0)]}
    assert spec_of(TWO_STAGE_HQ).stage_loras(distilled, [(user, 0.7)]) == {1: [(user, 0.7), (distilled, 0.25)], 2: [(user, 0.7), (distilled, 0.5)]}


@pytest.mark.parametrize("mode", ["snapshot", "resident", "original"])
def test_stage_weights_hold_base_plus_the_stage_loras(tiny_checkpoints, loras, mode):
    user, distilled = loras
    source = open_model(str(tiny_checkpoints["2.3"]))
    base = source.load("transformer", torch.device("cpu"), torch.float32).get_submodule(LAYER).weight.detach().clone()
    plan = weight_plan("2.3", [TWO_STAGE], distilled, [(user, 0.7)])
    weights = stage_weights(lambda: source.load("transformer", torch.device("cpu"), torch.float32), plan.weights, mode)
    stage2 = weights.model(plan.key(TWO_STAGE, 2)).get_submodule(LAYER).weight.detach().clone()
    stage1 = weights.model(plan.key(TWO_STAGE, 1)).get_submodule(LAYER).weight.detach().clone()
    torch.testing.assert_close(stage1, base + _delta(user, 0.7), rtol=0, atol=1e-6)
    torch.testing.assert_close(stage2, base + _delta(user, 0.7) + _delta(distilled, 1.0), rtol=0, atol=1e-6)


def test_served_plan_shares_identical_weight_sets_and_splits_by_stage(loras):
    user, distilled = loras
    classes = (ONE_STAGE, TWO_STAGE, TWO_STAGE_HQ)
    plan = weight_plan("2.3", classes, distilled, [(user, 0.7)])
    assert plan.key(ONE_STAGE, 1) == plan.key(TWO_STAGE, 1)  # one weight set, not two
    assert len({plan.key(c, s) for c, s in plan.route}) == 4 == len(plan.weights)  # base+user, +distilled@1, @0.25, @0.5
    assert plan.weights[plan.key(TWO_STAGE, 2)] == [(user, 0.7), (distilled, 1.0)]
    stage2 = plan.for_stages([2])
    assert {s for _, s in stage2.route} == {2} and len(stage2.weights) == 2
    with pytest.raises(InvalidRequest, match=r"invalid pipeline_class_name='LTX2Pipeline': .*stage 2 asked"):
        plan.key(ONE_STAGE, 2)
    ltx2 = weight_plan("2", classes, distilled)  # no HQ pipeline for LTX-2: left out
    assert {c for c, _ in ltx2.route} == {ONE_STAGE, TWO_STAGE}
    with pytest.raises(ValueError, match="needs the distilled LoRA"):
        weight_plan("2", (TWO_STAGE,), None)


@pytest.mark.parametrize("mode", ["snapshot", "original"])
def test_a_switch_that_fails_part_way_is_redone_in_full(tiny_checkpoints, loras, monkeypatch, mode):
    """Out of memory in the middle of a merge (simulated: the merge raises after the first LoRA): the next
    request's switch still gives exact stage weights, for either stage, in either switching mode."""
    import ltx_backend.runtime.stage_weights as stage_weights_module

    user, distilled = loras
    source = open_model(str(tiny_checkpoints["2.3"]))
    base = source.load("transformer", torch.device("cpu"), torch.float32).get_submodule(LAYER).weight.detach().clone()
    plan = weight_plan("2.3", [TWO_STAGE], distilled)  # stage 1 is the bare base: stage 2 is merged in place
    weights = stage_weights(lambda: source.load("transformer", torch.device("cpu"), torch.float32), plan.weights, mode)
    real_apply = stage_weights_module.apply_loras

    def apply_then_fail(model, stage_loras, **kwargs):
        real_apply(model, stage_loras, **kwargs)  # the weights are changed ...
        raise torch.OutOfMemoryError("simulated: out of memory during the merge")  # ... and the switch fails

    monkeypatch.setattr(stage_weights_module, "apply_loras", apply_then_fail)
    with pytest.raises(torch.OutOfMemoryError):
        weights.model(plan.key(TWO_STAGE, 2))
    monkeypatch.setattr(stage_weights_module, "apply_loras", real_apply)
    stage1 = weights.model(plan.key(TWO_STAGE, 1)).get_submodule(LAYER).weight.detach().clone()
    torch.testing.assert_close(stage1, base, rtol=0, atol=0)
    stage2 = weights.model(plan.key(TWO_STAGE, 2)).get_submodule(LAYER).weight.detach().clone()
    torch.testing.assert_close(stage2, base + _delta(distilled, 1.0), rtol=0, atol=1e-6)


# ----------------------------------------------------------------------------- room for a device mode's weights


def _two_stage_weights(tiny_checkpoints, loras, mode, loads, user_loras=()):
    _, distilled = loras
    source = open_model(str(tiny_checkpoints["2.3"]))
    plan = weight_plan("2.3", [TWO_STAGE], distilled, list(user_loras))

    def load():
        loads.append(1)
        return source.load("transformer", torch.device("cpu"), torch.float32)

    return stage_weights(load, plan.weights, mode)


def test_resident_mode_is_refused_before_loading_a_transformer_that_cannot_fit(tiny_checkpoints, loras, monkeypatch):
    """After the first transformer, the second needs as much again: with less free (here: the free-memory query
    answering 1 KiB) the mode is refused, naming it, the need and what fits instead, before the second is built."""
    import ltx_backend.runtime.stage_weights as stage_weights_module

    loads = []
    monkeypatch.setattr(stage_weights_module, "free_bytes", lambda device: 1024)
    with pytest.raises(InvalidRequest, match=r"invalid device_mode='resident': the transformers of weight sets .*distilled.* need "
                       r"0\.\d GiB and this host has 0\.0 GiB free: snapshot mode holds one transformer"):
        _two_stage_weights(tiny_checkpoints, loras, "resident", loads)
    assert len(loads) == 1
    monkeypatch.setattr(stage_weights_module, "free_bytes", lambda device: 2**40)
    loads.clear()
    assert len(_two_stage_weights(tiny_checkpoints, loras, "resident", loads).keys) == 2 and len(loads) == 2


def test_snapshot_mode_is_refused_when_the_host_cannot_hold_its_copies(tiny_checkpoints, loras, monkeypatch):
    import ltx_backend.runtime.stage_weights as stage_weights_module
    from ltx_backend.loading.lora import WeightSnapshot, touched_modules

    needs = []
    check = stage_weights_module.check_room
    monkeypatch.setattr(stage_weights_module, "check_room", lambda mode, need, *rest: needs.append(need) or check(mode, need, *rest))
    monkeypatch.setattr(stage_weights_module, "host_available_bytes", lambda: 1024)
    with pytest.raises(InvalidRequest, match=r"invalid device_mode='snapshot': host copies of the \d+ weights the LoRAs touch "
                       r"\(1 of each\) need .* free: original mode keeps no copy"):
        _two_stage_weights(tiny_checkpoints, loras, "snapshot", [])
    user, distilled = loras
    model = open_model(str(tiny_checkpoints["2.3"])).load("transformer", torch.device("cpu"), torch.float32)
    touched = touched_modules([(distilled, 1.0)], model)
    assert needs == [WeightSnapshot.bytes_to_take(model, touched)] and needs[0] == WeightSnapshot.take(model, touched).nbytes > 0
    # with a user LoRA no set is the bare base: the base and each of the two sets are kept
    needs.clear()
    with pytest.raises(InvalidRequest, match=r"\(3 of each\)"):
        _two_stage_weights(tiny_checkpoints, loras, "snapshot", [], user_loras=[(user, 0.7)])
    touched = touched_modules([(user, 0.7), (distilled, 1.0)], model)
    assert needs == [3 * WeightSnapshot.bytes_to_take(model, touched)]


def test_the_host_reports_its_available_memory_and_a_container_limit_lowers_it(tmp_path, monkeypatch):
    from pathlib import Path

    import ltx_backend.runtime.device_memory as device_memory

    total = next(int(line.split()[1]) * 1024 for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:"))
    monkeypatch.setattr(device_memory, "CGROUP", tmp_path)  # no cgroup files: MemAvailable alone
    available = device_memory.host_available_bytes()
    assert 0 < available <= total
    (tmp_path / "memory.max").write_text(f"{3 * 2**20}\n")
    (tmp_path / "memory.current").write_text(f"{2**20}\n")
    (tmp_path / "memory.stat").write_text("anon 262144\nfile 786432\nshmem 262144\ninactive_file 262144\n")
    # what the container's limit leaves, its file cache but not its shared memory counted as free
    assert device_memory.host_available_bytes() == 3 * 2**20 - 2**20 + (786432 - 262144)
    (tmp_path / "memory.max").write_text("max\n")
    assert device_memory.host_available_bytes() > 2 * 2**20
