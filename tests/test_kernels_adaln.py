"""The fused AdaLN modulation (with the norm, and without it: modulate) and gated residual Triton kernels (CPU
interpreter) against the model's ops,
with the modulation vectors as the blocks pass them: strided views of the modulation table, one per sample
([B, 1, D], broadcast over tokens), one per token ([B, T, D], per-token timesteps), or one per noise level
([B, L, D] and each token's index [B, T]).

TRITON_INTERPRET is set before the kernels' modules import triton (they do so lazily).
"""
from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

import ltx_kernels  # noqa: E402
from ltx_backend.models.transformer.adaln import modulation  # noqa: E402
from ltx_kernels import dispatch  # noqa: E402
from ltx_kernels.adaln import adaln_modulate_reference, gated_residual_reference, modulate_reference  # noqa: E402


def _vectors(batch, tokens, dim, per_token, dtype, seed=0):
    """(shift, scale, gate) from modulation(): views of table + emb [B, T or 1, 9 * D], rows 6..9."""
    g = torch.Generator().manual_seed(seed)
    table = (0.1 * torch.randn(9, dim, generator=g)).to(dtype)
    emb = (0.5 * torch.randn(batch, tokens if per_token else 1, 9 * dim, generator=g)).to(dtype)
    return modulation(table, emb, 6, 9)


def _kernels():
    from ltx_kernels.triton_adaln import triton_adaln_modulate, triton_gated_residual

    return triton_adaln_modulate, triton_gated_residual


def _modulate_kernel():
    from ltx_kernels.triton_adaln import triton_modulate

    return triton_modulate


SHAPES = [(1, 1, 16), (2, 7, 48), (2, 13, 64), (1, 5, 40), (3, 2, 128)]


@pytest.mark.parametrize("per_token", [False, True], ids=["per_sample", "per_token"])
@pytest.mark.parametrize("shape", SHAPES, ids=[f"b{b}t{t}d{d}" for b, t, d in SHAPES])
def test_fp32_matches_the_models_ops(shape, per_token):
    batch, tokens, dim = shape
    modulate, residual = _kernels()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randn(batch, tokens, dim, generator=g) * 3, torch.randn(batch, tokens, dim, generator=g)
    shift, scale, gate = _vectors(batch, tokens, dim, per_token, torch.float32)
    assert shift.shape[1] == (tokens if per_token else 1)
    out = modulate(x, shift, scale, 1e-6)
    ref = adaln_modulate_reference(x, shift, scale, 1e-6)
    assert out.shape == ref.shape and out.dtype == torch.float32
    assert (out - ref).abs().max().item() <= 1e-5
    out = residual(x, y, gate)
    ref = gated_residual_reference(x, y, gate)
    assert (out - ref).abs().max().item() <= 1e-5
    assert (ref - x).abs().max() > 0.05  # the residual branch is not negligible
    out = _modulate_kernel()(x, shift, scale)  # no norm: x's scale (3) stays
    ref = modulate_reference(x, shift, scale)
    assert (out - ref).abs().max().item() <= 1e-5 * ref.abs().max().item()
    assert (ref - adaln_modulate_reference(x, shift, scale, 1e-6)).abs().max() > 0.5


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_vectors_per_noise_level_read_through_the_index_are_the_gathered_vectors(dtype):
    """[B, L, D] vectors and each token's level [B, T]: the kernels give what the per-token vectors gathered from
    them give (the reference gathers), an index shared by the batch ([1, T]) and vectors shared ([1, L, D]) too."""
    batch, tokens, dim, levels = 2, 11, 80, 3
    modulate, residual = _kernels()
    g = torch.Generator().manual_seed(5)
    x, y = torch.randn(batch, tokens, dim, generator=g).to(dtype), torch.randn(batch, tokens, dim, generator=g).to(dtype)
    table = (0.1 * torch.randn(9, dim, generator=g)).to(dtype)
    emb = (0.5 * torch.randn(batch, levels, 9 * dim, generator=g)).to(dtype)
    shift, scale, gate = modulation(table, emb, 6, 9)  # [B, L, D] strided views
    index = torch.randint(0, levels, (batch, tokens), generator=g)
    index[0, :levels] = torch.arange(levels)  # every level read
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    for idx, vectors in ((index, (shift, scale, gate)), (index[:1], (shift[:1], scale, gate[:1]))):
        gathered = [torch.stack([v.expand(batch, -1, -1)[b, idx.expand(batch, -1)[b]] for b in range(batch)]) for v in vectors]
        for out, ref in (
            (modulate(x, vectors[0], vectors[1], 1e-6, idx),
             adaln_modulate_reference(x.float(), gathered[0].float(), gathered[1].float(), 1e-6)),
            (residual(x, y, vectors[2], idx), gated_residual_reference(x.float(), y.float(), gathered[2].float())),
        ):
            assert out.shape == x.shape and out.dtype == dtype
            assert (out.float() - ref).abs().max().item() <= tolerance * max(1.0, ref.abs().max().item())
    # the index is read: every token at level 0 gives another output
    zero = torch.zeros_like(index)
    assert (modulate(x, shift, scale, 1e-6, zero) - modulate(x, shift, scale, 1e-6, index)).abs().max() > 0.1
    assert torch.equal(adaln_modulate_reference(x, shift, scale, 1e-6, zero),
                       adaln_modulate_reference(x, shift[:, :1], scale[:, :1], 1e-6))
    with pytest.raises(ValueError, match=r"per noise level must be \[B, L, D\] with an integer index"):
        modulate(x, shift, scale, 1e-6, index.float())


