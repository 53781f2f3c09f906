"""LTX-2.3's per-head attention output gate: the Triton kernel (CPU interpreter) against the model's ops, with the
operands as the attention passes them (its output [B, T, H*Dh], to_gate_logits' [B, T, H]), and the dispatch.

TRITON_INTERPRET is set before the kernel's module imports triton (it does so lazily).
"""
from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

import ltx_kernels  # noqa: E402
from ltx_kernels import dispatch  # noqa: E402
from ltx_kernels.attention_gate import attention_gate_reference  # noqa: E402


def _kernel():
    from ltx_kernels.triton_attention_gate import triton_attention_gate

    return triton_attention_gate


def _operands(batch, tokens, heads, head_dim, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = torch.randn(batch, tokens, heads * head_dim, generator=g).to(dtype)
    logits = (2 * torch.randn(batch, tokens, heads, generator=g)).to(dtype)
    return out, logits


SHAPES = [(1, 1, 2, 8), (2, 7, 4, 16), (2, 5, 3, 12), (3, 2, 8, 32)]  # 3 heads x 12: neither a power of two


@pytest.mark.parametrize("shape", SHAPES, ids=[f"b{b}t{t}h{h}d{d}" for b, t, h, d in SHAPES])
def test_fp32_matches_the_models_ops(shape):
    out, logits = _operands(*shape)
    result = _kernel()(out, logits)
    expected = attention_gate_reference(out, logits)
    assert result.shape == expected.shape == out.shape and result.dtype == torch.float32
    assert (result - expected).abs().max().item() <= 1e-6 * out.abs().max().item()
    # the gates are per head: head h of every token scaled by 2 sigmoid(logit h), not all alike
    heads, head_dim = shape[2], shape[3]
    ratio = (result / out).unflatten(-1, (heads, head_dim))
    assert torch.allclose(ratio, (2 * torch.sigmoid(logits)).unsqueeze(-1).expand_as(ratio), atol=1e-5)
    if heads > 1:
        assert ratio[..., 0, 0].ne(ratio[..., 1, 0]).any()


def test_zero_logits_leave_the_output_unchanged():
    out, _ = _operands(2, 3, 4, 8)
    assert torch.equal(_kernel()(out, torch.zeros(2, 3, 4)), out)


def test_bf16_within_one_rounding():
    out, logits = _operands(2, 9, 4, 32, torch.bfloat16, seed=1)
    result = _kernel()(out, logits)
    exact = attention_gate_reference(out.float(), logits.float())
    assert result.dtype == torch.bfloat16
    # fp32 gates and one rounding: within one bf16 ulp of the exact product (2^-7 relative; the interpreter's
    # conversion may truncate where a GPU rounds to nearest)
    assert ((result.float() - exact).abs() <= exact.abs() * 2**-7).all()
    # the reference rounds the gates to bf16 first: close, not equal
    reference = attention_gate_reference(out, logits)
    assert (result.float() - reference.float()).abs().max().item() <= 2e-2 * reference.float().abs().max().item()


def test_strided_output_and_dtype_promotion():
    """A non-contiguous attention output (a slice of a wider tensor) is read through its strides; bf16 output with
    fp32 logits gives fp32, as the PyTorch expression does."""
    wide, logits = _operands(2, 5, 4, 16, seed=2)
    out = torch.cat([wide, wide], dim=-1)[..., 1::2]  # [2, 5, 64], last stride 2
    assert not out.is_contiguous()
    assert torch.allclose(_kernel()(out, logits), attention_gate_reference(out, logits), atol=1e-6)
    bf16_out = out.bfloat16()
    result = _kernel()(bf16_out, logits)
    assert result.dtype == attention_gate_reference(bf16_out, logits).dtype == torch.float32


def test_rejects_logits_that_do_not_divide_the_heads():
    out, _ = _operands(1, 2, 4, 8)
    with pytest.raises(ValueError, match=r"attention_gate: out \(1, 2, 32\)"):
        _kernel()(out, torch.zeros(1, 2, 5))


def test_dispatch_sdpa_is_bit_identical_and_triton_runs_the_kernel():
    out, logits = _operands(2, 5, 4, 8, seed=3)
    heads, head_dim = 4, 8
    model_gated = (out.unflatten(-1, (heads, head_dim)) * (2.0 * torch.sigmoid(logits)).unsqueeze(-1)).flatten(-2)
    try:
        for backend, implementation in (("sdpa", "reference"), ("auto", "reference"), ("triton", "triton")):
            ltx_kernels.set_attention_backend(backend)
            before = dispatch.calls[("attention_gate", implementation)]
            gated = ltx_kernels.attention_gate(out, logits)
            assert dispatch.calls[("attention_gate", implementation)] == before + 1, backend
            if implementation == "reference":
                assert torch.equal(gated, model_gated)
            else:
                assert (gated - model_gated).abs().max().item() <= 1e-6 * out.abs().max().item()
    finally:
        ltx_kernels.set_attention_backend("auto")
