"""Where Gemma 3's files lie and how long a prompt is: what resolution and request checks need, without
importing transformers (2-3 s a process: every Triton model's stub would pay it, not only the text encoder's)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

PROMPT_TOKENS = 1024  # every prompt is left-padded (or truncated) to this many tokens
TEXT_ENCODER_DIR = "text_encoder"
TOKENIZER_DIR = "tokenizer"


@dataclass(frozen=True)
class GemmaFiles:
    """Where Gemma 3 lies: its config.json + model*.safetensors folder and its tokenizer folder. Split layout
    (Lightricks/LTX-2, diffusers): <root>/text_encoder/ + <root>/tokenizer/; flat layout (Google's repo
    google/gemma-3-12b-it-qat-q4_0-unquantized): both in <root>. loading/model_path.py finds them."""

    text_encoder: Path
    tokenizer: Path

    @property
    def layout(self) -> str:
        return "flat" if self.text_encoder == self.tokenizer else "split"


def weight_files(text_encoder_dir: Path) -> list[Path]:
    index = text_encoder_dir / "model.safetensors.index.json"
    if index.exists():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [text_encoder_dir / shard for shard in shards]
    files = sorted(text_encoder_dir.glob("model*.safetensors"))
    if not files:
        raise FileNotFoundError(f"no model*.safetensors in {text_encoder_dir}")
    return files
