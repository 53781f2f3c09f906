"""The flags that choose what is loaded, shared by `generate`, `serve` (and `download`): `--lora-path` /
`--lora-weight-name` / `--lora-scale` / `--quantization` (the LoadOptions a pipeline or a server is loaded with) and
`--text-encoder-path`, `--spatial-upsampler-path`, `--distilled-lora-path` (files other than the resolver's)."""
from __future__ import annotations

import argparse

from ltx_backend.loading.quantization import QUANTIZATIONS
from ltx_backend.request import LoadOptions


def add_lora_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--lora-path", default=None, help="a LoRA merged into every stage: .safetensors file, folder or Hugging Face repo id")
    p.add_argument("--lora-weight-name", default=None, help="the LoRA file inside a folder/repo holding several")
    p.add_argument("--lora-scale", type=float, default=None, help="the LoRA's strength (default 1.0; only with --lora-path)")
    p.add_argument("--quantization", default=None, choices=QUANTIZATIONS,
                   help="fp8-cast: the transformer blocks' Linear weights stored in fp8 (half the memory), upcast at each "
                        "call, as ltx-pipelines' flag; a published -fp8 checkpoint is loaded so without it")


def load_options(args: argparse.Namespace) -> LoadOptions:
    """The flags as LoadOptions, checked (InvalidRequest names the flag)."""
    scale = {} if args.lora_scale is None else {"lora_scale": args.lora_scale}
    return LoadOptions(lora_path=args.lora_path, lora_weight_name=args.lora_weight_name, quantization=args.quantization,
                       **scale).check(as_flags=True)


def add_file_flags(p: argparse.ArgumentParser) -> None:
    """The files a flag can name instead of the resolver's choice (loading/published_files.py)."""
    p.add_argument("--text-encoder-path", "--gemma-root", dest="text_encoder_path", default=None,
                   help="Gemma 3 (folder or Hugging Face repo id, flat or text_encoder/ + tokenizer/): default the checkpoint's "
                        "own text_encoder/, else google/gemma-3-12b-it-qat-q4_0-unquantized (LTX-2.3 has none)")
    p.add_argument("--spatial-upsampler-path", default=None,
                   help="default: the newest *spatial-upscaler-x2*.safetensors of the model (two-stage classes)")
    p.add_argument("--distilled-lora-path", default=None, help="default: the newest *distilled-lora*.safetensors of the model (two-stage classes)")


def local_or_repo(path: str | None) -> str | None:
    """A path that exists as an absolute path (the server's models run in another directory); a repo id as it is."""
    from pathlib import Path

    return str(Path(path).resolve()) if path is not None and Path(path).exists() else path
