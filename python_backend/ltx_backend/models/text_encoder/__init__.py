"""Text encoder: Gemma 3 hidden states -> feature extractor (V1 / V2) -> video and audio connectors."""
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
from .encoder import TextEncoder, load_embeddings_processor, load_text_encoder
from .feature_extractor import FeatureExtractorV1, FeatureExtractorV2
from .gemma import PROMPT_TOKENS, GemmaEncoder, GemmaFiles, load_gemma_encoder, load_gemma_text_config, load_gemma_tokenizer

__all__ = [
    "PROMPT_TOKENS",
    "Embeddings1DConnector",
    "EmbeddingsProcessor",
    "FeatureExtractorV1",
    "FeatureExtractorV2",
    "GemmaEncoder",
    "GemmaFiles",
    "TextEncoder",
    "TextEncoding",
    "build_audio_connector",
    "build_embeddings_processor",
    "build_feature_extractor",
    "build_video_connector",
    "checkpoint_key",
    "embeddings_processor_key",
    "gemma_text_key",
    "load_embeddings_processor",
    "load_gemma_encoder",
    "load_gemma_text_config",
    "load_gemma_tokenizer",
    "load_text_encoder",
    "uses_feature_extractor_v2",
]
