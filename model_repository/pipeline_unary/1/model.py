"""Triton model `pipeline_unary`: the pipeline without progress responses, for KServe v2 /infer clients. The logic lives in ltx_backend.serving.adapters.pipeline."""
from ltx_backend.serving.adapters.pipeline import TritonPythonModel  # noqa: F401
