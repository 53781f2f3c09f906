"""Triton model `denoiser`: one guided x0 prediction of the audio+video transformer (see ltx_backend/triton/wire.py). The logic lives in ltx_backend.triton.adapters.denoiser."""
from ltx_backend.triton.adapters.denoiser import TritonPythonModel  # noqa: F401
