"""Triton model `pipeline_unary`: the pipeline without progress responses, for KServe v2 /infer clients. The logic lives in ltx_backend.triton.adapters.pipeline."""
from ltx_backend.triton.adapters.pipeline import TritonPythonModel  # noqa: F401
