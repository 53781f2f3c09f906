"""Which files of a model repo are needed, chosen by their published names: the one table of the resolver.

    kind               needed by                          chosen among the repo's files
    checkpoint         every pipeline class               the top-level *.safetensors that is no upscaler or LoRA:
                                                          dev before distilled before fp8 / fp4, then the newest;
                                                          LTX2DistilledPipeline: the *distilled* ones only
    spatial upscaler   the two-stage classes              *spatial-upscaler-x2*.safetensors, the newest (never the
                                                          temporal or x1.5 ones); diffusers: latent_upsampler/
    distilled LoRA     classes with distilled-LoRA stages *distilled-lora*.safetensors, the newest
    Gemma 3            the text encoder                   the repo's own text_encoder/ + tokenizer/ (Lightricks/LTX-2),
                                                          else google/gemma-3-12b-it-qat-q4_0-unquantized (LTX-2.3)

The newest version: `-1.1` over `-1.0` over no version, by number. A repo with model_index.json and no
single-file checkpoint is in the diffusers layout: the component folders are needed instead. Names here are
paths inside the repo ('/'-separated), as the hub lists them; nothing here reads a file.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ltx_backend.loading.diffusers_layout import SUBFOLDERS
from ltx_backend.models.text_encoder.gemma_files import TEXT_ENCODER_DIR, TOKENIZER_DIR

GEMMA_REPO = "google/gemma-3-12b-it-qat-q4_0-unquantized"  # LTX-2.3 has no Gemma of its own (ltx-pipelines' --gemma-root)
SPATIAL_UPSCALER_TAG = "spatial-upscaler-x2"  # not ltx-2.3-spatial-upscaler-x1.5-1.0 nor *-temporal-upscaler-x2-*
DISTILLED_LORA_TAG = "distilled-lora"
QUANTISED_TAGS = ("fp8", "fp4", "nvfp", "int8")
# What Gemma's loader reads: the config and the weights (sharded with an index), and the tokenizer's files.
GEMMA_FILES = ("config.json", "model.safetensors.index.json")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json")
DIFFUSERS_INDEX = "model_index.json"
DIFFUSERS_FOLDERS = tuple(dict.fromkeys(SUBFOLDERS.values()))  # the folders loading/diffusers_layout.py reads
DIFFUSERS_UPSAMPLER_DIR = "latent_upsampler"


@dataclass(frozen=True)
class Needs:
    """The files asked for besides the checkpoint (which is always needed)."""

    text_encoder: bool = False
    spatial_upsampler: bool = False
    distilled_lora: bool = False
    distilled_checkpoint: bool = False  # the checkpoint is the distilled one (LTX2DistilledPipeline), not the dev one


EVERY_FILE = Needs(text_encoder=True, spatial_upsampler=True, distilled_lora=True)

_VERSION = re.compile(r"-(\d+(?:\.\d+)+)$")  # ltx-2.3-spatial-upscaler-x2-1.1 -> (1, 1); ...-lora-384 -> none


def file_version(name: str | Path) -> tuple[int, ...]:
    """A published file's version from its name: (1, 1) for `...-1.1.safetensors`, () for none (the first)."""
    match = _VERSION.search(Path(name).name.removesuffix(".safetensors"))
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def version_label(name: str) -> str:
    """'version 1.1', or 'unversioned' (the first release, older than 1.0)."""
    version = file_version(name)
    return "version " + ".".join(map(str, version)) if version else "unversioned"


