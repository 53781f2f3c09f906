"""`--lora-path` / `--lora-weight-name` / `--lora-scale`, shared by `generate` and `serve`: the LoadOptions
a pipeline (or a server) is loaded with."""
from __future__ import annotations

import argparse

from ltx_backend.request import LoadOptions


def add_lora_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lora-path", default=None, help="a LoRA merged into every stage: .safetensors file, folder or Hugging Face repo id")
    p.add_argument("--lora-weight-name", default=None, help="the LoRA file inside a folder/repo holding several")
    p.add_argument("--lora-scale", type=float, default=1.0)


def load_options(args: argparse.Namespace) -> LoadOptions:
    """The flags as LoadOptions, checked (InvalidRequest names the flag)."""
    return LoadOptions(lora_path=args.lora_path, lora_weight_name=args.lora_weight_name, lora_scale=args.lora_scale).check(as_flags=True)
