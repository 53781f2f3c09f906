"""Fused Triton kernels, each beside its PyTorch reference, behind one dispatch point.

The models call :func:`attention`, :func:`qk_norm_rope`, :func:`adaln_modulate` and
:func:`gated_residual` (and :func:`fp8_linear`, the fp8 matmul of fp8-scaled-mm); :func:`set_attention_backend` ("auto", "triton", "flash_attn", "sdpa") picks the
implementation of all of them (see ltx_kernels.dispatch). triton itself is imported only when a Triton
kernel first runs, so TRITON_INTERPRET=1 may be set any time before that.
"""
from .adaln import adaln_modulate, gated_residual
from .attention import attention, reference_attention, sdpa_attention
from .dispatch import BACKENDS, get_attention_backend, set_attention_backend
from .fp8_linear import fp8_linear, fp8_linear_reference, quantize_fp8, quantize_fp8_reference, scaled_mm_supported
from .qk_norm_rope import apply_rope_reference, qk_norm_rope

__all__ = [
    "BACKENDS",
    "adaln_modulate",
    "apply_rope_reference",
    "attention",
    "fp8_linear",
    "fp8_linear_reference",
    "gated_residual",
    "get_attention_backend",
    "qk_norm_rope",
    "quantize_fp8",
    "quantize_fp8_reference",
    "reference_attention",
    "scaled_mm_supported",
    "sdpa_attention",
    "set_attention_backend",
]
