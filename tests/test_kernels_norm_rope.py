"""The fused QK RMS-norm + RoPE Triton kernel (CPU interpreter) against the model's unfused ops, in both
RoPE layouts, with the model's own RoPE tables (3-D video / 1-D audio positions, padded channels).

TRITON_INTERPRET is set before the kernels' modules import triton (they do so lazily).
"""
from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

import ltx_kernels  # noqa: E402
from ltx_backend.models.transformer.attention import Attention  # noqa: E402
from ltx_backend.models.transformer.rope import RopeType, apply_rope, rope_tables  # noqa: E402
from ltx_kernels import dispatch  # noqa: E402
from ltx_kernels.qk_norm_rope import qk_norm_rope_reference  # noqa: E402


def _tables(batch, tokens, heads, head_dim, layout, axes, dtype, seed, double_precision=False):
    g = torch.Generator().manual_seed(seed)
    starts = torch.rand(batch, axes, tokens, generator=g) * 30
    positions = torch.stack((starts, starts + 1), dim=-1)
    max_pos = [20, 2048, 2048][:axes]
    return rope_tables(
        positions, heads * head_dim, heads, max_pos, 10000.0, RopeType(layout), double_precision, dtype
    )


def _triton(*args):
    from ltx_kernels.triton_qk_norm_rope import triton_qk_norm_rope

    return triton_qk_norm_rope(*args)


CASES = [  # batch, heads, head_dim, Tq, Tk, axes, keys ("self": same tables, "cross": own k tables, "text": no RoPE)
    (2, 2, 16, 7, 7, 3, "self"),
    (1, 2, 32, 5, 11, 1, "cross"),
    (2, 1, 64, 13, 13, 3, "self"),
    (1, 2, 16, 9, 4, 3, "text"),
    (1, 3, 8, 1, 1, 1, "self"),
]


@pytest.mark.parametrize("layout", ["interleaved", "split"])
@pytest.mark.parametrize("case", CASES, ids=[f"b{c[0]}h{c[1]}d{c[2]}q{c[3]}k{c[4]}a{c[5]}-{c[6]}" for c in CASES])
def test_fp32_matches_the_models_ops(layout, case):
    batch, heads, head_dim, tq, tk, axes, keys = case
    dim = heads * head_dim
    g = torch.Generator().manual_seed(3)
    q, k = torch.randn(batch, tq, dim, generator=g), torch.randn(batch, tk, dim, generator=g)
    wq, wk = 1 + 0.1 * torch.randn(dim, generator=g), 1 + 0.1 * torch.randn(dim, generator=g)
    pe = None if keys == "text" else _tables(batch, tq, heads, head_dim, layout, axes, torch.float32, 1)
    k_pe = _tables(batch, tk, heads, head_dim, layout, axes, torch.float32, 2) if keys == "cross" else None
    out_q, out_k = _triton(q, k, wq, wk, 1e-6, pe, k_pe, layout)
    ref_q, ref_k = qk_norm_rope_reference(q, k, wq, wk, 1e-6, pe, k_pe, layout)
    for out, ref in ((out_q, ref_q), (out_k, ref_k)):
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert (out - ref).abs().max().item() <= 1e-5
    if pe is not None:  # the rotation is not the identity on these positions
        plain = torch.nn.functional.rms_norm(q, (dim,), wq, 1e-6)
        assert (out_q - plain).abs().max() > 0.1


