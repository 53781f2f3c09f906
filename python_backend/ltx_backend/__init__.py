"""LTX-2 / LTX-2.3 engine: models, loading, sampling, pipelines, media and the Triton adapters."""
