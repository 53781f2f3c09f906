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


def test_fp8_scaled_mm_matches_its_dequantised_reference_on_cuda():
    """fp8-scaled-mm's torch._scaled_mm against the dequantised fp32 product, at the 19B/22B transformers' Linear
    shapes; prints its time beside bf16's (docs/benchmarks.md)."""
    import torch

    assert torch.cuda.is_available()
    run = subprocess.run([sys.executable, str(ROOT / "build/check_fp8_mm.py")], capture_output=True, text=True, timeout=600, cwd=ROOT)
    print(run.stdout)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
