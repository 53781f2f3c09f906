"""Gemma hidden states -> video and audio text contexts: feature extractor, then one connector per stream."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from .connector import Embeddings1DConnector
from .feature_extractor import FeatureExtractorV1, FeatureExtractorV2


@dataclass(frozen=True)
class TextEncoding:
    """What the denoiser is conditioned on, one row per prompt.

    video: [B, S, Dv]   audio: [B, S, Da]   mask: [B, S] int64, 1 = attend (all ones: the connectors'
    registers fill the padding, as in ltx-core's EmbeddingsProcessorOutput.attention_mask).
    """

    video: torch.Tensor
    audio: torch.Tensor
    mask: torch.Tensor

    def unbind(self) -> list["TextEncoding"]:
        """One [1, S, *] encoding per prompt (the shape ltx-pipelines' encode_prompts returns)."""
        return [
            TextEncoding(self.video[i : i + 1], self.audio[i : i + 1], self.mask[i : i + 1])
            for i in range(self.video.shape[0])
        ]


class EmbeddingsProcessor(nn.Module):
    def __init__(
        self,
        feature_extractor: FeatureExtractorV1 | FeatureExtractorV2,
        video_connector: Embeddings1DConnector,
        audio_connector: Embeddings1DConnector,
    ):
        super().__init__()
        self.feature_extractor = feature_extractor
        self.video_connector = video_connector
        self.audio_connector = audio_connector

    def forward(self, hidden_states: Sequence[torch.Tensor] | torch.Tensor, attention_mask: torch.Tensor) -> TextEncoding:
        """hidden_states: L x [B, T, D] (or stacked [B, T, D, L]); attention_mask: [B, T], 1 = real token."""
        video_features, audio_features = self.feature_extractor(hidden_states, attention_mask)
        video = self.video_connector(video_features, attention_mask)
        audio = self.audio_connector(audio_features, attention_mask)
        mask = torch.ones(attention_mask.shape, dtype=torch.int64, device=attention_mask.device)
        return TextEncoding(video=video, audio=audio, mask=mask)
