"""Gemma 3 (text tower only, through transformers) -> all hidden states of left-padded prompts.

ltx-core runs the full Gemma3ForConditionalGeneration's inner model on text only; for text input that
is exactly the text tower (Gemma3TextModel) with the same masks, so the vision tower is not loaded.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from torch import nn
from transformers import AutoTokenizer, Gemma3Config, Gemma3TextConfig, Gemma3TextModel, PreTrainedTokenizerBase

from .config import gemma_text_key
from .gemma_files import PROMPT_TOKENS, GemmaFiles, weight_files


def load_gemma_tokenizer(tokenizer_dir: Path | str) -> PreTrainedTokenizerBase:
    """Gemma's tokenizer set up as ltx-core's LTXVGemmaTokenizer: left padding, pad = eos if missing."""
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir), local_files_only=True, model_max_length=PROMPT_TOKENS)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_gemma_text_config(text_encoder_dir: Path | str) -> Gemma3TextConfig:
    """The text tower's config from a Gemma3ForConditionalGeneration (or text-only) config.json."""
    raw = json.loads((Path(text_encoder_dir) / "config.json").read_text())
    if "text_config" in raw:
        return Gemma3Config.from_dict(raw).text_config
    return Gemma3TextConfig.from_dict(raw)


def read_gemma_text_weights(text_encoder_dir: Path | str, device: torch.device, dtype: torch.dtype) -> dict:
    """language_model.model.* tensors, renamed to Gemma3TextModel keys."""
    weights = {}
    for path in weight_files(Path(text_encoder_dir)):
        with safe_open(str(path), framework="pt", device=str(device)) as file:
            for key in file.keys():
                name = gemma_text_key(key)
                if name is not None:
                    weights[name] = file.get_tensor(key).to(dtype)
    return weights


def _materialize_non_persistent_buffers(model: Gemma3TextModel, device: torch.device) -> None:
    """Buffers that are not in checkpoints (built on the meta device): embedding scale and RoPE tables.
    The rotary modules are built again on `device` from the config each was made with, which holds under
    transformers 4 (`rotary_emb` + `rotary_emb_local`, one table each) and 5 (one `rotary_emb`, a table per
    layer type)."""
    scale = torch.tensor(model.config.hidden_size**0.5, device=device)
    model.embed_tokens.register_buffer("embed_scale", scale, persistent=False)
    for name, rotary in list(model.named_children()):
        if name.startswith("rotary_emb"):
            setattr(model, name, type(rotary)(rotary.config, device=device))


class GemmaEncoder(nn.Module):
    """Tokenizer + Gemma 3 text tower: prompts -> (hidden states of every layer, attention mask)."""

    def __init__(self, model: Gemma3TextModel, tokenizer: PreTrainedTokenizerBase, files: GemmaFiles | None = None):
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.files = files  # where it was read from (the prompt enhancer reads the vision tower there)

    @property
    def config(self) -> Gemma3TextConfig:
        return self.model.config

    def tokenize(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """-> input_ids, attention_mask, both [B, PROMPT_TOKENS] int64 (left-padded, truncated)."""
        encoded = self.tokenizer(
            [prompt.strip() for prompt in prompts],
            padding="max_length",
            max_length=PROMPT_TOKENS,
            truncation=True,
            return_tensors="pt",
        )
        return encoded.input_ids, encoded.attention_mask

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """-> num_hidden_layers + 1 tensors [B, T, hidden] (embeddings, each layer; the last one normed)."""
        outputs = self.model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True, use_cache=False
        )
        return outputs.hidden_states

    def encode(self, prompts: list[str]) -> tuple[tuple[torch.Tensor, ...], torch.Tensor]:
        device = self.model.embed_tokens.weight.device
        input_ids, attention_mask = (t.to(device) for t in self.tokenize(prompts))
        return self(input_ids, attention_mask), attention_mask


def load_gemma_encoder(gemma: GemmaFiles, device: torch.device | str, dtype: torch.dtype) -> GemmaEncoder:
    """Gemma's text tower and tokenizer from `gemma` (offline, strict). Weights are read tensor by tensor
    straight into `dtype` on `device` (fp32 shards are never held whole)."""
    device = torch.device(device)
    config = load_gemma_text_config(gemma.text_encoder)
    with torch.device("meta"):
        model = Gemma3TextModel(config)
    model.load_state_dict(read_gemma_text_weights(gemma.text_encoder, device, dtype), strict=True, assign=True)
    _materialize_non_persistent_buffers(model, device)
    return GemmaEncoder(model.eval(), load_gemma_tokenizer(gemma.tokenizer), gemma)
