"""Triton model `vae_decoder`: video latents -> uint8 frames (tiled for large outputs). The logic lives in ltx_backend.serving.adapters.vae_decoder."""
from ltx_backend.serving.adapters.vae_decoder import TritonPythonModel  # noqa: F401
