"""`--model-path`: a Hugging Face repo id or a local directory / file -> the files of one model.

Official single-file layout (Lightricks/LTX-2, Lightricks/LTX-2.3):
    <root>/<name>.safetensors                 transformer + connectors + VAEs + vocoder, config in metadata
                                              (several: the dev checkpoint first, then distilled, then fp8/fp4)
    <root>/text_encoder/, <root>/tokenizer/   Gemma 3 in transformers format
    <root>/*spatial-upscaler-x2*.safetensors  two-stage pipelines (not the temporal or x1.5 upscalers beside it)
    <root>/*distilled-lora*.safetensors       two-stage pipelines
Where a file comes in several versions (`...-1.1`, `...-1.0`, none), the newest is taken.
Diffusers layout: <root>/model_index.json with one subfolder per component. Lightricks/LTX-2 has both: its
single files are taken, as ltx-pipelines takes them.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ltx_backend.errors import LoadError


class ModelPathError(LoadError):
    pass


@dataclass(frozen=True)
class ModelFiles:
    root: Path
    layout: str  # "single-file" or "diffusers"
    checkpoint: Path | None  # the single-file checkpoint (None for diffusers)
    text_encoder: Path
    tokenizer: Path
    spatial_upsampler: Path | None
    distilled_lora: Path | None


def _is_auxiliary(name: str) -> bool:
    lowered = name.lower()
    return "upscaler" in lowered or "upsampler" in lowered or "lora" in lowered


def _checkpoint_preference(path: Path) -> tuple:
    """Full-precision, non-distilled checkpoints first (the ones the pipelines' guidance is tuned for); among
    equals the newest version, then by name."""
    lowered = path.name.lower()
    quantised = any(tag in lowered for tag in ("fp8", "fp4", "nvfp", "int8"))
    newest_first = tuple(-part for part in file_version(path)) + (1,)  # (1, 1) before (1, 0) before none
    return (2 * quantised + ("distilled" in lowered), newest_first, path.name)


def resolve_model_path(model_path: str, weight_name: str | None = None) -> Path:
    """A local directory or file is used as it is; anything else is a Hugging Face repo id.

    Repo ids resolve through huggingface_hub's cache (HF_HOME, HF_HUB_OFFLINE honoured).
    """
    local = Path(model_path).expanduser()
    if local.exists():
        return local.resolve()
    if model_path.count("/") != 1 or model_path.startswith((".", "/")):
        raise ModelPathError(f"invalid model_path={model_path!r}: not an existing local path, and not a Hugging Face repo id (owner/name)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError

        try:
            return Path(snapshot_download(repo_id=model_path, allow_patterns=[weight_name] if weight_name else None))
        except LocalEntryNotFoundError as error:
            offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
            hint = "HF_HUB_OFFLINE is set and the repo is not in the cache" if offline else "the repo could not be downloaded"
            raise ModelPathError(f"invalid model_path={model_path!r}: {hint} ({error})") from error
    except ImportError as error:  # pragma: no cover - huggingface_hub is a dependency
        raise ModelPathError(f"model_path={model_path!r} looks like a repo id but huggingface_hub is missing") from error


SPATIAL_UPSCALER_TAG = "spatial-upscaler-x2"  # not ltx-2.3-spatial-upscaler-x1.5-1.0 nor *-temporal-upscaler-x2-*
DISTILLED_LORA_TAG = "distilled-lora"


def find_model_files(model_path: str) -> ModelFiles:
    root = resolve_model_path(model_path)
    candidates = [] if root.is_file() else sorted(
        (p for p in root.glob("*.safetensors") if not _is_auxiliary(p.name)), key=_checkpoint_preference
    )
    if root.is_file():
        checkpoint, root = root, root.parent
    elif candidates:  # the single files win over a diffusers copy beside them (Lightricks/LTX-2 has both)
        checkpoint = candidates[0]
    elif (root / "model_index.json").exists():
        upsampler = _find(root, SPATIAL_UPSCALER_TAG) or _dir(root, "latent_upsampler")
        return ModelFiles(root, "diffusers", None, root / "text_encoder", root / "tokenizer", upsampler, _find(root, DISTILLED_LORA_TAG))
    else:
        raise ModelPathError(f"invalid model_path={model_path!r}: no checkpoint *.safetensors at {root} (and no model_index.json)")
    for sub in ("text_encoder", "tokenizer"):
        if not (root / sub).is_dir():
            raise ModelPathError(f"invalid model_path={model_path!r}: missing {sub}/ beside {checkpoint.name}")
    return ModelFiles(
        root, "single-file", checkpoint, root / "text_encoder", root / "tokenizer", _find(root, SPATIAL_UPSCALER_TAG),
        _find(root, DISTILLED_LORA_TAG),
    )


_VERSION = re.compile(r"-(\d+(?:\.\d+)+)$")  # ltx-2.3-spatial-upscaler-x2-1.1 -> (1, 1); ...-lora-384 -> none


def file_version(path: Path) -> tuple[int, ...]:
    """A published file's version from its name: (1, 1) for `...-1.1.safetensors`, () for none (the first)."""
    match = _VERSION.search(path.name.removesuffix(".safetensors"))
    return tuple(int(part) for part in match.group(1).split(".")) if match else ()


def _find(root: Path, tag: str) -> Path | None:
    """The newest `*<tag>*.safetensors` (`-1.1` over `-1.0` over no version; by name among equals)."""
    matches = [p for p in root.glob("*.safetensors") if tag in p.name.lower()]
    return max(matches, key=lambda p: (file_version(p), p.name)) if matches else None


def _dir(root: Path, name: str) -> Path | None:
    return root / name if (root / name).is_dir() else None
