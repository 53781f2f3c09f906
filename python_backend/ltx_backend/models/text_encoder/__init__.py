"""Text encoder: Gemma 3 hidden states -> feature extractor (V1 / V2) -> video and audio connectors.

The modules that need transformers (gemma.py, enhancer.py and encoder.py, which loads them) are imported by their
own paths, not from here: every Triton model's process imports this package, and only the text encoder's needs
transformers (2-3 s of start-up in each of the others)."""
from .config import (
    build_audio_connector,
    build_embeddings_processor,
    build_feature_extractor,
    build_video_connector,
    checkpoint_key,
    embeddings_processor_key,
    gemma_text_key,
    uses_feature_extractor_v2,
)
from .connector import Embeddings1DConnector
from .embeddings_processor import EmbeddingsProcessor, TextEncoding
from .feature_extractor import FeatureExtractorV1, FeatureExtractorV2
from .gemma_files import PROMPT_TOKENS, GemmaFiles

__all__ = [
    "PROMPT_TOKENS",
    "Embeddings1DConnector",
    "EmbeddingsProcessor",
    "FeatureExtractorV1",
    "FeatureExtractorV2",
    "GemmaFiles",
    "TextEncoding",
    "build_audio_connector",
    "build_embeddings_processor",
    "build_feature_extractor",
    "build_video_connector",
    "checkpoint_key",
    "embeddings_processor_key",
    "gemma_text_key",
    "uses_feature_extractor_v2",
]
