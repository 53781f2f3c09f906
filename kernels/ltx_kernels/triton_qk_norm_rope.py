"""Fused QK RMS-norm + RoPE in Triton (imported lazily: it imports triton).

One program per token row (b, t): it loads the H*D channels of q (fp32), takes their RMS, multiplies
the weight, and rotates them with that token's cos/sin; when q and k share the token count and the
tables (self-attention) the same program does the k row too, so each cos/sin entry is read from memory
once for both. A channel's rotation partner (c ^ 1 interleaved, c +- D/2 split) is re-read from the row
just loaded (cache hits, no extra DRAM traffic). Everything is computed in fp32 and rounded once.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

ROPE_NONE, ROPE_INTERLEAVED, ROPE_SPLIT = 0, 1, 2


@triton.jit
def _norm_rotate(
    X, W, OUT, COS, SIN, row_x, row_o, cos_row, eps, offs, valid,
    N: tl.constexpr, HEAD_DIM: tl.constexpr, HAS_W: tl.constexpr, ROPE: tl.constexpr,
    stride_ch, stride_cd,
):
    x = tl.load(X + row_x + offs, mask=valid, other=0.0).to(tl.float32)
    rstd = tl.math.rsqrt(tl.sum(x * x, 0) / N + eps)
    y = x * rstd
    if HAS_W:
        w = tl.load(W + offs, mask=valid, other=0.0).to(tl.float32)
        y = y * w
    if ROPE == 1:  # interleaved: pairs (2i, 2i+1), tables over the whole inner dim
        partner = offs ^ 1
        yp = tl.load(X + row_x + partner, mask=valid, other=0.0).to(tl.float32) * rstd
        if HAS_W:
            yp = yp * tl.load(W + partner, mask=valid, other=0.0).to(tl.float32)
        c = tl.load(COS + cos_row + offs * stride_cd, mask=valid, other=1.0).to(tl.float32)
        s = tl.load(SIN + cos_row + offs * stride_cd, mask=valid, other=0.0).to(tl.float32)
        y = y * c + tl.where((offs & 1) == 0, -yp, yp) * s
    elif ROPE == 2:  # split: halves of each head, tables [B, H, T, D/2]
        HALF: tl.constexpr = HEAD_DIM // 2
        head = offs // HEAD_DIM
        d = offs % HEAD_DIM
        first = d < HALF
        partner = tl.where(first, offs + HALF, offs - HALF)
        yp = tl.load(X + row_x + partner, mask=valid, other=0.0).to(tl.float32) * rstd
        if HAS_W:
            yp = yp * tl.load(W + partner, mask=valid, other=0.0).to(tl.float32)
        j = tl.where(first, d, d - HALF)
        c_off = cos_row + head * stride_ch + j * stride_cd
        c = tl.load(COS + c_off, mask=valid, other=1.0).to(tl.float32)
        s = tl.load(SIN + c_off, mask=valid, other=0.0).to(tl.float32)
        y = y * c + tl.where(first, -yp, yp) * s
    tl.store(OUT + row_o + offs, y.to(OUT.dtype.element_ty), mask=valid)


@triton.jit
def _qk_norm_rope_kernel(
    Q, K, WQ, WK, OQ, OK, COS, SIN, eps, T,
    stride_qb, stride_qt, stride_kb, stride_kt, stride_oqb, stride_oqt, stride_okb, stride_okt,
    stride_cb, stride_ch, stride_ct, stride_cd,
    N: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK: tl.constexpr, HAS_K: tl.constexpr,
    HAS_W: tl.constexpr, ROPE: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)  # 64-bit offsets for long videos
    b = row // T
    t = row % T
    offs = tl.arange(0, BLOCK)
    valid = offs < N
    cos_row = b * stride_cb + t * stride_ct
    _norm_rotate(
        Q, WQ, OQ, COS, SIN, b * stride_qb + t * stride_qt, b * stride_oqb + t * stride_oqt, cos_row, eps,
        offs, valid, N, HEAD_DIM, HAS_W, ROPE, stride_ch, stride_cd,
    )
    if HAS_K:
        _norm_rotate(
            K, WK, OK, COS, SIN, b * stride_kb + t * stride_kt, b * stride_okb + t * stride_okt, cos_row, eps,
            offs, valid, N, HEAD_DIM, HAS_W, ROPE, stride_ch, stride_cd,
        )


def _table_view(cos: torch.Tensor, sin: torch.Tensor, x: torch.Tensor, layout: str, heads: int | None):
    """(cos, sin) as broadcast views [B, H', T, C] with equal strides, and the head count they imply."""
    batch, tokens, width = x.shape
    if cos.shape != sin.shape:
        raise ValueError(f"RoPE cos {tuple(cos.shape)} and sin {tuple(sin.shape)} differ")
    if cos.stride() != sin.stride():
        cos, sin = cos.contiguous(), sin.contiguous()
    if layout == "interleaved":
        if cos.shape[-1] != width:
            raise ValueError(f"interleaved RoPE tables {tuple(cos.shape)} do not cover the inner dim {width}")
        cos, sin = (t.reshape(*([1] * (3 - t.dim())), *t.shape) if t.dim() < 3 else t for t in (cos, sin))
        cos, sin = (t.expand(batch, tokens, width).unsqueeze(1) for t in (cos, sin))  # [B, 1, T, N]
        return cos, sin, 1
    if cos.dim() != 4:
        raise ValueError(f"split RoPE tables must be [B, H, T, D/2], got {tuple(cos.shape)}")
    heads = cos.shape[1]
    if width % heads or cos.shape[-1] * 2 * heads != width:
        raise ValueError(f"split RoPE tables {tuple(cos.shape)} do not match the inner dim {width}")
    cos, sin = (t.expand(batch, heads, tokens, t.shape[-1]) for t in (cos, sin))
    return cos, sin, heads


def _launch(q, k, q_weight, eps, tables, layout, out_dtype):
    batch, tokens, width = q.shape
    q = q if q.stride(-1) == 1 else q.contiguous()
    oq = torch.empty((batch, tokens, width), dtype=out_dtype, device=q.device)
    ok = None
    if k is not None:
        k = k if k.stride(-1) == 1 else k.contiguous()
        ok = torch.empty((batch, tokens, width), dtype=out_dtype, device=q.device)
    weight = q_weight[0] if q_weight is not None else None
    if tables is None:
        rope, cos, sin, heads = ROPE_NONE, q, q, 1
        c_strides = (0, 0, 0, 0)
    else:
        cos, sin, heads = _table_view(*tables, q, layout, None)
        rope = ROPE_INTERLEAVED if layout == "interleaved" else ROPE_SPLIT
        c_strides = cos.stride()
    head_dim = width // heads if rope == ROPE_SPLIT else width
    if rope == ROPE_INTERLEAVED and width % 2:
        raise ValueError(f"interleaved RoPE needs an even inner dim, got {width}")
    if batch * tokens == 0:
        return oq, ok
    block = triton.next_power_of_2(width)
    warps = 1 if block <= 256 else 4 if block <= 2048 else 8
    _qk_norm_rope_kernel[(batch * tokens,)](
        q, k if k is not None else q, weight if weight is not None else q, q_weight[1] if q_weight[1] is not None else q,
        oq, ok if ok is not None else oq, cos, sin, eps, tokens,
        q.stride(0), q.stride(1), *(k.stride()[:2] if k is not None else (0, 0)),
        oq.stride(0), oq.stride(1), *(ok.stride()[:2] if ok is not None else (0, 0)),
        c_strides[0], c_strides[1], c_strides[2], c_strides[3],
        N=width, HEAD_DIM=head_dim, BLOCK=block, HAS_K=k is not None, HAS_W=weight is not None, ROPE=rope,
        num_warps=warps,
    )
    return oq, ok


def triton_qk_norm_rope(q, k, q_weight, k_weight, eps, pe, k_pe, layout):
    """Triton path of ltx_kernels.qk_norm_rope (same arguments and results). Under torch.compile: the opaque op
    ltx_kernels::qk_norm_rope (see the end of this file)."""
    if torch.compiler.is_compiling():
        return qk_norm_rope_op(q, k, q_weight, k_weight, eps, *(pe or (None, None)), *(k_pe or (None, None)), layout)
    return _qk_norm_rope(q, k, q_weight, k_weight, eps, pe, k_pe, layout)


def _out_dtype(x, w, tables):
    dtype = x.dtype if w is None else torch.promote_types(x.dtype, w.dtype)
    return dtype if tables is None else torch.promote_types(dtype, tables[0].dtype)


def _shares_launch(q, k, k_pe) -> bool:
    """q and k in one launch (self-attention: same tokens, same tables, same dtype), tables read once."""
    return q.shape[:2] == k.shape[:2] and k_pe is None and q.dtype == k.dtype


def _result_dtypes(q, k, q_weight, k_weight, pe, k_pe) -> tuple[torch.dtype, torch.dtype]:
    q_dtype = _out_dtype(q, q_weight, pe)
    return q_dtype, q_dtype if _shares_launch(q, k, k_pe) else _out_dtype(k, k_weight, pe if k_pe is None else k_pe)


def _qk_norm_rope(q, k, q_weight, k_weight, eps, pe, k_pe, layout):
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"qk_norm_rope: q width {q.shape[-1]} != k width {k.shape[-1]}")
    if (q_weight is None) != (k_weight is None):
        raise ValueError("qk_norm_rope: give both norm weights or neither")
    if eps is None:
        eps = torch.finfo(q.dtype).eps
    q_dtype, k_dtype = _result_dtypes(q, k, q_weight, k_weight, pe, k_pe)
    if _shares_launch(q, k, k_pe):
        return _launch(q, k, (q_weight, k_weight), eps, pe, layout, q_dtype)
    oq, _ = _launch(q, None, (q_weight, None), eps, pe, layout, q_dtype)
    ok, _ = _launch(k, None, (k_weight, None), eps, pe if k_pe is None else k_pe, layout, k_dtype)
    return oq, ok


def _tables(cos, sin):
    return None if cos is None else (cos, sin)


# torch.compile sees each kernel as one opaque op (ltx_kernels.triton_attention says why); the RoPE table
# pairs travel as separate optional tensors.
@torch.library.custom_op("ltx_kernels::qk_norm_rope", mutates_args=())
def qk_norm_rope_op(
    q: torch.Tensor, k: torch.Tensor, q_weight: torch.Tensor | None, k_weight: torch.Tensor | None, eps: float | None,
    cos: torch.Tensor | None, sin: torch.Tensor | None, k_cos: torch.Tensor | None, k_sin: torch.Tensor | None, layout: str,
) -> tuple[torch.Tensor, torch.Tensor]:
    return _qk_norm_rope(q, k, q_weight, k_weight, eps, _tables(cos, sin), _tables(k_cos, k_sin), layout)


@qk_norm_rope_op.register_fake
def _(q, k, q_weight, k_weight, eps, cos, sin, k_cos, k_sin, layout):
    q_dtype, k_dtype = _result_dtypes(q, k, q_weight, k_weight, _tables(cos, sin), _tables(k_cos, k_sin))
    return q.new_empty(q.shape, dtype=q_dtype), k.new_empty(k.shape, dtype=k_dtype)
