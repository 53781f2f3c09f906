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
    checkpoint = checkpoint or choose_checkpoint(names)
    if checkpoint is not None:
        layout = "single-file"
    elif DIFFUSERS_INDEX in names:
        layout = "diffusers"
    else:
        raise ModelPathError(f"no checkpoint *.safetensors in {label} (and no {DIFFUSERS_INDEX})")
    upsampler = lora = gemma = None
    fetch = [checkpoint] if checkpoint else diffusers_names(names, upsampler_folder=False)
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
    return FilePlan(layout, checkpoint, upsampler, lora, gemma, tuple(sorted(set(fetch))))


class _Missing(Exception):
    def __init__(self, what: str, flag: str):
        super().__init__(what)
        self.what, self.flag = what, flag


def find_model_files(model_path: str, needs: Needs = Needs(), text_encoder_path: str | None = None) -> ModelFiles:
    """The model's files for `needs`, fetched (downloaded for a repo id, once: the hub's cache) or, offline,
    checked in the cache, before any weight is read."""
    command = download_command(model_path, text_encoder_path)
    source, given = _open(model_path, command)
    if isinstance(source, HubRepo) and source.offline and not source.names:
        raise source.not_cached("no file")
    try:
        plan = plan_files(source.names, needs, source.label, given, own_gemma=text_encoder_path is None)
    except _Missing as missing:
        if isinstance(source, HubRepo) and source.offline:
            raise source.not_cached(missing.what) from None
        raise ModelPathError(f"{source.label} has no {missing.what}: give one with {missing.flag}") from None
    except ModelPathError as error:
        raise ModelPathError(f"invalid model_path={model_path!r}: {error}") from None
    root = source.fetch(list(plan.fetch))
    gemma, gemma_source = None, None
    if plan.gemma is not None:
        gemma, gemma_source = GemmaFiles(root / plan.gemma[0], root / plan.gemma[1]), source.label
    elif needs.text_encoder:
        gemma_source = text_encoder_path or GEMMA_REPO
        gemma = find_gemma(gemma_source, command, given_by_flag=text_encoder_path is not None)
    def on_disk(name: str | None) -> Path | None:
        return root / name if name else None

    return ModelFiles(root, plan.layout, on_disk(plan.checkpoint), gemma, gemma_source, on_disk(plan.spatial_upsampler),
                      on_disk(plan.distilled_lora))


def find_gemma(path: str, command: str, given_by_flag: bool = True) -> GemmaFiles:
    """Gemma 3 from a folder or repo id, flat (Google's repo) or split (text_encoder/ + tokenizer/)."""
    if not Path(path).expanduser().exists() and not is_repo_id(path):
        raise ModelPathError(f"invalid --text-encoder-path={path!r}: not an existing folder, and not a Hugging Face repo id")
    source, _ = _open(path, command)
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
