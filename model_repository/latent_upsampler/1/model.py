"""Triton model `latent_upsampler`: spatial x2 latent upsampler between the two stages. The logic lives in ltx_backend.serving.adapters.latent_upsampler."""
from ltx_backend.serving.adapters.latent_upsampler import TritonPythonModel  # noqa: F401
