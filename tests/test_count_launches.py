"""build/count_launches.py counts what a GPU would launch for one transformer call: one launch per Linear, one per
Triton kernel launch (none of the interpreter's own ops), F.rms_norm as one fused op, and the 48-block total."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import load_build_script

pytestmark = pytest.mark.slow


def test_one_ltx2_block_launches_each_linear_each_kernel_and_fused_norms_once():
    from ltx_backend.models.transformer import build_transformer
    from ltx_testing.random_weights import materialize
    from ltx_testing.tiny_configs import tiny_transformer_config

    counted = load_build_script("count_launches").count("2", passes=2)
    block = materialize(lambda: build_transformer({"transformer": tiny_transformer_config("2")}), "meta", torch.float32).transformer_blocks[0]
    ops = counted["block_ops"]
    assert ops["addmm"] == sum(isinstance(m, nn.Linear) for m in block.modules())
    assert ops["triton"] == counted["kernels_per_block"] > 0  # the fused ops ran their kernels
    assert ops["_fused_rms_norm"] > 0 and not {"pow", "rsqrt", "mean"} & set(ops)  # norms counted once, fused
    assert not {"set_", "new_empty", "copy_", "view", "promote_types"} & set(ops)  # no interpreter work, no views
    # the AdaLN vectors come made for every block at once: the only adds left are LTX-2's two text-attention residuals
    assert ops["add"] == 2 and "mul" not in ops
    assert counted["per_block"] == sum(ops.values()) == counted["aten_per_block"] + counted["kernels_per_block"]
    assert counted["last_block"] == counted["per_block"]  # 2 passes: no STG block
    assert counted["total"] == 48 * counted["per_block"] + counted["rest"] and counted["rest"] > 0
    # an image-to-video step, the video's AdaLN vectors per noise level: a block launches as for text-to-video (no
    # per-token vectors made); per token, each block adds them
    per_level = load_build_script("count_launches").count("2", passes=2, timesteps="image_per_level")
    assert per_level["block_ops"] == ops
    per_token = load_build_script("count_launches").count("2", passes=2, timesteps="image_per_token")
    assert per_token["block_ops"]["add"] == ops["add"] + 2 and per_token["total"] > per_level["total"]
