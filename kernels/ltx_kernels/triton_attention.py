"""Flash-style attention forward in Triton (imported lazily: it imports triton).

One program computes a BLOCK_M x HEAD_DIM tile of the output of one (batch, head): it walks the keys
in BLOCK_N tiles keeping the running row max m, the running denominator l and an fp32 accumulator
(online softmax), so the Tq x Tk score matrix never exists. Packed [B, T, H*D] inputs are read
in place through their strides (the head is a column offset). Any Tq / Tk: query rows past Tq are
masked on load/store and key columns past Tk get -inf. Full key tiles run without bounds checks;
only the last, partial tile masks.

Two ways to load the Q / K / V tiles, chosen per config by the autotuner (``USE_TMA``):
  - pointers (every GPU, the interpreter): masked ``tl.load`` of the strided rows;
  - tensor descriptors (Hopper and newer): each tile is one TMA copy from a [B*T, H*D] descriptor of the
    packed tensor. Rows past a batch element's T belong to the next element (or are zero past the
    tensor's end): they are masked exactly as the pointer path's zeros (keys -inf, their values 0,
    queries never stored), so both paths compute the same function.
On Hopper the autotuner times both kinds of config and keeps the fastest per shape bucket.

Mask: an additive bias broadcastable to [B, H, Tq, Tk] (read through stride-0 broadcast strides, never
expanded in memory) or a bool mask (True = attend; converted to a 0 / -inf bias of its own shape).
Rows whose keys are all -inf give 0, and rows masked with large finite values (-finfo.max) give the
uniform average, as torch SDPA does.
"""
from __future__ import annotations

import functools
import math

import torch
import triton
import triton.language as tl

from .dispatch import triton_interpret

try:  # host-side TMA descriptors: triton >= 3.4
    from triton.tools.tensor_descriptor import TensorDescriptor
except ImportError:  # pragma: no cover - older triton: pointer loads only
    TensorDescriptor = None


def _set_descriptor_blocks(nargs) -> None:
    """Config pre-hook: the descriptors' box shapes follow the config's tile sizes. Every config sets them
    (a pointer config ignores the descriptors, but their boxes are part of its compiled specialization)."""
    if nargs["DescQ"] is None:
        return
    nargs["DescQ"].block_shape = [nargs["BLOCK_M"], nargs["BLOCK_D"]]
    nargs["DescK"].block_shape = [nargs["BLOCK_N"], nargs["BLOCK_D"]]
    nargs["DescV"].block_shape = [nargs["BLOCK_N"], nargs["BLOCK_D"]]


def _config(block_m: int, block_n: int, warps: int, stages: int, tma: bool) -> triton.Config:
    return triton.Config(
        {"BLOCK_M": block_m, "BLOCK_N": block_n, "USE_TMA": tma}, num_warps=warps, num_stages=stages,
        pre_hook=_set_descriptor_blocks,
    )


def _configs() -> list[triton.Config]:
    if triton_interpret():  # the CPU interpreter: one small config per load kind, no tuning
        return [_config(16, 16, 1, 1, False), _config(16, 16, 1, 1, True)]
    pointer = [
        (128, 64, 8, 3), (128, 128, 8, 3), (128, 64, 4, 3), (128, 32, 4, 4),
        (64, 64, 4, 3), (64, 128, 4, 3), (128, 128, 8, 2), (64, 32, 4, 4),
    ]
    # descriptor loads: 8 warps only for 128 x 128 tiles (smaller tiles starve them on Hopper)
    tma = [
        (128, 128, 8, 2), (128, 128, 8, 3), (128, 64, 4, 3), (128, 64, 4, 4),
        (64, 64, 4, 3), (64, 64, 4, 4), (128, 32, 4, 4), (64, 128, 4, 3),
    ]
    return [_config(*c, False) for c in pointer] + [_config(*c, True) for c in tma]


def _prune(configs, named_args, **kwargs):
    """Keep the configs of the allowed load kinds; short query sequences (audio, <= 64 tokens) skip the
    128-row query tiles."""
    mode = named_args["TMA"]
    kept = [c for c in configs if (mode == 2) or (c.kwargs["USE_TMA"] == (mode == 1))]
    if kwargs.get("HAS_MASK") and not kwargs.get("BIAS_ROW"):  # constexprs come as keyword arguments
        # a full [BLOCK_M, BLOCK_N] bias tile on top of 3 stages of 128-key descriptor tiles passes the 227 KiB
        # of shared memory (compile_check: 245-295 KB at head dim 128)
        kept = [c for c in kept if not (c.kwargs["USE_TMA"] and c.kwargs["BLOCK_N"] == 128 and c.num_stages >= 3)]
    q_bucket = named_args.get("Q_BUCKET", 1 << 30)
    short = [c for c in kept if not (q_bucket <= 64 and c.kwargs["BLOCK_M"] > 64)]
    return short or kept[:1]


