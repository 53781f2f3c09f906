#!/usr/bin/env python
"""On a GPU with fp8 matmuls: fp8-scaled-mm's Linear (torch._scaled_mm through ltx_kernels.fp8_linear) against
its dequantised fp32 reference at the 19B / 22B transformers' Linear shapes, and its time beside bf16's; the
fused activation quantisation (Triton) against torch's, bit for bit, and both times.
Prints a line per shape, then "ok"; exits non-zero on a mismatch. Run by tests/test_gpu.py and
build/gpu_session.sh (section fp8-mm)."""
from __future__ import annotations

import sys
import time

import torch

import ltx_kernels
from ltx_backend.models.fp8_linear import fp8_scaled_linear
from ltx_kernels import dispatch

SHAPES = ((4096, 4096, 4096), (4096, 4096, 16384), (4096, 16384, 4096))  # tokens, in, out: q/k/v/out, ff up, ff down


def milliseconds(fn, repeats: int = 20) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats * 1e3


def main() -> int:
    device = torch.device("cuda")
    if not ltx_kernels.scaled_mm_supported(device):
        print(f"no fp8 matmuls here ({torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA GPU'})", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    for tokens, d_in, d_out in SHAPES:
        linear = torch.nn.Linear(d_in, d_out, device=device, dtype=torch.bfloat16)
        layer = fp8_scaled_linear(linear)
        weight, scale = ltx_kernels.quantize_fp8(linear.weight.data)
        layer.weight = torch.nn.Parameter(weight, requires_grad=False)
        layer.weight_scale = torch.nn.Parameter(scale, requires_grad=False)
        layer.bias = torch.nn.Parameter(linear.bias.data, requires_grad=False)
        x = torch.randn(1, tokens, d_in, device=device, dtype=torch.bfloat16)
        with torch.inference_mode():
            before = dispatch.calls[("fp8_linear", "scaled_mm")]
            out = layer(x)
            if dispatch.calls[("fp8_linear", "scaled_mm")] != before + 1:
                print("torch._scaled_mm did not run", file=sys.stderr)
                return 1
            expected = ltx_kernels.fp8_linear_reference(x, layer.weight, layer.weight_scale, layer.bias).float()
            error = ((out.float() - expected).abs().max() / expected.abs().max()).item()
            bf16, fp8 = milliseconds(lambda: linear(x)), milliseconds(lambda: layer(x))
            # the activation quantisation alone: the fused Triton kernel (what fp8_linear runs) vs torch's ops
            x8, x_scale = ltx_kernels.quantize_fp8(x)
            r8, r_scale = ltx_kernels.quantize_fp8_reference(x)
            same_bits = torch.equal(x8.view(torch.uint8), r8.view(torch.uint8)) and torch.equal(x_scale, r_scale)
            fused, unfused = milliseconds(lambda: ltx_kernels.quantize_fp8(x)), milliseconds(lambda: ltx_kernels.quantize_fp8_reference(x))
        print(f"{torch.cuda.get_device_name()} [{tokens}x{d_in}] @ [{d_in}x{d_out}]: bf16 {bf16:.3f} ms, fp8-scaled-mm {fp8:.3f} ms "
              f"({bf16 / fp8:.2f}x), relative error vs the dequantised reference {error:.2e}; quantising x: Triton {fused:.3f} ms "
              f"vs torch {unfused:.3f} ms, {'the same bits' if same_bits else 'BITS DIFFER'}", flush=True)
        if not error < 2e-2 or not same_bits:
            return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
