"""Fused Triton kernels, each beside its PyTorch reference, behind one dispatch point.

The models call :func:`attention`, :func:`qk_norm_rope`, :func:`adaln_modulate` (and :func:`modulate`, without
the norm), :func:`gated_residual`, :func:`attention_gate` (LTX-2.3's per-head output gate), and :func:`fp8_linear`
(the fp8 matmul of fp8-scaled-mm); :func:`set_attention_backend` ("auto", "triton", "flash_attn", "sdpa") picks the
implementation of all of them (see ltx_kernels.dispatch). triton itself is imported only when a Triton kernel first runs, so TRITON_INTERPRET=1
may be set any time before that.
"""
from .adaln import adaln_modulate, gated_residual, modulate
from .attention import attention, reference_attention, sdpa_attention
from .attention_gate import attention_gate
from .dispatch import BACKENDS, get_attention_backend, set_attention_backend
from .fp8_linear import fp8_linear, fp8_linear_reference, quantize_fp8, quantize_fp8_reference, scaled_mm_supported
from .qk_norm_rope import apply_rope_reference, qk_norm_rope

__all__ = [
    "BACKENDS",
    "adaln_modulate",
    "apply_rope_reference",
    "attention",
    "attention_gate",
    "fp8_linear",
    "fp8_linear_reference",
    "gated_residual",
    "get_attention_backend",
    "modulate",
    "qk_norm_rope",
    "quantize_fp8",
    "quantize_fp8_reference",
    "reference_attention",
    "scaled_mm_supported",
    "sdpa_attention",
    "set_attention_backend",
]
