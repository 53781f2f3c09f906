"""`--model-path`: a Hugging Face repo id or a local directory / file -> the files of one model.

Official single-file layout (Lightricks/LTX-2, Lightricks/LTX-2.3):
    <root>/<name>.safetensors                 transformer + connectors + VAEs + vocoder, config in metadata
    <root>/text_encoder/, <root>/tokenizer/   Gemma 3 in transformers format
    <root>/*spatial-upscaler-x2*.safetensors  optional, two-stage pipelines
    <root>/*distilled-lora*.safetensors       optional, two-stage pipelines
Diffusers layout: <root>/model_index.json with one subfolder per component.
"""
from __future__ import annotations

import os
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


def _checkpoint_preference(path: Path) -> tuple[int, str]:
    """Full-precision, non-distilled checkpoints first (the ones the pipelines' guidance is tuned for)."""
    lowered = path.name.lower()
    quantised = any(tag in lowered for tag in ("fp8", "fp4", "nvfp", "int8"))
    return (2 * quantised + ("distilled" in lowered), path.name)


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


def find_model_files(model_path: str) -> ModelFiles:
    root = resolve_model_path(model_path)
    if root.is_file():
        checkpoint, root = root, root.parent
    elif (root / "model_index.json").exists():
        return ModelFiles(root, "diffusers", None, root / "text_encoder", root / "tokenizer", _find(root, "upscaler") or _dir(root, "latent_upsampler"), _find(root, "distilled-lora"))
    else:
        candidates = sorted((p for p in root.glob("*.safetensors") if not _is_auxiliary(p.name)), key=_checkpoint_preference)
        if not candidates:
            raise ModelPathError(f"invalid model_path={model_path!r}: no checkpoint *.safetensors at {root} (and no model_index.json)")
        checkpoint = candidates[0]
    for sub in ("text_encoder", "tokenizer"):
        if not (root / sub).is_dir():
            raise ModelPathError(f"invalid model_path={model_path!r}: missing {sub}/ beside {checkpoint.name}")
    return ModelFiles(root, "single-file", checkpoint, root / "text_encoder", root / "tokenizer", _find(root, "spatial-upscaler-x2"), _find(root, "distilled-lora"))


def _find(root: Path, tag: str) -> Path | None:
    matches = sorted(p for p in root.glob("*.safetensors") if tag in p.name.lower())
    return matches[-1] if matches else None  # the highest version (…-1.1 after …-1.0)


def _dir(root: Path, name: str) -> Path | None:
    return root / name if (root / name).is_dir() else None
