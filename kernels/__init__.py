"""Fused Triton kernels, each beside its PyTorch reference, behind one dispatch point."""
from .attention import attention, get_attention_backend, set_attention_backend

__all__ = ["attention", "get_attention_backend", "set_attention_backend"]
