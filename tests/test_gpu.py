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


SCALED_MM_CHECK = """
import time, torch, ltx_kernels
from ltx_kernels import dispatch
from ltx_backend.models.fp8_linear import fp8_scaled_linear
torch.manual_seed(0)
assert ltx_kernels.scaled_mm_supported(torch.device("cuda")), torch.cuda.get_device_name()
for tokens, d_in, d_out in ((4096, 4096, 4096), (4096, 4096, 16384), (4096, 16384, 4096)):
    linear = torch.nn.Linear(d_in, d_out, device="cuda", dtype=torch.bfloat16)
    layer = fp8_scaled_linear(linear).to("cuda")
    w8, scale = ltx_kernels.quantize_fp8(linear.weight.data)
    layer.weight = torch.nn.Parameter(w8, requires_grad=False)
    layer.weight_scale = torch.nn.Parameter(scale, requires_grad=False)
    layer.bias = torch.nn.Parameter(linear.bias.data, requires_grad=False)
    x = torch.randn(1, tokens, d_in, device="cuda", dtype=torch.bfloat16)
    before = dispatch.calls[("fp8_linear", "scaled_mm")]
    with torch.inference_mode():
        out = layer(x)
        assert dispatch.calls[("fp8_linear", "scaled_mm")] == before + 1, "torch._scaled_mm did not run"
        expected = ltx_kernels.fp8_linear_reference(x, layer.weight, layer.weight_scale, layer.bias)
        error = ((out.float() - expected.float()).abs().max() / expected.float().abs().max()).item()
        assert error < 2e-2, (tokens, d_in, d_out, error)
        times = {}
        for name, fn in (("bf16", lambda: linear(x)), ("fp8", lambda: layer(x))):
            for _ in range(3):
                fn()
            torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(20):
                fn()
            torch.cuda.synchronize()
            times[name] = (time.perf_counter() - start) / 20 * 1e3
    print(f"{torch.cuda.get_device_name()} [{tokens}x{d_in}] @ [{d_in}x{d_out}]: bf16 {times['bf16']:.3f} ms, fp8-scaled-mm {times['fp8']:.3f} ms, relative error {error:.2e}")
print("ok")
"""


def test_fp8_scaled_mm_matches_its_dequantised_reference_on_cuda():
    """fp8-scaled-mm's torch._scaled_mm against the dequantised fp32 product, at the 19B/22B transformers' Linear
    shapes; prints its time beside bf16's (docs/benchmarks.md)."""
    import torch

    assert torch.cuda.is_available()
    run = subprocess.run([sys.executable, "-c", SCALED_MM_CHECK], capture_output=True, text=True, timeout=600, cwd=ROOT)
    print(run.stdout)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
