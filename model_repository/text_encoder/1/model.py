"""Triton model `text_encoder`: prompts -> video/audio text contexts (Gemma 3 + embeddings connectors); a prompt -> its enhanced rewrite. The logic lives in ltx_backend.serving.adapters.text_encoder."""
from ltx_backend.serving.adapters.text_encoder import TritonPythonModel  # noqa: F401
