"""On a CUDA GPU: the compiled Triton kernels (not the CPU interpreter the other kernel tests use) against their
PyTorch references, at the model's shapes. Marked `gpu`: skipped where no GPU is (CI); the device machine runs
them (`pytest -m gpu`) beside build/gpu_session.sh."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import ROOT

pytestmark = pytest.mark.gpu

CHECK = """
import torch, ltx_kernels
from ltx_kernels import dispatch
torch.manual_seed(0)
ltx_kernels.set_attention_backend("triton")
for tq, tk, heads, head_dim in ((4096, 4096, 32, 128), (4096, 1024, 32, 128), (1024, 1024, 32, 64)):
    q, k, v = (torch.randn(1, t, heads * head_dim, device="cuda", dtype=torch.bfloat16) for t in (tq, tk, tk))
    before = dispatch.calls[("attention", "triton")]
    out = ltx_kernels.attention(q, k, v, heads)
    assert dispatch.calls[("attention", "triton")] == before + 1, "the Triton kernel did not run"
    error = (out.float() - ltx_kernels.reference_attention(q, k, v, heads).float()).abs().max().item()
    assert error < 2e-2, (tq, tk, heads, head_dim, error)
print("ok")
"""


def test_triton_attention_compiled_on_cuda_matches_the_reference():
    import torch

    assert torch.cuda.is_available()
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}  # compiled, not interpreted
    run = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]


FUSED_CHECK = """
import torch, ltx_kernels
from ltx_kernels import dispatch
from ltx_kernels.adaln import adaln_modulate_reference, gated_residual_reference, modulate_reference
from ltx_kernels.attention_gate import attention_gate_reference
from ltx_kernels.qk_norm_rope import qk_norm_rope_reference
torch.manual_seed(0)
ltx_kernels.set_attention_backend("triton")
for tokens, heads, head_dim in ((4096, 32, 128), (1000, 32, 64)):  # LTX-2.3's video and audio widths
    dim = heads * head_dim
    x, y = (torch.randn(2, tokens, dim, device="cuda", dtype=torch.bfloat16) for _ in range(2))
    shift, scale, gate = (0.5 * torch.randn(2, 1, dim, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    logits = torch.randn(2, tokens, heads, device="cuda", dtype=torch.bfloat16)
    w = 1 + 0.1 * torch.randn(dim, device="cuda", dtype=torch.bfloat16)
    levels = 0.5 * torch.randn(2, 2, 3, dim, device="cuda", dtype=torch.bfloat16)  # per noise level: [B, L, D] rows
    index = (torch.arange(tokens, device="cuda") >= 384).long().expand(2, -1)  # an image's tokens at level 0
    f = lambda *t: [u.float() for u in t]  # noqa: E731: the exact values, one rounding away
    g = lambda v: torch.gather(v.float(), 1, index[..., None].expand(-1, -1, dim))  # noqa: E731: per token
    cases = [
        ("adaln_modulate", lambda: ltx_kernels.adaln_modulate(x, levels[:, :, 0], levels[:, :, 1], 1e-6, index),
         adaln_modulate_reference(x.float(), g(levels[:, :, 0]), g(levels[:, :, 1]), 1e-6)),
        ("gated_residual", lambda: ltx_kernels.gated_residual(x, y, levels[:, :, 2], index),
         gated_residual_reference(*f(x, y), g(levels[:, :, 2]))),
        ("adaln_modulate", lambda: ltx_kernels.adaln_modulate(x, shift, scale, 1e-6), adaln_modulate_reference(*f(x, shift, scale), 1e-6)),
        ("modulate", lambda: ltx_kernels.modulate(x, shift, scale), modulate_reference(*f(x, shift, scale))),
        ("gated_residual", lambda: ltx_kernels.gated_residual(x, y, gate), gated_residual_reference(*f(x, y, gate))),
        ("attention_gate", lambda: ltx_kernels.attention_gate(x, logits), attention_gate_reference(*f(x, logits))),
        ("qk_norm_rope", lambda: ltx_kernels.qk_norm_rope(x, y, w, w, 1e-6)[0], qk_norm_rope_reference(*f(x, y, w, w), 1e-6)[0]),
    ]
    for op, run, exact in cases:
        before = dispatch.calls[(op, "triton")]
        out = run()
        assert dispatch.calls[(op, "triton")] == before + 1, op + ": the Triton kernel did not run"
        error = ((out.float() - exact).abs() / (exact.abs() + 1e-2)).max().item()
        assert out.dtype == torch.bfloat16 and error < 1e-2, (op, tokens, error)  # one bf16 rounding: < 2^-8
print("ok")
"""


def test_fused_elementwise_kernels_compiled_on_cuda_match_their_references():
    """adaln_modulate, modulate, gated_residual, attention_gate and qk_norm_rope compiled for the GPU, at the
    model's widths, against their references computed in fp32 (the kernels round once); the AdaLN ops with vectors
    per noise level read through an index too."""
    import torch

    assert torch.cuda.is_available()
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    run = subprocess.run([sys.executable, "-c", FUSED_CHECK], env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]


def test_fp8_scaled_mm_matches_its_dequantised_reference_on_cuda():
    """fp8-scaled-mm's torch._scaled_mm against the dequantised fp32 product, at the 19B/22B transformers' Linear
    shapes; prints its time beside bf16's (docs/benchmarks.md)."""
    import torch

    assert torch.cuda.is_available()
    run = subprocess.run([sys.executable, str(ROOT / "build/check_fp8_mm.py")], capture_output=True, text=True, timeout=600, cwd=ROOT)
    print(run.stdout)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
