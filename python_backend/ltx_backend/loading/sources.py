"""A model on disk, whatever its layout: the version, and each component loaded on a device.

`open_model(model_path, needs)` resolves the path (repo id or local) and fetches the files asked for
(loading/model_path.py), detects the layout and reads only metadata; components are loaded on request. Both
layouts give the same modules (ltx-core's key names).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ltx_backend.loading.checkpoint import WeightStorage, read_checkpoint_info
from ltx_backend.loading.checkpoint_parts import check_every_key_is_claimed, load_part
from ltx_backend.loading.diffusers_layout import diffusers_model_version, load_diffusers_component
from ltx_backend.loading.model_path import ModelFiles, Needs, find_model_files

if TYPE_CHECKING:
    from ltx_backend.models.text_encoder.encoder import TextEncoder
# The text encoder's modules are imported where it is loaded: they import transformers, which the other Triton
# models' processes (all of which import this module) do not need.

log = logging.getLogger(__name__)


class SingleFileModel:
    """The official layout: one checkpoint with the config in its metadata, Gemma beside it."""

    def __init__(self, files: ModelFiles):
        self.files = files
        self.info = read_checkpoint_info(files.checkpoint)
        check_every_key_is_claimed(self.info)
        self.model_version = self.info.model_version
        self.description = str(files.checkpoint)

    def load(self, name: str, device: torch.device, dtype: torch.dtype, storage: WeightStorage | None = None) -> torch.nn.Module:
        return load_part(self.info, name, device, dtype, storage)

    def text_encoder(self, device: torch.device, dtype: torch.dtype) -> TextEncoder:
        from ltx_backend.models.text_encoder.encoder import load_text_encoder

        return load_text_encoder(_gemma(self.files), self.info.path, device, dtype)


class DiffusersModel:
    """The diffusers layout: model_index.json and one subfolder per component."""

    def __init__(self, files: ModelFiles):
        self.files = files
        self.model_version = diffusers_model_version(files.root)
        self.description = f"{files.root} (diffusers layout)"

    def load(self, name: str, device: torch.device, dtype: torch.dtype, storage: WeightStorage | None = None) -> torch.nn.Module:
        return load_diffusers_component(self.files.root, name, device, dtype, storage=storage)

    def text_encoder(self, device: torch.device, dtype: torch.dtype) -> TextEncoder:
        from ltx_backend.models.text_encoder.encoder import TextEncoder
        from ltx_backend.models.text_encoder.gemma import load_gemma_encoder

        gemma = load_gemma_encoder(_gemma(self.files), device, dtype)
        return TextEncoder(gemma, load_diffusers_component(self.files.root, "embeddings_processor", device, dtype))


ModelSource = SingleFileModel | DiffusersModel


def _gemma(files: ModelFiles):
    if files.gemma is None:
        raise RuntimeError("the text encoder was not asked for: open_model(..., needs=Needs(text_encoder=True))")
    return files.gemma


def open_model(model_path: str | Path, needs: Needs = Needs(), text_encoder_path: str | None = None) -> ModelSource:
    """The model at `model_path` with the files `needs` asks for (the checkpoint always) fetched and checked."""
    files = find_model_files(str(model_path), needs, text_encoder_path)
    source = DiffusersModel(files) if files.layout == "diffusers" else SingleFileModel(files)
    log.info("LTX-%s files: %s", source.model_version, files.summary())
    return source
