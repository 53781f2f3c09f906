"""torch.compile of the transformer blocks (`--enable-torch-compile`, models/transformer/compile.py).

The blocks trace without Python side effects that would recompile them at every call (the dispatch point's
counters and log-once set stay out of the graph); blocks with the same skip pattern share one graph (no block
index reaches a block); and the compiled transformer reads its weights as inputs, so the device modes' weight
switches reach it: a compiled two-stage run, twice in snapshot mode, gives the eager run's video.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch._dynamo.utils import counters

import ltx_kernels
from conftest import load_build_script
from ltx_backend.models.transformer import build_transformer
from ltx_backend.models.transformer.compile import compile_blocks
from ltx_backend.pipelines.registry import TWO_STAGE
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline
from ltx_testing.tiny_configs import tiny_transformer_config

CPU = torch.device("cpu")


@pytest.fixture
def sdpa():
    ltx_kernels.set_attention_backend("sdpa")
    torch._dynamo.reset()
    yield
    ltx_kernels.set_attention_backend("auto")
    torch._dynamo.reset()


def _eager_then_compiled(layers: int, seed: int, timesteps: str = "per_token"):
    """A tiny LTX-2.3 transformer's step (four guidance passes batched: cond, uncond, STG on the last block,
    modality isolation) eagerly, then with its blocks compiled (backend eager, fresh compile counters):
    (model, inputs, eager outputs, compiled outputs). timesteps: bench_kernels.TIMESTEP_FORMS."""
    bench = load_build_script("bench_kernels")
    config = tiny_transformer_config("2.3")
    config["num_layers"] = layers
    model = build_transformer({"transformer": config})
    bench._randomize_(model, seed=seed)
    model.eval()
    inputs, _ = bench._step_inputs(model.config, 4, True, CPU, torch.float32, timesteps=timesteps)
    with torch.inference_mode():
        eager = model(*inputs)
    compile_blocks(model, backend="eager")
    counters.clear()
    with torch.inference_mode():
        compiled = model(*inputs)
    return model, inputs, eager, compiled


@pytest.mark.parametrize("timesteps", ["per_token", "per_element", "image_per_level"])
def test_blocks_with_the_same_skips_share_one_graph_and_do_not_recompile(sdpa, timesteps):
    model, inputs, eager, first = _eager_then_compiled(layers=6, seed=0, timesteps=timesteps)
    config = {**tiny_transformer_config("2.3"), "num_layers": 6}
    assert counters["stats"]["unique_graphs"] == 2  # five plain blocks, one STG block
    with torch._dynamo.config.patch(error_on_recompile=True), torch.inference_mode():
        second = model(*inputs)  # raises if any guard (a counter, a logged-once set, an index) changed
    for a, b, c in zip(eager, first, second):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6) and torch.equal(b, c)
    assert [n for n, _ in model.named_parameters()] == [n for n, _ in build_transformer({"transformer": config}).named_parameters()]


def test_bad_compile_mode_is_named(tiny_checkpoints):
    with pytest.raises(ValueError, match="invalid torch_compile_mode='fast': one of default, reduce-overhead"):
        compile_blocks(build_transformer({"transformer": tiny_transformer_config("2")}), "fast")
    # CUDA graphs and a transformer rebuilt at every stage switch: refused before anything loads
    with pytest.raises(ValueError, match="invalid torch_compile_mode='reduce-overhead': default or max-autotune-no-cudagraphs with device_mode 'original'"):
        load_pipeline(str(tiny_checkpoints["2"]), CPU, torch.float32, pipeline_class_name=TWO_STAGE,
                      device_mode="original", torch_compile_mode="reduce-overhead")


@pytest.mark.slow
def test_compiled_two_stage_snapshot_gives_the_eager_video(tiny_checkpoints, sdpa):
    """Inductor (the product's backend): stage 1, the switch to the distilled weights, stage 2; then a
    second request, which switches back. Were weights folded into the compiled code as constants, the
    second request's stage 1 would run on stage-2 weights and its video would differ."""
    settings = dict(prompt="A paper boat on a puddle", seed=11, width=64, height=64, num_frames=9, num_inference_steps=2)
    request = GenerationRequest(**settings, pipeline_class_name=TWO_STAGE).resolve("2")
    path = str(tiny_checkpoints["2"])
    eager = load_pipeline(path, CPU, torch.float32, pipeline_class_name=TWO_STAGE, device_mode="snapshot")(request)
    compiled = load_pipeline(path, CPU, torch.float32, pipeline_class_name=TWO_STAGE, device_mode="snapshot",
                             torch_compile_mode="default")
    outputs = [compiled(request) for _ in range(2)]
    assert eager.frames.std() > 1.0
    for output in outputs:
        difference = np.abs(output.frames.astype(np.int16) - eager.frames.astype(np.int16))
        assert difference.max() <= 2 and difference.mean() < 0.05, (difference.max(), difference.mean())
        assert np.allclose(output.audio, eager.audio, atol=1e-4)


@pytest.fixture
def triton_backend():
    ltx_kernels.set_attention_backend("triton")  # TRITON_INTERPRET=1 (conftest): the kernels run on CPU
    torch._dynamo.reset()
    yield
    ltx_kernels.set_attention_backend("auto")
    torch._dynamo.reset()


@pytest.mark.slow
def test_triton_kernels_trace_as_opaque_ops_under_compile(triton_backend):
    """Under torch.compile the Triton launchers run as the custom ops ltx_kernels::* (the interpreter, the
    autotuner and the launch code stay out of the graph): the compiled step gives the eager kernels' output. An
    image-to-video step: the video's AdaLN vectors per noise level, through the index (per-token vectors: the
    opcheck samples)."""
    _, _, eager, compiled = _eager_then_compiled(layers=3, seed=1, timesteps="image_per_level")
    assert counters["stats"]["unique_graphs"] == 2 and not counters["graph_break"]
    for a, b in zip(eager, compiled):
        assert torch.equal(a, b)


def _op_samples():
    from ltx_kernels.triton_adaln import adaln_modulate_op, gated_residual_op, modulate_op
    from ltx_kernels.triton_attention import attention_op
    from ltx_kernels.triton_attention_gate import attention_gate_op
    from ltx_kernels.triton_qk_norm_rope import qk_norm_rope_op

    g = torch.Generator().manual_seed(0)

    def r(*shape, dtype=torch.float32):
        return torch.randn(*shape, generator=g).to(dtype)

    bias = torch.zeros(2, 1, 1, 7)
    bias[:, :, :, :3] = float("-inf")
    cos, sin = r(2, 2, 5, 4), r(2, 2, 5, 4)  # split tables [B, H, T, D/2] for 2 heads x 8
    index = torch.tensor([[0, 2, 1, 1, 2], [1, 1, 0, 2, 2]])  # each token's noise level: a row of 3
    return [
        (attention_op, (r(2, 5, 16), r(2, 7, 16), r(2, 7, 16), 2, bias)),
        (attention_op, (r(1, 9, 32, dtype=torch.bfloat16), r(1, 9, 32, dtype=torch.bfloat16), r(1, 9, 32, dtype=torch.bfloat16), 2, None)),
        (qk_norm_rope_op, (r(2, 5, 16), r(2, 5, 16), r(16), r(16), 1e-6, cos, sin, None, None, "split")),
        (qk_norm_rope_op, (r(2, 5, 16), r(2, 3, 16), r(16), r(16), None, None, None, None, None, "split")),
        (qk_norm_rope_op, (r(2, 5, 16, dtype=torch.bfloat16), r(2, 5, 16, dtype=torch.bfloat16), None, None, 1e-6,
                           r(2, 5, 16), r(2, 5, 16), r(2, 5, 16), r(2, 5, 16), "interleaved")),
        (adaln_modulate_op, (r(2, 5, 16), r(2, 1, 16), r(2, 1, 16), 1e-6, None)),
        (adaln_modulate_op, (r(2, 5, 16, dtype=torch.bfloat16), r(2, 5, 16), r(1, 1, 16), None, None)),
        (adaln_modulate_op, (r(2, 5, 16), r(2, 3, 16), r(1, 3, 16), 1e-6, index)),  # per noise level
        (gated_residual_op, (r(2, 5, 16), r(2, 5, 16, dtype=torch.bfloat16), r(2, 1, 16), None)),
        (gated_residual_op, (r(2, 5, 16), r(2, 5, 16), r(2, 3, 16, dtype=torch.bfloat16), index[:1])),
        (modulate_op, (r(2, 5, 16, dtype=torch.bfloat16), r(2, 1, 16, dtype=torch.bfloat16), r(2, 5, 16))),
        (attention_gate_op, (r(2, 5, 16), r(2, 5, 4))),
        (attention_gate_op, (r(1, 3, 32, dtype=torch.bfloat16), r(1, 3, 2, dtype=torch.bfloat16))),
    ]


@pytest.mark.parametrize("index", range(13))
def test_kernel_ops_pass_torch_opcheck(index):
    """torch.library.opcheck: the registered schema, and the fake implementation (shape, dtype, strides) that
    torch.compile traces with, agree with what the kernel returns."""
    op, args = _op_samples()[index]
    torch.library.opcheck(op, args, test_utils=("test_schema", "test_faketensor", "test_aot_dispatch_static"))