@pytest.mark.parametrize("per_token", [False, True], ids=["per_sample", "per_token"])
def test_bf16_within_2e2_relative(per_token):
    batch, tokens, dim = 2, 9, 96
    modulate, residual = _kernels()
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(batch, tokens, dim, generator=g).bfloat16(), torch.randn(batch, tokens, dim, generator=g).bfloat16()
    shift, scale, gate = _vectors(batch, tokens, dim, per_token, torch.bfloat16, seed=3)
    for out, ref in (
        (modulate(x, shift, scale, 1e-6), adaln_modulate_reference(x.float(), shift.float(), scale.float(), 1e-6)),
        (_modulate_kernel()(x, shift, scale), modulate_reference(x.float(), shift.float(), scale.float())),
        (residual(x, y, gate), gated_residual_reference(x.float(), y.float(), gate.float())),
    ):
        assert out.dtype == torch.bfloat16
        assert (out.float() - ref).abs().max().item() / ref.abs().max().item() <= 2e-2


def test_result_dtype_follows_type_promotion():
    """bf16 tokens with fp32 modulation give fp32, as the PyTorch expression does."""
    modulate, residual = _kernels()
    x = torch.randn(1, 3, 32).bfloat16()
    shift, scale, gate = _vectors(1, 3, 32, False, torch.float32)
    out = modulate(x, shift, scale, 1e-6)
    ref = adaln_modulate_reference(x, shift, scale, 1e-6)
    assert out.dtype == ref.dtype == torch.float32
    # the kernel normalises in fp32 and rounds once (the reference rounds rms_norm(x) to bf16 first)
    exact = adaln_modulate_reference(x.float(), shift, scale, 1e-6)
    assert (out - exact).abs().max().item() <= 1e-5
    assert (out - ref).abs().max().item() <= 2e-2 * ref.abs().max().item()
    assert residual(x, x, gate).dtype == gated_residual_reference(x, x, gate).dtype


def test_dispatch_sdpa_is_bit_identical_and_triton_runs_the_kernels():
    batch, tokens, dim = 2, 5, 48
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(batch, tokens, dim, generator=g), torch.randn(batch, tokens, dim, generator=g)
    shift, scale, gate = _vectors(batch, tokens, dim, True, torch.float32)
    model_modulated = torch.nn.functional.rms_norm(x, (dim,), eps=1e-6) * (1 + scale) + shift  # block.py's ops
    model_context = x * (1 + scale) + shift
    model_residual = x + y * gate
    ops = ("adaln_modulate", "modulate", "gated_residual")
    for backend, implementation in (("sdpa", "reference"), ("auto", "reference"), ("triton", "triton")):
        ltx_kernels.set_attention_backend(backend)
        before = [dispatch.calls[(op, implementation)] for op in ops]
        a = ltx_kernels.adaln_modulate(x, shift, scale, 1e-6)
        c = ltx_kernels.modulate(x, shift, scale)
        b = ltx_kernels.gated_residual(x, y, gate)
        assert [dispatch.calls[(op, implementation)] for op in ops] == [n + 1 for n in before], backend
        if implementation == "reference":
            assert torch.equal(a, model_modulated) and torch.equal(c, model_context) and torch.equal(b, model_residual)
        else:
            assert (a - model_modulated).abs().max().item() <= 1e-5
            assert (c - model_context).abs().max().item() <= 1e-5 * model_context.abs().max().item()
            assert (b - model_residual).abs().max().item() <= 1e-5
    ltx_kernels.set_attention_backend("auto")