@triton.jit
def _softmax_update(
    acc, l_i, m_i, q, k, v, bias_base, start_n, Tk, Tq, offs_m, offs_n, stride_bm, stride_bn, sm_scale,
    HAS_MASK: tl.constexpr, BIAS_ROW: tl.constexpr, TAIL: tl.constexpr, DOT_PRECISION: tl.constexpr,
    UPCAST_DOT: tl.constexpr,
):
    """One key tile: scores, online-softmax update of (m, l) and acc += P @ V. k / v are [BLOCK_N, D]."""
    cols = start_n + offs_n
    if UPCAST_DOT:  # the CPU interpreter's tl.dot mishandles bf16 operands: same values, fp32 product
        qk = tl.dot(q.to(tl.float32), tl.trans(k.to(tl.float32)), input_precision="ieee")
    else:
        qk = tl.dot(q, tl.trans(k), input_precision=DOT_PRECISION)
    if TAIL:
        v = tl.where(cols[:, None] < Tk, v, tl.zeros_like(v))  # rows past Tk: zeros, or the next batch element's values
    if HAS_MASK:
        if BIAS_ROW:  # one bias row for every query (key padding, [B, 1, 1, S]): a BLOCK_N vector
            if TAIL:
                bias = tl.load(bias_base + cols * stride_bn, mask=cols < Tk, other=0.0)
            else:
                bias = tl.load(bias_base + cols * stride_bn)
            bias = bias.to(tl.float32)[None, :]
        else:
            b_valid = offs_m[:, None] < Tq
            if TAIL:
                b_valid = b_valid & (cols[None, :] < Tk)
            rows = offs_m.to(tl.int64)[:, None] * stride_bm  # 64-bit: Tq * Tk passes 2^31 at ~46k tokens
            bias = tl.load(bias_base + rows + cols[None, :] * stride_bn, mask=b_valid, other=0.0).to(tl.float32)
        # natural units: -finfo.max biases stay finite (x log2e would overflow to -inf)
        s = qk * sm_scale + bias
        if TAIL:
            s = tl.where(cols[None, :] < Tk, s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        m_safe = tl.where(m_new == float("-inf"), 0.0, m_new)  # rows with every key at -inf so far
        # (clamped: -finfo.max - m would overflow to -inf x log2e; exp2 gives 0 for both)
        p = tl.math.exp2(tl.maximum(s - m_safe[:, None], -1e30) * 1.4426950408889634)
        alpha = tl.math.exp2((m_i - m_safe) * 1.4426950408889634)
    else:
        qk_scale = sm_scale * 1.4426950408889634  # log2 units; m is kept scaled, p = 2^(qk * scale - m): one FMA
        if TAIL:
            qk = tl.where(cols[None, :] < Tk, qk, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(qk, 1) * qk_scale)  # finite: every tile has at least one real key
        p = tl.math.exp2(qk * qk_scale - m_new[:, None])
        alpha = tl.math.exp2(m_i - m_new)
    l_i = l_i * alpha + tl.sum(p, 1)
    acc = acc * alpha[:, None]
    p = p.to(v.dtype)  # P @ V in the input dtype (bf16 / fp16), accumulated in fp32 into acc
    if UPCAST_DOT:
        acc = tl.dot(p.to(tl.float32), v.to(tl.float32), acc, input_precision="ieee")
    else:
        acc = tl.dot(p, v, acc, input_precision=DOT_PRECISION)
    return acc, l_i, m_new


@triton.jit
def _load_kv(
    k_base, v_base, DescK, DescV, kv_row, head, start_n, Tk, offs_n, offs_d, stride_kt, stride_vt,
    HEAD_DIM: tl.constexpr, TAIL: tl.constexpr, PAD_D: tl.constexpr, USE_TMA: tl.constexpr,
):
    """The [BLOCK_N, BLOCK_D] key and value tiles at key start_n."""
    if USE_TMA:  # one TMA copy each, rows kv_row + start_n ... of the [B*Tk, H*D] descriptors
        k = DescK.load([kv_row + start_n, head])
        v = DescV.load([kv_row + start_n, head])
    else:
        cols = start_n + offs_n
        k_ptrs = k_base + cols[:, None] * stride_kt + offs_d[None, :]
        v_ptrs = v_base + cols[:, None] * stride_vt + offs_d[None, :]
        if TAIL:
            kv_valid = cols[:, None] < Tk
            if PAD_D:
                kv_valid = kv_valid & (offs_d[None, :] < HEAD_DIM)
            k = tl.load(k_ptrs, mask=kv_valid, other=0.0)
            v = tl.load(v_ptrs, mask=kv_valid, other=0.0)
        elif PAD_D:
            k = tl.load(k_ptrs, mask=offs_d[None, :] < HEAD_DIM, other=0.0)
            v = tl.load(v_ptrs, mask=offs_d[None, :] < HEAD_DIM, other=0.0)
        else:  # full tile, head dim a power of two: unmasked (vectorised) loads
            k = tl.load(k_ptrs)
            v = tl.load(v_ptrs)
    return k, v


@triton.jit
def _key_tile(
    acc, l_i, m_i, q, k_base, v_base, DescK, DescV, kv_row, head, bias_base, start_n, Tk, Tq, offs_m, offs_n, offs_d,
    stride_kt, stride_vt, stride_bm, stride_bn, sm_scale,
    HEAD_DIM: tl.constexpr, PAD_D: tl.constexpr, USE_TMA: tl.constexpr, HAS_MASK: tl.constexpr,
    BIAS_ROW: tl.constexpr, TAIL: tl.constexpr, DOT_PRECISION: tl.constexpr, UPCAST_DOT: tl.constexpr,
):
    """Load the key tile at start_n and fold it into (acc, l, m)."""
    k, v = _load_kv(
        k_base, v_base, DescK, DescV, kv_row, head, start_n, Tk, offs_n, offs_d, stride_kt, stride_vt,
        HEAD_DIM, TAIL, PAD_D, USE_TMA,
    )
    return _softmax_update(
        acc, l_i, m_i, q, k, v, bias_base, start_n, Tk, Tq, offs_m, offs_n, stride_bm, stride_bn, sm_scale,
        HAS_MASK, BIAS_ROW, TAIL, DOT_PRECISION, UPCAST_DOT,
    )


def _interpreter_bench(kernel_call, quantiles=None):
    """The autotuner's timer in the CPU interpreter: each kept config runs once (so each is exercised) and none
    is faster (interpreter time says nothing of a GPU's), so the first wins. Without it, triton 3.6 (the GPU
    image's) asks for a GPU driver to time even a single config."""
    kernel_call()
    return [0.0] * len(quantiles) if quantiles else 0.0


@triton.autotune(
    configs=_configs(), key=["BLOCK_D", "HAS_MASK", "BIAS_ROW", "Q_BUCKET", "K_BUCKET", "TMA"],
    prune_configs_by={"early_config_prune": _prune}, do_bench=_interpreter_bench if triton_interpret() else None,
)
@triton.jit
def _attention_fwd(
    Q, K, V, O, Bias, DescQ, DescK, DescV, sm_scale,
    stride_qb, stride_qt, stride_kb, stride_kt, stride_vb, stride_vt, stride_ob, stride_ot,
    stride_bb, stride_bh, stride_bm, stride_bn,
    H, Tq, Tk, Q_BUCKET, K_BUCKET, TMA,
    HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, HAS_MASK: tl.constexpr, BIAS_ROW: tl.constexpr,
    DOT_PRECISION: tl.constexpr, UPCAST_DOT: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    USE_TMA: tl.constexpr,
):
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    b_row = pid_bh // H  # batch element (descriptor rows are b * T + t, 32-bit)
    b = b_row.to(tl.int64)  # 64-bit offsets: a [B, 1, T, T] bias passes 2^31 elements at T ~ 24k
    h = pid_bh % H
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    head = h * HEAD_DIM
    PAD_D: tl.constexpr = BLOCK_D != HEAD_DIM

    q_valid = offs_m[:, None] < Tq
    if PAD_D:
        q_valid = q_valid & (offs_d[None, :] < HEAD_DIM)
    if USE_TMA:  # rows past Tq are the next element's queries: computed, never stored
        q = DescQ.load([b_row * Tq + pid_m * BLOCK_M, head])
    else:
        q = tl.load(Q + b * stride_qb + offs_m[:, None] * stride_qt + head + offs_d[None, :], mask=q_valid, other=0.0)
    k_base = K + b * stride_kb + head
    v_base = V + b * stride_vb + head
    kv_row = b_row * Tk
    bias_base = Bias + b * stride_bb + h * stride_bh

    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], dtype=tl.float32)

    full_end = (Tk // BLOCK_N) * BLOCK_N
    for start_n in range(0, full_end, BLOCK_N):  # full key tiles: no bounds checks
        acc, l_i, m_i = _key_tile(
            acc, l_i, m_i, q, k_base, v_base, DescK, DescV, kv_row, head, bias_base, start_n, Tk, Tq, offs_m, offs_n,
            offs_d, stride_kt, stride_vt, stride_bm, stride_bn, sm_scale,
            HEAD_DIM, PAD_D, USE_TMA, HAS_MASK, BIAS_ROW, False, DOT_PRECISION, UPCAST_DOT,
        )
    if full_end < Tk:  # the partial last tile, masked
        acc, l_i, m_i = _key_tile(
            acc, l_i, m_i, q, k_base, v_base, DescK, DescV, kv_row, head, bias_base, full_end, Tk, Tq, offs_m, offs_n,
            offs_d, stride_kt, stride_vt, stride_bm, stride_bn, sm_scale,
            HEAD_DIM, PAD_D, USE_TMA, HAS_MASK, BIAS_ROW, True, DOT_PRECISION, UPCAST_DOT,
        )

    l_safe = tl.where(l_i == 0.0, 1.0, l_i)  # fully masked rows: acc is 0, the output 0
    out = acc / l_safe[:, None]
    tl.store(
        O + b * stride_ob + offs_m[:, None] * stride_ot + head + offs_d[None, :],
        out.to(O.dtype.element_ty),
        mask=q_valid,
    )


def _bucket(n: int) -> int:
    """Sequence-length bucket for the autotuning key (powers of two, so lengths share tunings)."""
    return min(triton.next_power_of_2(max(n, 1)), 1 << 16)


def _as_bias(mask: torch.Tensor | None, batch: int, heads: int, tq: int, tk: int) -> torch.Tensor | None:
    """The mask as a [B, H, Tq, Tk] broadcast view (stride 0 on broadcast dims) of an additive bias."""
    if mask is None:
        return None
    if mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill_(~mask, float("-inf"))
    while mask.dim() < 4:  # [Tq, Tk] -> [1, Tq, Tk] -> [B, 1, Tq, Tk], as the SDPA path broadcasts them
        mask = mask.unsqueeze(0) if mask.dim() == 2 else mask.unsqueeze(1)
    return mask.expand(batch, heads, tq, tk)


def triton_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Attention of packed q [B, Tq, H*D], k / v [B, Tk, H*D] -> [B, Tq, H*D] (contiguous) in q's dtype.
    Under torch.compile it is the opaque op ltx_kernels::attention (see the end of this file)."""
    if torch.compiler.is_compiling():
        return attention_op(q, k, v, heads, mask)
    return attention_forward(q, k, v, heads, mask)


def descriptor_refusal(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> str | None:
    """Why these inputs cannot be read through TMA descriptors (None: they can)."""
    if TensorDescriptor is None:
        return "this triton has no tensor descriptors (triton >= 3.4 has)"
    if q.device.type == "cuda" and _capability(q.device.index)[0] < 9:
        return "TMA needs compute capability 9.0 or newer"
    if q.device.type != "cuda" and not triton_interpret():
        return f"device {q.device.type!r} is not CUDA"
    head_dim = q.shape[-1] // heads
    if head_dim < 16 or head_dim & (head_dim - 1):
        return f"head dim {head_dim} is not a power of two >= 16"
    for name, t in (("q", q), ("k", k), ("v", v)):
        if t.shape[0] * t.shape[1] >= 2**31:
            return f"{name} has {t.shape[0] * t.shape[1]} rows (descriptor coordinates are 32-bit)"
        if t.stride(1) < t.shape[2]:
            return f"{name}'s rows overlap (row stride {t.stride(1)} < width {t.shape[2]})"
        if t.shape[0] > 1 and t.stride(0) != t.shape[1] * t.stride(1):
            return f"{name}'s batch elements are not one run of rows (strides {tuple(t.stride())})"
        if t.data_ptr() % 16 or (t.stride(1) * t.element_size()) % 16:
            return f"{name} is not 16-byte aligned (rows of {t.stride(1)} elements)"
    return None


@functools.lru_cache(maxsize=None)
def _capability(index: int | None) -> tuple[int, int]:
    return torch.cuda.get_device_capability(index)


def _descriptor(t: torch.Tensor) -> "TensorDescriptor":
    """A [B*T, H*D] descriptor of packed [B, T, H*D] rows (box shape set per config by the pre-hook)."""
    return TensorDescriptor(t, [t.shape[0] * t.shape[1], t.shape[2]], [t.stride(1), 1], [16, 16])


def attention_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None = None,
    descriptors: str = "auto",
) -> torch.Tensor:
    """The kernel launch. descriptors: "auto" (on Hopper+ the autotuner times TMA-descriptor and pointer
    configs and keeps the fastest; pointers elsewhere and in the interpreter), "on" (descriptor configs
    only; an error when the inputs do not allow them), "off" (pointer configs only)."""
    batch, tq, width = q.shape
    tk = k.shape[1]
    if width % heads or k.shape[-1] != width or v.shape[-1] != width:
        raise ValueError(f"attention: widths q {width}, k {k.shape[-1]}, v {v.shape[-1]} for {heads} heads")
    if k.shape[:2] != v.shape[:2] or k.shape[0] != batch:
        raise ValueError(f"attention: shapes q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)} do not match")
    if not (q.dtype == k.dtype == v.dtype):
        raise TypeError(f"attention: q, k, v dtypes differ ({q.dtype}, {k.dtype}, {v.dtype})")
    if descriptors not in ("auto", "on", "off"):
        raise ValueError(f"attention: descriptors {descriptors!r} is not one of 'auto', 'on', 'off'")
    head_dim = width // heads
    q, k, v = (t if t.stride(-1) == 1 else t.contiguous() for t in (q, k, v))
    out = torch.empty((batch, tq, width), dtype=q.dtype, device=q.device)
    if tq == 0 or batch == 0:
        return out
    if tk == 0:
        return out.zero_()
    refusal = descriptor_refusal(q, k, v, heads) if descriptors != "off" else "off"
    if descriptors == "on" and refusal is not None:
        raise ValueError(f"attention: descriptors 'on' cannot be used: {refusal}")
    if refusal is not None:
        tma = 0
    else:
        tma = 1 if descriptors == "on" else 0 if triton_interpret() else 2
    desc_q, desc_k, desc_v = (_descriptor(t) for t in (q, k, v)) if tma else (None, None, None)
    bias = _as_bias(mask, batch, heads, tq, tk)
    bias_strides = bias.stride() if bias is not None else (0, 0, 0, 0)
    block_d = max(16, triton.next_power_of_2(head_dim))

    def grid(meta):
        return (triton.cdiv(tq, meta["BLOCK_M"]), batch * heads)

    _attention_fwd[grid](
        q, k, v, out, bias if bias is not None else q, desc_q, desc_k, desc_v, 1.0 / math.sqrt(head_dim),
        q.stride(0), q.stride(1), k.stride(0), k.stride(1), v.stride(0), v.stride(1), out.stride(0), out.stride(1),
        *bias_strides,
        heads, tq, tk, _bucket(tq), _bucket(tk), tma,
        HEAD_DIM=head_dim, BLOCK_D=block_d, HAS_MASK=bias is not None,
        BIAS_ROW=bias is not None and bias_strides[2] == 0,
        DOT_PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
        UPCAST_DOT=triton_interpret() and q.dtype != torch.float32,
    )
    return out


# torch.compile sees each kernel as one opaque op: the launcher's Python, the autotuner and the interpreter
# stay out of the traced graph, and CUDA graphs (mode reduce-overhead) capture the launch. The fake
# implementation gives the output's shape and dtype for tracing.
@torch.library.custom_op("ltx_kernels::attention", mutates_args=())
def attention_op(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int, mask: torch.Tensor | None) -> torch.Tensor:
    return attention_forward(q, k, v, heads, mask)


@attention_op.register_fake
def _(q, k, v, heads, mask):
    return q.new_empty(q.shape)
