"""Loading the modules the runtime holds: the transformer (optionally compiled), the latent upsampler from its
own file, and the default device."""
from __future__ import annotations

from pathlib import Path

import torch

from ltx_backend.loading.checkpoint import CheckpointError, load_module, read_config_metadata
from ltx_backend.loading.sources import ModelSource
from ltx_backend.models.latent_upsampler import build_latent_upsampler
from ltx_backend.models.transformer.compile import compile_blocks


def load_transformer(source: ModelSource, device: torch.device, dtype: torch.dtype, torch_compile_mode: str | None = None) -> torch.nn.Module:
    """The base transformer from the checkpoint, its blocks compiled when a torch.compile mode is given."""
    model = source.load("transformer", device, dtype)
    return model if torch_compile_mode is None else compile_blocks(model, torch_compile_mode)


def load_latent_upsampler(path: str | Path, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """The latent upsampler from its own safetensors file: config JSON in the metadata `config` (as
    ltx-core's loader reads it), module keys unprefixed. A folder must hold one such file."""
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.safetensors"))
        if len(files) != 1:
            raise CheckpointError(f"spatial upsampler folder {path} must hold exactly one *.safetensors file, found {len(files)}")
        path = files[0]
    config, _ = read_config_metadata(path, "spatial upsampler")
    kind = {k: config.get(k, d) for k, d in (("spatial_upsample", True), ("temporal_upsample", False), ("spatial_scale", 2.0))}
    if kind != {"spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 2.0}:
        raise CheckpointError(
            f"{path.name} is not a spatial x2 latent upscaler ({', '.join(f'{k}={v}' for k, v in kind.items())}): the two-stage "
            "pipelines upsample between the stages with a *spatial-upscaler-x2*.safetensors file"
        )
    return load_module(path, build_latent_upsampler, config, lambda key: key, device, dtype, "latent_upsampler")


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
