"""Triton model `audio_decoder`: audio latents -> waveform (audio VAE decoder + vocoder). The logic lives in ltx_backend.serving.adapters.audio_decoder."""
from ltx_backend.serving.adapters.audio_decoder import TritonPythonModel  # noqa: F401
