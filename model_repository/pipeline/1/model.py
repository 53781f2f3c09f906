"""Triton model `pipeline`: the generate request -> progress stream, then MP4 (+ raw frames and audio); BLS orchestrator. The logic lives in ltx_backend.serving.adapters.pipeline."""
from ltx_backend.serving.adapters.pipeline import TritonPythonModel  # noqa: F401
