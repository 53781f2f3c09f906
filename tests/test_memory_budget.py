"""build/memory_budget.py: the weight bytes of each device mode, from the model structures on the meta device."""
from __future__ import annotations

import torch
from torch import nn

from conftest import load_build_script


def _tiny_transformer(version: str) -> nn.Module:
    from ltx_backend.models.transformer import build_transformer
    from ltx_testing.tiny_configs import tiny_transformer_config

    with torch.device("meta"):
        return build_transformer({"transformer": tiny_transformer_config(version)})


def test_fp8_keeps_the_cast_map_tensors_in_one_byte_and_the_rest_in_two():
    budget = load_build_script("memory_budget")
    from ltx_backend.loading.quantization import cast_at_load, multiplied_in_fp8
    from ltx_testing.random_weights import RandomWeightsModel

    model = _tiny_transformer("2.3")
    tensors = dict((*model.named_parameters(), *model.named_buffers()))
    every = sum(t.numel() for t in tensors.values())
    cast = sum(t.numel() for name, t in tensors.items() if cast_at_load(name))
    assert 0 < cast < every
    source = RandomWeightsModel("2.3", "tiny")
    assert budget.module_bytes(budget.transformer(source, None)) == 2 * every
    assert budget.module_bytes(budget.transformer(source, "fp8-cast")) == 2 * every - cast
    scaled = [t.numel() for name, t in tensors.items() if name.endswith(".weight") and multiplied_in_fp8(name.rsplit(".", 1)[0])]
    assert budget.module_bytes(budget.transformer(source, "fp8-scaled-mm")) == 2 * every - sum(scaled) + 4 * len(scaled)


def test_a_lora_merge_snapshots_every_block_linear_and_holds_one_linear_at_a_time():
    budget = load_build_script("memory_budget")
    from ltx_testing.random_weights import RandomWeightsModel

    model = _tiny_transformer("2")
    linears = [m for n, m in model.named_modules() if n.startswith("transformer_blocks.") and isinstance(m, nn.Linear)]
    source = RandomWeightsModel("2", "tiny")
    lora = source.distilled_lora("meta", torch.bfloat16, rank=4)
    merge = budget.lora_merge(budget.transformer(source, None), lora)
    assert merge.snapshot == 2 * sum(m.weight.numel() for m in linears)
    assert merge.factors == 2 * 4 * sum(m.in_features + m.out_features for m in linears)
    largest = max(linears, key=lambda m: m.weight.numel())
    assert merge.transient >= 10 * largest.weight.numel() and merge.transient < merge.snapshot
    assert budget.lora_merge(budget.transformer(source, "fp8-cast"), lora).snapshot == merge.snapshot // 2


def test_the_full_size_table_puts_two_transformers_on_the_gpu_in_resident_mode(capsys):
    budget = load_build_script("memory_budget")
    assert budget.main(["--version", "2.3"]) == 0
    cells = [[cell.strip() for cell in line.split("|")[1:-1]] for line in capsys.readouterr().out.splitlines() if line.startswith("| ")]
    gpu = {(row[0], row[1]): float(row[2]) for row in cells if row[0] in ("snapshot", "resident", "original")}
    assert set(gpu) == {(mode, q) for mode in ("snapshot", "resident", "original") for q in ("bf16", "fp8-cast", "fp8-scaled-mm")}
    transformer = gpu[("resident", "bf16")] - gpu[("original", "bf16")]
    assert 33 < transformer < 38  # LTX-2.3's 19B-parameter transformer in bf16, GiB
    h100 = budget.GPUS["H100 80GB"]
    assert gpu[("resident", "bf16")] > h100 > gpu[("snapshot", "bf16")]  # resident bf16 needs more than an H100 with Gemma on it
