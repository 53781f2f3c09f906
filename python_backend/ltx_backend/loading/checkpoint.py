"""The official single-file checkpoint: metadata (config, model version) and per-component weight loading.

A component is built on the meta device from the metadata config, then its tensors are read from the
file straight onto the target device and dtype (safetensors memory-maps the file, so no second full
copy is made in RAM) and assigned into the module. Missing or unexpected keys are an error naming them.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch
from safetensors import safe_open

from ltx_backend.errors import LoadError

KeyMap = Callable[[str], "str | None"]
Builder = Callable[[dict], torch.nn.Module]


class WeightStorage(Protocol):
    """How a module's tensors are kept, where that is not simply the load dtype (loading/quantization.py)."""

    def stored_dtype(self, key: str, tensor: torch.Tensor, dtype: torch.dtype) -> torch.dtype: ...

    def prepare(self, module: torch.nn.Module, state: dict[str, torch.Tensor], name: str) -> None: ...


class CheckpointError(LoadError):
    pass


@dataclass(frozen=True)
class CheckpointInfo:
    path: Path
    config: dict  # the metadata "config" JSON: sections transformer, vae, audio_vae, vocoder
    model_version: str  # "2" or "2.3" (normalised)
    raw_model_version: str  # as written in the metadata


def model_version_from_metadata(raw: str) -> str:
    """LTX-2 vs LTX-2.3, decided by metadata `model_version` alone (as ltx-pipelines' detect_params does)."""
    return "2.3" if raw.startswith("2.3") else "2"


def read_config_metadata(path: str | Path, what: str, hint: str = "") -> tuple[dict, dict[str, str]]:
    """(the JSON `config`, all metadata) of a safetensors file that carries its config as the reference writes
    it. `what` names the file in errors ("checkpoint", "spatial upsampler")."""
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = f.metadata() or {}
    except Exception as error:  # noqa: BLE001 - safetensors raises several types for bad files
        raise CheckpointError(f"cannot read {what} {path}: {error}") from error
    if "config" not in metadata:
        raise CheckpointError(f"{what} {path} has no 'config' in its safetensors metadata{hint}")
    return json.loads(metadata["config"]), metadata


def read_checkpoint_info(path: str | Path) -> CheckpointInfo:
    path = Path(path)
    config, metadata = read_config_metadata(path, "checkpoint", " (not an official LTX-2 file)")
    raw = metadata.get("model_version", "")
    return CheckpointInfo(path, config, model_version_from_metadata(raw), raw)


def default_dtype(device: torch.device) -> torch.dtype:
    """bf16 on accelerators, fp32 on CPU."""
    return torch.float32 if device.type == "cpu" else torch.bfloat16


def load_module(
    files: str | Path | list[Path],
    build: Builder,
    config: dict,
    key_map: KeyMap,
    device: torch.device,
    dtype: torch.dtype,
    name: str,
    storage: WeightStorage | None = None,
) -> torch.nn.Module:
    """Build `name` on meta from `config`, load the keys `key_map` claims from `files`; strict. Floating-point
    tensors are stored in `dtype`, or as `storage` says (the transformer's fp8 weights, loading/quantization.py)."""
    with torch.device("meta"):
        module = build(config)
    state: dict[str, torch.Tensor] = {}
    for file in [files] if isinstance(files, (str, Path)) else files:
        with safe_open(str(file), framework="pt", device=str(device)) as f:
            for key in f.keys():
                target = key_map(key)
                if target is None:
                    continue
                tensor = f.get_tensor(key)
                if storage is not None:
                    state[target] = tensor.to(storage.stored_dtype(target, tensor, dtype))
                else:
                    state[target] = tensor.to(dtype) if tensor.is_floating_point() else tensor
    if storage is not None:
        storage.prepare(module, state, name)
    expected = set(module.state_dict().keys())
    missing = sorted(expected - state.keys())
    unexpected = sorted(state.keys() - expected)
    if missing or unexpected:
        raise CheckpointError(f"{name}: {_describe(missing, 'missing')}{'; ' if missing and unexpected else ''}{_describe(unexpected, 'unexpected')}")
    module.load_state_dict(state, strict=True, assign=True)
    _check_no_meta_buffers(module, name)
    return module.eval().requires_grad_(False)


def _check_no_meta_buffers(module: torch.nn.Module, name: str) -> None:
    """Non-persistent buffers get no value from a checkpoint: model code must not keep any."""
    leftovers = [n for n, b in module.named_buffers() if b.is_meta]
    if leftovers:
        raise CheckpointError(f"{name}: buffers {leftovers[:5]} have no value after loading (non-persistent buffers are not allowed)")


def _describe(keys: list[str], what: str) -> str:
    if not keys:
        return ""
    shown = ", ".join(keys[:8]) + (f", ... ({len(keys)} in all)" if len(keys) > 8 else "")
    return f"{len(keys)} {what} key(s): {shown}"
