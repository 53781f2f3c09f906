"""fp8-scaled-mm's activation quantisation kernel (Triton, CPU interpreter) against its PyTorch reference: the
same fp8 bits and the same scale, for every dtype the models pass, across block boundaries, on every value
e4m3fn holds and every midpoint between two of them (ties round to even), on subnormals and signed zeros; and
the torch._scaled_mm call the GPUs run, through torch's CPU implementation of that op, against the reference.

TRITON_INTERPRET is set before the kernels' modules import triton (they do so lazily).
"""
from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

import ltx_kernels  # noqa: E402
from ltx_kernels import dispatch  # noqa: E402
from ltx_kernels.fp8_linear import FP8, FP8_MAX, fp8_linear_reference, quantize_fp8_reference, scaled_mm_linear  # noqa: E402


def _kernel():
    from ltx_kernels.triton_fp8_quantize import BLOCK, triton_quantize_fp8

    return triton_quantize_fp8, BLOCK


def assert_same(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    quantize, _ = _kernel()
    out, scale = quantize(x)
    expected, expected_scale = quantize_fp8_reference(x)
    assert out.dtype == FP8 and out.shape == x.shape and scale.dtype == torch.float32 and scale.shape == ()
    assert torch.equal(scale, expected_scale)
    differ = out.view(torch.uint8) != expected.view(torch.uint8)
    assert not differ.any(), f"{int(differ.sum())} of {x.numel()} values differ, e.g. x / s = {(x.float() / scale)[differ][:4].tolist()}"
    return out, scale


def fp8_values() -> torch.Tensor:
    """Every finite value of float8_e4m3fn, ascending (both zeros)."""
    values = torch.arange(256, dtype=torch.uint8).view(FP8).float()
    return values[~values.isnan()].sort().values


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", [(7, 33), (3, 50, 64)], ids=["7x33", "3x50x64"])
def test_random_activations_quantise_as_the_reference(dtype, shape):
    """Magnitudes over nine decades in every row: most values land far below the largest, many in e4m3fn's
    subnormals or at zero (with their sign)."""
    g = torch.Generator().manual_seed(len(shape) * 10 + dtype.itemsize)
    x = (torch.randn(shape, generator=g) * torch.logspace(-6, 3, shape[-1])).to(dtype)
    out, scale = assert_same(x)
    assert scale.item() == pytest.approx(x.abs().max().float().item() / FP8_MAX)
    assert (out.view(torch.uint8) == 0x80).any()  # negative zeros kept
    assert out.float().abs().max().item() == FP8_MAX


def test_blocks_and_their_boundaries():
    """More than one block, the largest value in the last, partial one (the atomic max across programs)."""
    _, block = _kernel()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2 * block + 77, generator=g)
    x[-5] = 1000.0
    _, scale = assert_same(x.to(torch.bfloat16))
    assert scale.item() == pytest.approx(1000.0 / FP8_MAX)


def test_every_fp8_value_and_every_tie_rounds_as_the_reference():
    """At scale 1 (amax 448): each value e4m3fn holds comes back exactly; each midpoint between neighbours rounds
    to the even one, as torch's conversion does; both signs."""
    values = fp8_values()
    midpoints = (values[1:] + values[:-1]) / 2
    x = torch.cat([values, midpoints, -midpoints, torch.tensor([-0.0])])
    out, scale = assert_same(x)
    assert scale.item() == 1.0
    assert torch.equal(out[: len(values)].float(), values)
    assert torch.equal(out[-1:].view(torch.uint8), torch.tensor([0x80], dtype=torch.uint8))


def test_all_zeros_keep_a_finite_scale():
    out, scale = assert_same(torch.zeros(10, 3))
    assert scale.item() == pytest.approx(1e-12) and not out.float().any()


