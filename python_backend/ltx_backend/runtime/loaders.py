"""Loading the modules the runtime holds: the transformer (optionally compiled), the latent upsampler from its
own file, and the default device."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch

from ltx_backend.errors import InvalidRequest, LoadError
from ltx_backend.loading.checkpoint import CheckpointError, load_module, read_config_metadata
from ltx_backend.loading.quantization import TransformerWeights, check_runs_on
from ltx_backend.loading.sources import ModelSource
from ltx_backend.models.latent_upsampler import build_latent_upsampler
from ltx_backend.models.transformer.compile import compile_blocks

log = logging.getLogger(__name__)


def load_transformer(source: ModelSource, device: torch.device, dtype: torch.dtype, torch_compile_mode: str | None = None,
                     quantization: str | None = None) -> torch.nn.Module:
    """The base transformer from the checkpoint (fp8 Linears as the file has them, or as `quantization` casts
    them: loading/quantization.py), its blocks compiled when a torch.compile mode is given."""
    check_runs_on(quantization, device)
    storage = TransformerWeights(quantization)
    model = source.load("transformer", device, dtype, storage)
    log.info("transformer: %s", weight_bytes_by_dtype(model))
    fp8 = storage.fp8_linears(model)
    if fp8:
        log.info("transformer: %d Linears hold fp8 weights (%s)", fp8, quantization or "as stored in the file")
    return model if torch_compile_mode is None else compile_blocks(model, torch_compile_mode)


def weight_bytes_by_dtype(module: torch.nn.Module) -> str:
    """"21.3 GiB of weights: float8_e4m3fn 17.2 GiB, bfloat16 4.1 GiB" (largest first)."""
    by_dtype: dict[torch.dtype, int] = {}
    for tensor in module.state_dict().values():
        by_dtype[tensor.dtype] = by_dtype.get(tensor.dtype, 0) + tensor.numel() * tensor.element_size()
    def size(n: int) -> str:
        return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"

    parts = ", ".join(f"{str(d).removeprefix('torch.')} {size(n)}" for d, n in sorted(by_dtype.items(), key=lambda kv: -kv[1]))
    return f"{size(sum(by_dtype.values()))} of weights: {parts}"


def latent_upsampler_config(path: str | Path) -> tuple[dict, Path | list[Path]]:
    """(the official config, the weight file(s)) of a spatial x2 latent upsampler, read without its weights: its
    own safetensors file (config JSON in the metadata `config`, as ltx-core's loader reads it), or a diffusers
    `latent_upsampler/` folder (config.json). A folder without config.json must hold one such file. Any other
    upsampler (temporal, x1.5) is a CheckpointError naming the file."""
    path = Path(path)
    files: Path | list[Path] = path
    if path.is_dir() and (path / "config.json").is_file():
        config = upsampler_config_from_diffusers(json.loads((path / "config.json").read_text()))
        files = sorted(path.glob("*.safetensors"))
        if not files:
            raise CheckpointError(f"spatial upsampler folder {path} has a config.json but no *.safetensors")
    else:
        if path.is_dir():
            found = sorted(path.glob("*.safetensors"))
            if len(found) != 1:
                raise CheckpointError(f"spatial upsampler folder {path} must hold exactly one *.safetensors file, found {len(found)}")
            path = files = found[0]
        config, _ = read_config_metadata(path, "spatial upsampler")
    kind = {k: config.get(k, d) for k, d in (("spatial_upsample", True), ("temporal_upsample", False), ("spatial_scale", 2.0))}
    if kind != {"spatial_upsample": True, "temporal_upsample": False, "spatial_scale": 2.0}:
        raise CheckpointError(
            f"{path.name} is not a spatial x2 latent upscaler ({', '.join(f'{k}={v}' for k, v in kind.items())}): the two-stage "
            "pipelines upsample between the stages with a *spatial-upscaler-x2*.safetensors file"
        )
    return config, files


def check_upsampler_file(path: str | Path) -> None:
    """latent_upsampler_config's refusal of a path that is no spatial x2 upsampler (or no file at all) as the
    caller's error naming spatial_upsampler_path: before any weight is loaded."""
    try:
        latent_upsampler_config(path)
    except (LoadError, OSError, ValueError, KeyError) as error:  # ValueError: a config.json that is not JSON
        raise InvalidRequest("spatial_upsampler_path", str(path), str(error)) from None


def load_latent_upsampler(path: str | Path, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    """The spatial x2 latent upsampler (latent_upsampler_config says which files), module keys unprefixed."""
    config, files = latent_upsampler_config(path)
    return load_module(files, build_latent_upsampler, config, lambda key: key, device, dtype, "latent_upsampler")


def upsampler_config_from_diffusers(config: dict) -> dict:
    """diffusers' LTX2LatentUpsamplerModel config.json -> ltx-core's metadata config (the same module and keys:
    diffusers' `rational_spatial_scale` / `use_rational_resampler`, default 2.0 / true, are `spatial_scale` /
    `rational_resampler`). A field left out takes diffusers' default."""
    defaults = {"in_channels": 128, "mid_channels": 1024, "num_blocks_per_stage": 4, "dims": 3, "spatial_upsample": True,
                "temporal_upsample": False}
    out = {k: config.get(k, default) for k, default in defaults.items()}
    out["spatial_scale"] = float(config.get("rational_spatial_scale", 2.0))
    out["rational_resampler"] = bool(config.get("use_rational_resampler", True))
    return out


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
