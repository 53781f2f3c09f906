"""`--model-path` (+ `--text-encoder-path`): a Hugging Face repo id or a local folder / checkpoint file -> the
files of one model, chosen by the table of loading/published_files.py, fetched only where needed.

Official single-file layout (Lightricks/LTX-2, Lightricks/LTX-2.3): a checkpoint holding transformer, connectors,
VAEs and vocoder, config in its metadata; beside it the spatial x2 upscaler and the distilled LoRA. Gemma 3 from
`--text-encoder-path`, else the repo's own text_encoder/ + tokenizer/ (Lightricks/LTX-2), else its own repo
google/gemma-3-12b-it-qat-q4_0-unquantized (LTX-2.3 has none). Diffusers layout: model_index.json and one folder
per component; Lightricks/LTX-2 has both, and its single files are taken, as ltx-pipelines takes them.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ltx_backend.loading.published_files import (
    DIFFUSERS_INDEX,
    DIFFUSERS_UPSAMPLER_DIR,
    DISTILLED_LORA_TAG,
    GEMMA_REPO,
    SPATIAL_UPSCALER_TAG,
    TEXT_ENCODER_DIR,
    TOKENIZER_DIR,
    Needs,
    choose_checkpoint,
    choose_newest,
    diffusers_names,
    gemma_layout,
    gemma_names,
    is_preferred_checkpoint,
    unsupported_checkpoint,
    version_label,
)
from ltx_backend.loading.repo_files import HubRepo, LocalFolder, ModelPathError, is_repo_id
from ltx_backend.models.text_encoder.gemma_files import GemmaFiles

log = logging.getLogger(__name__)

__all__ = ["FilePlan", "ModelFiles", "ModelPathError", "Needs", "download_command", "find_gemma", "find_model_files", "plan_files"]


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
        parts = [f"diffusers layout {self.root}"] if self.checkpoint is None else []
        for kind, path in (("checkpoint", self.checkpoint), ("distilled LoRA", self.distilled_lora), ("spatial upscaler", self.spatial_upsampler)):
            if path is not None:
                parts.append(f"{kind} {path.name}" + (f" ({version_label(path.name)})" if path.is_file() else ""))
        if self.gemma is not None:
            parts.append(f"Gemma {self.gemma_source} ({self.gemma.layout} layout, {self.gemma.text_encoder})")
        return "; ".join(parts)


def download_command(model_path: str, text_encoder_path: str | None = None) -> str:
    extra = f" --text-encoder-path {text_encoder_path}" if text_encoder_path else ""
    return f"ltx-triton download --model-path {model_path}{extra}"


def _open(path: str, command: str) -> tuple[LocalFolder | HubRepo, str | None]:
    """(the files' source, the checkpoint's name when `path` is a file)."""
    local = Path(os.path.abspath(Path(path).expanduser()))  # not resolve(): a cached file is a link into blobs/
    if local.is_file():
        return LocalFolder(local.parent), local.name
    if local.is_dir():
        return LocalFolder(local), None
    if not is_repo_id(path):
        raise ModelPathError(f"invalid model_path={path!r}: not an existing local path, and not a Hugging Face repo id (owner/name)")
    return HubRepo(path, command), None


@dataclass(frozen=True)
class FilePlan:
    """What to take from a repo's listing for `needs` (nothing read yet): the names of each kind, and `fetch`,
    exactly the files to download (the allow-list)."""

    layout: str
    checkpoint: str | None
    spatial_upsampler: str | None  # a file, or the diffusers latent_upsampler/ folder
    distilled_lora: str | None
    gemma: tuple[str, str] | None  # the repo's own (text encoder folder, tokenizer folder), '' = its top
    fetch: tuple[str, ...]


def plan_files(names: list[str], needs: Needs, label: str, checkpoint: str | None = None, own_gemma: bool = True) -> FilePlan:
    """The table applied to a listing. `checkpoint`: given by name (a file path given); `own_gemma`: False when
    Gemma comes from elsewhere (--text-encoder-path). Raises _Missing(kind, flag) for a needed kind not there."""
    checkpoint = checkpoint or choose_checkpoint(names, needs.distilled_checkpoint)
    if checkpoint is None and needs.distilled_checkpoint:
        raise _Missing("a distilled checkpoint (*distilled*.safetensors, not the distilled LoRA)", "--model-path")
    if checkpoint is not None and (why := unsupported_checkpoint(checkpoint, names)) is not None:
        raise ModelPathError(why)
    if checkpoint is not None:
        layout = "single-file"
    elif DIFFUSERS_INDEX in names:
        layout = "diffusers"
    else:
        raise ModelPathError(f"no checkpoint *.safetensors in {label} (and no {DIFFUSERS_INDEX})")
    upsampler = lora = gemma = None
    fetch = [checkpoint] if checkpoint else diffusers_names(names)
    if needs.spatial_upsampler:
        upsampler = choose_newest(names, SPATIAL_UPSCALER_TAG)
        if upsampler is not None:
            fetch.append(upsampler)
        elif layout == "diffusers" and any(n.startswith(DIFFUSERS_UPSAMPLER_DIR + "/") for n in names):
            upsampler = DIFFUSERS_UPSAMPLER_DIR
            fetch += [n for n in names if n.startswith(DIFFUSERS_UPSAMPLER_DIR + "/")]
        else:
            raise _Missing(f"a spatial x2 upscaler (*{SPATIAL_UPSCALER_TAG}*.safetensors)", "--spatial-upsampler-path")
    if needs.distilled_lora:
        lora = choose_newest(names, DISTILLED_LORA_TAG)
        if lora is None:
            raise _Missing(f"a distilled LoRA (*{DISTILLED_LORA_TAG}*.safetensors)", "--distilled-lora-path")
        fetch.append(lora)
    if needs.text_encoder and own_gemma:
        gemma = gemma_layout(names)
        if gemma is not None:
            fetch += gemma_names(names, gemma)
        elif any(n.split("/", 1)[0] in (TEXT_ENCODER_DIR, TOKENIZER_DIR) for n in names if "/" in n):
            raise _Missing(f"Gemma 3 in {TEXT_ENCODER_DIR}/ + {TOKENIZER_DIR}/ (config.json, model*.safetensors, tokenizer_config.json)",
                           "--text-encoder-path")
    return FilePlan(layout, checkpoint, upsampler, lora, gemma, tuple(sorted(set(fetch))))


class _Missing(Exception):
    def __init__(self, what: str, flag: str):
        super().__init__(what)
        self.what, self.flag = what, flag


def find_model_files(model_path: str, needs: Needs = Needs(), text_encoder_path: str | None = None) -> ModelFiles:
    """The model's files for `needs`: every source listed and every choice made first (a gated or missing Gemma
    is an error before the checkpoint downloads), then fetched (downloaded for a repo id, once: the hub's cache)
    or, offline, checked in the cache; all before any weight is read."""
    command = download_command(model_path, text_encoder_path)
    source, given = _open(model_path, command)
    if source.offline and not source.names:
        raise source.not_cached("no file")
    try:
        plan = plan_files(source.names, needs, source.label, given, own_gemma=text_encoder_path is None)
    except _Missing as missing:
        if source.offline:
            raise source.not_cached(missing.what) from None
        raise ModelPathError(f"{source.label} lacks {missing.what}: give it with {missing.flag}") from None
    except ModelPathError as error:
        raise ModelPathError(f"invalid model_path={model_path!r}: {error}") from None
    if source.offline and plan.checkpoint and given is None and not needs.distilled_checkpoint and not is_preferred_checkpoint(plan.checkpoint):
        log.warning("%s: %s is the checkpoint the cache holds; online the dev checkpoint would be taken", source.label, plan.checkpoint)
    gemma_source = gemma = None
    if plan.gemma is None and needs.text_encoder:
        gemma_source = text_encoder_path or GEMMA_REPO
        gemma = _plan_gemma(gemma_source, command, given_by_flag=text_encoder_path is not None)
    root = source.fetch(list(plan.fetch))
    if plan.gemma is not None:
        gemma_source, gemma = source.label, (source, plan.gemma)
    gemma_files = None if gemma is None else _fetch_gemma(*gemma, root if plan.gemma is not None else None)

    def on_disk(name: str | None) -> Path | None:
        return root / name if name else None

    return ModelFiles(root, plan.layout, on_disk(plan.checkpoint), gemma_files, gemma_source, on_disk(plan.spatial_upsampler),
                      on_disk(plan.distilled_lora))


def _plan_gemma(path: str, command: str, given_by_flag: bool) -> tuple[LocalFolder | HubRepo, tuple[str, str]]:
    """(the source, its Gemma layout) of a folder or repo id, listed (a gated repo's access checked), not fetched."""
    if not Path(path).expanduser().exists() and not is_repo_id(path):
        raise ModelPathError(f"invalid --text-encoder-path={path!r}: not an existing folder, and not a Hugging Face repo id")
    source, _ = _open(path, command)
    layout = gemma_layout(source.names)
    if layout is None:
        where = f"{source.label} holds no Gemma 3 (config.json, model*.safetensors, tokenizer files; flat or in text_encoder/ + tokenizer/)"
        if source.offline:
            where = f"{path} is not in the Hugging Face cache and {source.why_offline}"
        hint = "" if given_by_flag else (
            f". The checkpoint has no text_encoder/ of its own (LTX-2.3 has none): its Gemma is {GEMMA_REPO}, gated on the "
            "hub (accept its terms, set HF_TOKEN)"
        )
        raise ModelPathError(f"no text encoder: {where}{hint}. Give --text-encoder-path (a folder or repo id holding Gemma 3), or run `{command}`")
    return source, layout


def _fetch_gemma(source: LocalFolder | HubRepo, layout: tuple[str, str], root: Path | None = None) -> GemmaFiles:
    """Fetch Gemma's files (`root`: already fetched there) and check every shard its index names is there."""
    root = root or source.fetch(gemma_names(source.names, layout))
    gemma = GemmaFiles(root / layout[0], root / layout[1])
    index = gemma.text_encoder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        missing = [f"{layout[0]}/{s}".lstrip("/") for s in shards if not (gemma.text_encoder / s).is_file()]
        if missing:
            raise source.not_cached(", ".join(missing)) if source.offline else ModelPathError(f"{source.label}: missing {', '.join(missing)}")
    return gemma


def find_gemma(path: str, command: str = "ltx-triton download --text-encoder-path PATH") -> GemmaFiles:
    """Gemma 3 from a folder or repo id, flat (Google's repo) or split (text_encoder/ + tokenizer/), fetched."""
    return _fetch_gemma(*_plan_gemma(path, command, given_by_flag=True))
