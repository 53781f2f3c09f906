"""Triton model `vae_encoder`: conditioning images (preprocessed pixels) -> latents; a soundtrack -> audio latents. The logic lives in ltx_backend.serving.adapters.vae_encoder."""
from ltx_backend.serving.adapters.vae_encoder import TritonPythonModel  # noqa: F401
