"""Triton model `denoiser`: one guided x0 prediction of the audio+video transformer (see ltx_backend/serving/wire.py). The logic lives in ltx_backend.serving.adapters.denoiser."""
from ltx_backend.serving.adapters.denoiser import TritonPythonModel  # noqa: F401
