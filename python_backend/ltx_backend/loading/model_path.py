"""`--model-path` (+ `--text-encoder-path`): a Hugging Face repo id or a local folder / checkpoint file -> the
files of one model, chosen by the table of loading/published_files.py, fetched only where needed.

Official single-file layout (Lightricks/LTX-2, Lightricks/LTX-2.3): a checkpoint holding transformer, connectors,
VAEs and vocoder, config in its metadata; beside it the spatial x2 upscaler and the distilled LoRA. Gemma 3 from
`--text-encoder-path`, else the repo's own text_encoder/ + tokenizer/ (Lightricks/LTX-2), else its own repo
google/gemma-3-12b-it-qat-q4_0-unquantized (LTX-2.3 has none). Diffusers layout: model_index.json and one folder
per component; Lightricks/LTX-2 has both, and its single files are taken, as ltx-pipelines takes them.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ltx_backend.loading.published_files import (
    DIFFUSERS_INDEX,
    DIFFUSERS_UPSAMPLER_DIR,
    DISTILLED_LORA_TAG,
    GEMMA_REPO,
    SPATIAL_UPSCALER_TAG,
    Needs,
    choose_checkpoint,
    choose_newest,
    diffusers_names,
    gemma_layout,
    gemma_names,
    version_label,
)
from ltx_backend.loading.repo_files import HubRepo, LocalFolder, ModelPathError, is_repo_id
from ltx_backend.models.text_encoder.gemma import GemmaFiles

log = logging.getLogger(__name__)

__all__ = ["ModelFiles", "ModelPathError", "Needs", "download_command", "find_model_files", "find_gemma"]


@dataclass(frozen=True)
class ModelFiles:
    """The chosen files, on disk. Those not asked for (Needs) are None."""

    root: Path  # the folder the checkpoint (or the diffusers layout) lies in
    layout: str  # "single-file" or "diffusers"
    checkpoint: Path | None  # the single-file checkpoint (None for diffusers)
    gemma: GemmaFiles | None
    gemma_source: str | None  # where Gemma came from: a repo id or a folder
    spatial_upsampler: Path | None  # a *spatial-upscaler-x2*.safetensors file or a diffusers latent_upsampler/ folder
    distilled_lora: Path | None

    def summary(self) -> str:
        """One line naming each chosen file with its version."""
        parts = [f"checkpoint {self.checkpoint.name}" if self.checkpoint else f"diffusers layout {self.root}"]
        for kind, path in (("distilled LoRA", self.distilled_lora), ("spatial upscaler", self.spatial_upsampler)):
            if path is not None:
                parts.append(f"{kind} {path.name}" + (f" (version {version_label(path.name)})" if path.is_file() else ""))
        if self.gemma is not None:
            parts.append(f"Gemma {self.gemma_source} ({self.gemma.layout} layout, {self.gemma.text_encoder})")
        return "; ".join(parts)


def download_command(model_path: str, text_encoder_path: str | None = None) -> str:
    extra = f" --text-encoder-path {text_encoder_path}" if text_encoder_path else ""
    return f"ltx-triton download --model-path {model_path}{extra}"


def _open(path: str, command: str) -> tuple[LocalFolder | HubRepo, str | None]:
    """(the files' source, the checkpoint's name when `path` is a file)."""
    local = Path(path).expanduser()
    if local.is_file():
        return LocalFolder(local.resolve().parent), local.name
    if local.is_dir():
        return LocalFolder(local.resolve()), None
    if not is_repo_id(path):
        raise ModelPathError(f"invalid model_path={path!r}: not an existing local path, and not a Hugging Face repo id (owner/name)")
    return HubRepo(path, command), None


def find_model_files(model_path: str, needs: Needs = Needs(), text_encoder_path: str | None = None) -> ModelFiles:
    """The model's files for `needs`, fetched (downloaded for a repo id, at most once: the hub's cache) or, offline,
    checked in the cache, before any weight is read."""
    command = download_command(model_path, text_encoder_path)
    source, given = _open(model_path, command)
    names = source.names
    if isinstance(source, HubRepo) and source.offline and not names:
        raise source.not_cached("no file")
    checkpoint = given or choose_checkpoint(names)
    wanted: dict[str, str | None] = {}
    if checkpoint is not None:
        layout, wanted["checkpoint"] = "single-file", checkpoint
    elif DIFFUSERS_INDEX in names:
        layout = "diffusers"
    else:
        raise ModelPathError(f"invalid model_path={model_path!r}: no checkpoint *.safetensors in {source.label} (and no {DIFFUSERS_INDEX})")
    upsampler = choose_newest(names, SPATIAL_UPSCALER_TAG)
    if needs.spatial_upsampler:
        if upsampler is None and not (layout == "diffusers" and any(n.startswith(DIFFUSERS_UPSAMPLER_DIR + "/") for n in names)):
            raise _missing(source, f"a spatial x2 upscaler (*{SPATIAL_UPSCALER_TAG}*.safetensors)", "--spatial-upsampler-path")
        wanted["spatial_upsampler"] = upsampler
    if needs.distilled_lora:
        wanted["distilled_lora"] = choose_newest(names, DISTILLED_LORA_TAG)
        if wanted["distilled_lora"] is None:
            raise _missing(source, f"a distilled LoRA (*{DISTILLED_LORA_TAG}*.safetensors)", "--distilled-lora-path")
    own_gemma = gemma_layout(names) if needs.text_encoder and text_encoder_path is None else None
    fetch = [name for name in wanted.values() if name is not None]
    if layout == "diffusers":
        fetch += diffusers_names(names, upsampler_folder=needs.spatial_upsampler and upsampler is None)
    if own_gemma is not None:
        fetch += gemma_names(names, own_gemma)
    root = source.fetch(sorted(set(fetch)))
    gemma, gemma_source = None, None
    if own_gemma is not None:
        gemma, gemma_source = GemmaFiles(root / own_gemma[0], root / own_gemma[1]), source.label
    elif needs.text_encoder:
        gemma_source = text_encoder_path or GEMMA_REPO
        gemma = find_gemma(gemma_source, command, given_by_flag=text_encoder_path is not None)
    upsampler_path = None
    if needs.spatial_upsampler:
        upsampler_path = root / upsampler if upsampler else root / DIFFUSERS_UPSAMPLER_DIR
    return ModelFiles(
        root, layout, root / checkpoint if checkpoint else None, gemma, gemma_source, upsampler_path,
        root / wanted["distilled_lora"] if wanted.get("distilled_lora") else None,
    )


def _missing(source: LocalFolder | HubRepo, what: str, flag: str) -> ModelPathError:
    if isinstance(source, HubRepo) and source.offline:
        return source.not_cached(what)
    return ModelPathError(f"{source.label} has no {what}: give one with {flag}")


def find_gemma(path: str, command: str, given_by_flag: bool = True) -> GemmaFiles:
    """Gemma 3 from a folder or repo id, flat (Google's repo) or split (text_encoder/ + tokenizer/)."""
    try:
        source, _ = _open(path, command)
    except ModelPathError:
        raise ModelPathError(f"invalid --text-encoder-path={path!r}: not an existing folder, and not a Hugging Face repo id") from None
    layout = gemma_layout(source.names)
    if layout is None:
        where = f"{source.label} holds no Gemma 3 (config.json, model*.safetensors, tokenizer files; flat or in text_encoder/ + tokenizer/)"
        if isinstance(source, HubRepo) and source.offline:
            where = f"{path} is not in the Hugging Face cache and {source.why_offline}"
        hint = "" if given_by_flag else (
            f". The checkpoint has no text_encoder/ of its own (LTX-2.3 has none): its Gemma is {GEMMA_REPO}, gated on the "
            "hub (accept its terms, set HF_TOKEN)"
        )
        raise ModelPathError(f"no text encoder: {where}{hint}. Give --text-encoder-path (a folder or repo id holding Gemma 3), or run `{command}`")
    root = source.fetch(gemma_names(source.names, layout))
    return GemmaFiles(root / layout[0], root / layout[1])