@pytest.mark.parametrize("layout", ["interleaved", "split"])
def test_padded_front_channels_and_float64_frequencies(layout):
    """3 axes over a 40-wide inner dim: 40 // 6 = 6 frequencies, the channels left over stay unrotated."""
    batch, heads, head_dim, tokens = 2, 2, 20, 9
    g = torch.Generator().manual_seed(4)
    q, k = torch.randn(batch, tokens, heads * head_dim, generator=g), torch.randn(batch, tokens, heads * head_dim, generator=g)
    w = 1 + 0.1 * torch.randn(heads * head_dim, generator=g)
    pe = _tables(batch, tokens, heads, head_dim, layout, 3, torch.float32, 5, double_precision=True)
    assert (pe[1] == 0).any()  # padded channels exist
    out = _triton(q, k, w, w, 1e-6, pe, None, layout)
    ref = qk_norm_rope_reference(q, k, w, w, 1e-6, pe, None, layout)
    for a, b in zip(out, ref):
        assert (a - b).abs().max().item() <= 1e-5


@pytest.mark.parametrize("layout", ["interleaved", "split"])
@pytest.mark.parametrize("keys", ["self", "cross"])
def test_bf16_within_2e2_relative(layout, keys):
    batch, heads, head_dim, tq, tk = 2, 2, 64, 11, 6
    tk = tq if keys == "self" else tk
    dim = heads * head_dim
    g = torch.Generator().manual_seed(6)
    q = torch.randn(batch, tq, dim, generator=g).bfloat16()
    k = torch.randn(batch, tk, dim, generator=g).bfloat16()
    wq, wk = (1 + 0.1 * torch.randn(dim, generator=g)).bfloat16(), (1 + 0.1 * torch.randn(dim, generator=g)).bfloat16()
    pe = _tables(batch, tq, heads, head_dim, layout, 3, torch.bfloat16, 7)
    k_pe = _tables(batch, tk, heads, head_dim, layout, 3, torch.bfloat16, 8) if keys == "cross" else None
    out = _triton(q, k, wq, wk, 1e-6, pe, k_pe, layout)

    def f32(tables):
        return None if tables is None else tuple(t.float() for t in tables)

    ref = qk_norm_rope_reference(q.float(), k.float(), wq.float(), wk.float(), 1e-6, f32(pe), f32(k_pe), layout)
    for a, b in zip(out, ref):
        assert a.dtype == torch.bfloat16
        assert (a.float() - b).abs().max().item() / b.abs().max().item() <= 2e-2


@pytest.mark.parametrize("rope_type", [RopeType.INTERLEAVED, RopeType.SPLIT])
def test_dispatch_in_the_models_attention(rope_type):
    """sdpa: bit-identical to the module's own q_norm / k_norm + apply_rope; triton: within 1e-5."""
    heads, head_dim, batch, tokens = 2, 16, 2, 10
    attn = Attention(24, 24, heads, head_dim, 1e-6, rope_type, gated=False)
    g = torch.Generator().manual_seed(9)
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if p.dim() == 1 and p.shape[0] == heads * head_dim else 0))
        x = torch.randn(batch, tokens, 24, generator=g)
        pe = _tables(batch, tokens, heads, head_dim, rope_type.value, 3, torch.float32, 10)
        q_in, k_in = attn.to_q(x), attn.to_k(x)
        expected = (apply_rope(attn.q_norm(q_in), pe, rope_type), apply_rope(attn.k_norm(k_in), pe, rope_type))
        for backend in ("sdpa", "triton"):
            ltx_kernels.set_attention_backend(backend)
            implementation = "triton" if backend == "triton" else "reference"
            before = dispatch.calls[("qk_norm_rope", implementation)]
            out = ltx_kernels.qk_norm_rope(q_in, k_in, attn.q_norm.weight, attn.k_norm.weight, attn.q_norm.eps, pe, None, rope_type)
            assert dispatch.calls[("qk_norm_rope", implementation)] == before + 1
            for a, b in zip(out, expected):
                if backend == "sdpa":
                    assert torch.equal(a, b)
                else:
                    assert (a - b).abs().max().item() <= 1e-5


def test_bad_layout_is_an_error():
    q = torch.randn(1, 2, 8)
    with pytest.raises(ValueError, match="diagonal"):
        ltx_kernels.qk_norm_rope(q, q, None, None, 1e-6, None, None, "diagonal")