def test_the_dispatch_point_runs_the_kernel_where_triton_runs():
    x = torch.randn(4, 16, generator=torch.Generator().manual_seed(5))
    ltx_kernels.set_attention_backend("triton")
    before = dispatch.calls[("quantize_fp8", "triton")]
    out, scale = ltx_kernels.quantize_fp8(x)
    assert dispatch.calls[("quantize_fp8", "triton")] == before + 1
    expected, expected_scale = quantize_fp8_reference(x)
    assert torch.equal(out.view(torch.uint8), expected.view(torch.uint8)) and torch.equal(scale, expected_scale)
    ltx_kernels.set_attention_backend("sdpa")
    before = dispatch.calls[("quantize_fp8", "reference")]
    ltx_kernels.quantize_fp8(x)
    assert dispatch.calls[("quantize_fp8", "reference")] == before + 1


def test_under_torch_compile_it_is_one_opaque_op():
    """torch.compile traces the op's fake (shapes and dtypes) and runs the kernel: the same bits as eager."""
    quantize, _ = _kernel()
    x = torch.randn(5, 24, generator=torch.Generator().manual_seed(6)).to(torch.bfloat16)
    torch._dynamo.reset()
    compiled = torch.compile(lambda t: quantize(t * 2), backend="aot_eager", fullgraph=True)
    out, scale = compiled(x)
    expected, expected_scale = quantize_fp8_reference(x * 2)
    assert torch.equal(out.view(torch.uint8), expected.view(torch.uint8)) and torch.equal(scale, expected_scale)


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide")  # inf / inf, in the interpreter
def test_inf_and_nan_are_not_hidden():
    """An inf quantises as the reference's (scale inf: the finite values to 0, the inf to NaN, whose sign bit follows
    the device's division); a NaN makes the scale inf and stays NaN, so the fp8 product is NaN as the reference's
    (whose scale is NaN)."""
    quantize, _ = _kernel()
    x = torch.tensor([1.0, -2.0, float("inf"), 3.0])
    out, scale = quantize(x)
    expected, expected_scale = quantize_fp8_reference(x)
    assert scale.item() == expected_scale.item() == float("inf")
    assert torch.equal(out.view(torch.uint8)[[0, 1, 3]], expected.view(torch.uint8)[[0, 1, 3]])
    assert out.float()[2].isnan() and expected.float()[2].isnan()
    out, scale = quantize(torch.tensor([1.0, float("nan"), -2.0, 3.0]))
    assert scale.item() == float("inf")
    assert out.float()[1].isnan() and out.float()[[0, 2, 3]].eq(0).all()
    _, reference_scale = quantize_fp8_reference(torch.tensor([1.0, float("nan")]))
    assert reference_scale.isnan()


@pytest.mark.parametrize("with_bias", [True, False], ids=["bias", "no-bias"])
def test_the_scaled_mm_call_computes_the_dequantised_product(with_bias):
    """fp8_linear's GPU branch (scaled_mm_linear) run by torch's CPU _scaled_mm: x [2, 5, 64] bf16 flattened to
    rows and back, the weight [48, 64] passed transposed, its scale and x's applied once each, the bias added:
    the reference's product within bf16's rounding (a missing scale, a swapped operand or a dropped bias is off
    by far more). Where it runs on a GPU, tests/test_gpu.py checks cuBLASLt's result the same way."""
    generator = torch.Generator().manual_seed(0)
    x = (torch.randn(2, 5, 64, generator=generator) * 3).bfloat16()
    weight, weight_scale = quantize_fp8_reference(torch.randn(48, 64, generator=generator) * 0.05)
    bias = torch.randn(48, generator=generator).bfloat16() if with_bias else None
    out = scaled_mm_linear(x, weight, weight_scale, bias)
    expected = fp8_linear_reference(x, weight, weight_scale, bias)
    assert out.shape == (2, 5, 48) and out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), expected.float(), rtol=2**-7, atol=1e-3)
    assert expected.abs().max() > 0.5