def _basename(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _top_level_weights(names: Iterable[str]) -> list[str]:
    return [n for n in names if "/" not in n and n.endswith(".safetensors")]


def _is_auxiliary(name: str) -> bool:
    lowered = name.lower()
    return "upscaler" in lowered or "upsampler" in lowered or "lora" in lowered


def _checkpoint_preference(name: str) -> tuple:
    """Full-precision, non-distilled checkpoints first (the ones the guided pipelines are tuned for); among
    equals the newest version, then by name."""
    lowered = name.lower()
    quantised = any(tag in lowered for tag in QUANTISED_TAGS)
    newest_first = tuple(-part for part in file_version(name)) + (1,)  # (1, 1) before (1, 0) before none
    return (2 * quantised + ("distilled" in lowered), newest_first, name)


def is_preferred_checkpoint(name: str) -> bool:
    """A full-precision, non-distilled checkpoint: the kind the table takes first."""
    return _checkpoint_preference(name)[0] == 0


def choose_checkpoint(names: Iterable[str], distilled: bool = False) -> str | None:
    """The dev checkpoint (full precision first, the newest); with `distilled`, the distilled one (the same
    order among the `*distilled*` files: `-distilled-1.1` over `-distilled` over `-distilled-fp8`)."""
    candidates = [n for n in _top_level_weights(names) if not _is_auxiliary(n)]
    if distilled:
        candidates = [n for n in candidates if "distilled" in _basename(n).lower()]
    return min(candidates, key=_checkpoint_preference) if candidates else None


UNSUPPORTED_TAGS = ("fp4", "nvfp")  # NVFP4 files (ltx-2-19b-dev-fp4): fp4 matmuls on Blackwell, which we do not run


def unsupported_checkpoint(name: str, names: Iterable[str]) -> str | None:
    """Why the checkpoint `name` cannot be loaded and what to use instead (None: it can)."""
    lowered = _basename(name).lower()
    if not any(tag in lowered for tag in UNSUPPORTED_TAGS):
        return None
    others = [n for n in _top_level_weights(names) if not _is_auxiliary(n) and not any(t in n.lower() for t in UNSUPPORTED_TAGS)]
    fp8 = [n for n in others if "fp8" in n.lower()]
    instead = f"{min(fp8, key=_checkpoint_preference)} (fp8)" if fp8 else (min(others, key=_checkpoint_preference) if others else None)
    return (f"{_basename(name)} holds NVFP4 (fp4) weights, which this server does not run (they need fp4 matmuls on Blackwell "
            f"GPUs); use {instead or 'the fp8 or full-precision checkpoint of the same model'} instead, or the full-precision "
            "file with --quantization fp8-cast")


def choose_newest(names: Iterable[str], tag: str) -> str | None:
    """The newest top-level `*<tag>*.safetensors` (`-1.1` over `-1.0` over none; by name among equals)."""
    matches = [n for n in _top_level_weights(names) if tag in n.lower()]
    return max(matches, key=lambda n: (file_version(n), n)) if matches else None


def gemma_layout(names: Iterable[str]) -> tuple[str, str] | None:
    """(text encoder folder, tokenizer folder) inside the repo ('' = its top), or None when it holds no Gemma:
    the split layout (text_encoder/ + tokenizer/) where it has one, else the flat one (config + weights +
    tokenizer at the top, Google's repo)."""
    names = set(names)
    for text_dir, tokenizer_dir in ((TEXT_ENCODER_DIR, TOKENIZER_DIR), ("", "")):
        has_weights = any(_in(n, text_dir) and _basename(n).startswith("model") and n.endswith(".safetensors") for n in names)
        if has_weights and _join(text_dir, "config.json") in names and _join(tokenizer_dir, "tokenizer_config.json") in names:
            return text_dir, tokenizer_dir
    return None


def gemma_names(names: Iterable[str], layout: tuple[str, str]) -> list[str]:
    """Exactly the files Gemma's loader reads, in the given layout."""
    names = set(names)
    text_dir, tokenizer_dir = layout
    weights = [n for n in names if _in(n, text_dir) and _basename(n).startswith("model") and n.endswith(".safetensors")]
    wanted = {_join(text_dir, f) for f in GEMMA_FILES} | {_join(tokenizer_dir, f) for f in TOKENIZER_FILES} | set(weights)
    return sorted(wanted & names)


def diffusers_names(names: Iterable[str]) -> list[str]:
    """The diffusers layout's files: model_index.json and the component folders our loader reads (the text
    encoder's and the latent upsampler's are asked for as their own kinds)."""
    return sorted(n for n in names if n == DIFFUSERS_INDEX or n.split("/", 1)[0] in DIFFUSERS_FOLDERS)


def _in(name: str, folder: str) -> bool:
    """`name` lies directly in `folder` ('' = the top)."""
    return name.rsplit("/", 1)[0] == folder if "/" in name else folder == ""


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name
