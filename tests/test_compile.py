"""torch.compile of the transformer blocks (what build/bench_kernels.py --compile times on a GPU): the blocks
trace without Python side effects that would recompile them at every call (the dispatch point's counters and
its log-once set stay out of the graph), and the compiled step gives the eager step's output."""
from __future__ import annotations

import torch
from conftest import load_build_script

import ltx_kernels
from ltx_backend.models.transformer import build_transformer, tiny_transformer_config


def test_compiled_blocks_match_eager_and_do_not_recompile():
    bench = load_build_script("bench_kernels")
    model = build_transformer({"transformer": tiny_transformer_config("2.3")})
    bench._randomize_(model, seed=0)
    model.eval()
    inputs, _ = bench._step_inputs(model.config, 4, True, torch.device("cpu"), torch.float32)
    blocks = list(model.transformer_blocks)
    ltx_kernels.set_attention_backend("sdpa")
    try:
        with torch.inference_mode():
            eager = model(*inputs)
        torch._dynamo.reset()
        for i, block in enumerate(blocks):
            model.transformer_blocks[i] = torch.compile(block, backend="eager")
        with torch.inference_mode():
            first = model(*inputs)
        with torch._dynamo.config.patch(error_on_recompile=True), torch.inference_mode():
            second = model(*inputs)  # raises if any guard (a counter, a logged-once set) changed
    finally:
        for i, block in enumerate(blocks):
            model.transformer_blocks[i] = block
        ltx_kernels.set_attention_backend("auto")
        torch._dynamo.reset()
    for a, b, c in zip(eager, first, second):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6) and torch.equal(b, c)
