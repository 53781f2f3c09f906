"""Prompts -> video / audio text contexts: Gemma 3 hidden states, then the embeddings processor.

The same computation as ltx-pipelines' ``encode_prompts`` (GemmaTextEncoder.encode per prompt, then
EmbeddingsProcessor.process_hidden_states), with all prompts in one batch.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn

from .config import GemmaTextDims, build_embeddings_processor, embeddings_processor_key
from .embeddings_processor import EmbeddingsProcessor, TextEncoding
from .enhancer import PromptEnhancer, build_prompt_enhancer
from .gemma import GemmaEncoder, GemmaFiles, load_gemma_encoder


class TextEncoder(nn.Module):
    def __init__(self, gemma: GemmaEncoder, embeddings_processor: EmbeddingsProcessor):
        super().__init__()
        self.gemma = gemma
        self.embeddings_processor = embeddings_processor
        self._enhancer: PromptEnhancer | None = None  # built on the first enhancement (the vision tower's weights)

    def enhance(self, prompt: str, image: torch.Tensor | None, seed: int) -> str:
        """Gemma 3 rewrites the prompt (enhancer.py); image: uint8 [h, w, 3] for image-to-video, or None."""
        if self._enhancer is None:
            self._enhancer = build_prompt_enhancer(self.gemma)
        return self._enhancer.enhance(prompt, image, seed)

    @torch.inference_mode()
    def encode(self, prompts: list[str]) -> TextEncoding:
        """B prompts -> TextEncoding with video [B, 1024, Dv], audio [B, 1024, Da], mask [B, 1024]."""
        hidden_states, attention_mask = self.gemma.encode(prompts)
        return self.embeddings_processor(hidden_states, attention_mask)


def load_embeddings_processor(
    config: dict,
    checkpoint_weights: Mapping[str, torch.Tensor],
    gemma: GemmaTextDims,
    device: torch.device | str,
    dtype: torch.dtype,
) -> EmbeddingsProcessor:
    """Build from the metadata config and load (strict) the text_embedding_projection.* and
    model.diffusion_model.{video,audio}_embeddings_connector.* tensors of a checkpoint."""
    with torch.device("meta"):
        processor = build_embeddings_processor(config, gemma)
    state_dict = {}
    for key in checkpoint_weights.keys():
        name = embeddings_processor_key(key)
        if name is not None:
            state_dict[name] = checkpoint_weights[key].to(device=device, dtype=dtype)
    processor.load_state_dict(state_dict, strict=True, assign=True)
    return processor.eval()


class _SafetensorsWeights(Mapping):
    """Lazy read-only view of one open safetensors file."""

    def __init__(self, handle):
        self._handle = handle
        self._keys = list(handle.keys())

    def __getitem__(self, key: str) -> torch.Tensor:
        return self._handle.get_tensor(key)

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def load_text_encoder(
    gemma_files: GemmaFiles, checkpoint_file: Path | str, device: torch.device | str, dtype: torch.dtype
) -> TextEncoder:
    """Gemma from `gemma_files`; feature extractor and connectors from the single-file LTX checkpoint
    ``checkpoint_file`` (its metadata "config" and weights)."""
    gemma = load_gemma_encoder(gemma_files, device, dtype)
    with safe_open(str(checkpoint_file), framework="pt") as handle:
        config = json.loads((handle.metadata() or {}).get("config", "{}"))
        processor = load_embeddings_processor(config, _SafetensorsWeights(handle), gemma.config, device, dtype)
    return TextEncoder(gemma, processor)
