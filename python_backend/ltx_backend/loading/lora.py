"""LoRAs: read a file in any of the community key formats, merge it into the transformer, snapshot weights.

    lora = read_lora("owner/some-ltx2-lora")               # local file, local folder or HF repo id
    report = apply_loras(transformer, [(lora, 0.8)])       # W += 0.8 * B @ A * alpha / rank, in place
    report.summary()  # "LoRA some-ltx2-lora covers 96/1344 LoRA-capable layers; 1248 keep base weights"

Merge rule: for each adapted Linear, W <- W + scale * (B @ A) * (alpha / rank if the file gives alpha,
else 1), computed in float32 and cast back to W's dtype (one rounding per weight, all LoRAs of a call
summed first). A missing alpha means alpha = rank (factor 1), as in SGLang, PEFT and ComfyUI.

Differences from Lightricks' ltx-core 1.0.0 (loader/fuse_loras.py), the reference:
- ltx-core applies no alpha / rank factor at all (it never reads .alpha keys). Lightricks' own LoRA
  files (the distilled LoRAs, ltx-trainer's output) carry no .alpha keys, so for them both rules give
  the same delta (B @ A * strength). For a community file that does carry alpha, we follow the
  community convention (ComfyUI, diffusers, SGLang) and ltx-core would not.
- ltx-core computes B @ A in the weight's dtype (bf16) and adds in bf16 (two roundings); we compute in
  float32 and round once, so on bf16 weights the results differ by at most a bf16 rounding step
  (tests/test_lora.py compares the two). ltx-core refuses float32 base weights; we accept any float dtype.
- ltx-core only reads "diffusion_model.<module>.lora_A/lora_B.weight"; the other formats are ours.

Shapes are checked for every layer of every LoRA before any weight is touched: a LoRA that does not
fit is a LoraShapeError naming the layer, and the model is left unchanged. Keys that name no Linear of
this model (text encoder, connectors, layers LTX-2 lacks such as LTX-2.3's to_gate_logits) are not
used; they are listed in the report. A LoRA none of whose layers exist in the model is an error.
"""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import nn

from ltx_backend.errors import LoadError, finite_number
from ltx_backend.loading.lora_formats import (
    alpha_pattern_regex,
    format_name,
    parse_key,
    peft_alpha,
    strip_wrappers,
    to_our_module_path,
)
from ltx_backend.models.fp8_linear import FP8_DTYPES

logger = logging.getLogger(__name__)

BLOCKS_PREFIX = "transformer_blocks."
SHOWN_UNUSED_KEYS = 5


class LoraError(LoadError):
    """A LoRA that cannot be read or used (bad path, unknown layout, nothing matching the model)."""


class LoraShapeError(LoraError):
    """A LoRA layer whose matrices do not fit the model's Linear layer."""


# ------------------------------------------------------------------------------------------------ the file


@dataclass(frozen=True)
class LoraLayer:
    """One adapted Linear: delta = (up @ down) * (alpha / rank if alpha is not None else 1)."""

    down: torch.Tensor  # A [rank, in_features]
    up: torch.Tensor  # B [out_features, rank]
    alpha: float | None = None
    source: str = ""  # the key stem in the file, for messages

    @property
    def rank(self) -> int:
        return self.down.shape[0]

    @property
    def factor(self) -> float:
        return 1.0 if self.alpha is None else self.alpha / self.rank


@dataclass(frozen=True)
class LoraFile:
    """A LoRA read from disk, keyed by our transformer's module paths (e.g. transformer_blocks.0.attn1.to_q)."""

    name: str
    layers: dict[str, LoraLayer]
    unused_keys: tuple[str, ...] = ()  # keys of the file that are not LoRA matrices of a transformer module
    path: Path | None = None
    key_format: str = ""
    # An IC-LoRA trained on reference videos at 1/N of the output's size says N in its metadata (1: the same size).
    reference_downscale_factor: int = 1

    @property
    def entries(self) -> dict[str, LoraLayer]:
        return self.layers


def lora_from_state_dict(
    state_dict: dict[str, torch.Tensor], name: str, adapter_config: dict | None = None, path: Path | None = None
) -> LoraFile:
    """Normalise a LoRA state dict in any supported key format (see lora_formats)."""
    groups: dict[str, dict[str, tuple[str, torch.Tensor]]] = {}  # stem -> role -> (key, tensor)
    unused: list[str] = []
    adapters: set[str] = set()
    styles: set[str] = set()
    dora = [key for key in state_dict if key.endswith((".dora_scale", ".lora_magnitude_vector")) or ".lora_magnitude_vector." in key]
    if dora:
        raise LoraError(f"LoRA {name}: DoRA adapters are not supported (magnitude keys such as {dora[0]})")
    for key, tensor in state_dict.items():
        parsed = parse_key(key)
        if parsed is None:
            unused.append(key)
            continue
        if parsed.adapter is not None:
            adapters.add(parsed.adapter)
        if parsed.role != "alpha":
            styles.add(parsed.style)
        roles = groups.setdefault(parsed.stem, {})
        if parsed.role in roles:
            raise LoraError(f"LoRA {name}: {roles[parsed.role][0]} and {key} both give the {parsed.role} matrix of {parsed.stem}")
        roles[parsed.role] = (key, tensor)
    if len(adapters) > 1:
        raise LoraError(f"LoRA {name}: the file holds several PEFT adapters ({', '.join(sorted(adapters))}); save one adapter per file")

    layers: dict[str, LoraLayer] = {}
    wrappers: set[str] = set()
    has_alpha_keys = any("alpha" in roles for roles in groups.values())
    for stem, roles in groups.items():
        if "down" not in roles or "up" not in roles:
            unused.extend(key for key, _ in roles.values())
            continue
        module = to_our_module_path(stem)
        if module is None:
            unused.append(stem)
            continue
        if module in layers:
            raise LoraError(f"LoRA {name}: {layers[module].source} and {stem} both adapt {module}")
        down, up = roles["down"][1], roles["up"][1]
        if down.dim() != 2 or up.dim() != 2 or not down.is_floating_point() or not up.is_floating_point():
            raise LoraShapeError(
                f"LoRA {name}: {stem}: expected 2-D float matrices, got down {tuple(down.shape)} {down.dtype} and up {tuple(up.shape)} {up.dtype}"
            )
        if up.shape[1] != down.shape[0]:
            raise LoraShapeError(f"LoRA {name}: {stem}: ranks differ, down {tuple(down.shape)} and up {tuple(up.shape)}")
        alpha = float(roles["alpha"][1].float().item()) if "alpha" in roles else None
        if alpha is None and adapter_config is not None and not has_alpha_keys:
            alpha = peft_alpha(adapter_config, strip_wrappers(stem)[1], down.shape[0])
        wrappers.add(strip_wrappers(stem)[0])
        layers[module] = LoraLayer(down, up, alpha, stem)
    if not layers:
        shown = ", ".join(sorted(unused)[:SHOWN_UNUSED_KEYS])
        raise LoraError(f"LoRA {name}: no LoRA layer of the LTX transformer found in the file ({len(state_dict)} keys, e.g. {shown})")
    return LoraFile(name, layers, tuple(sorted(unused)), path, format_name(wrappers, styles))


def read_lora(path: str, weight_name: str | None = None, field: str = "lora_path") -> LoraFile:
    """A LoRA from a local .safetensors file, a local folder, or a Hugging Face repo id.

    A folder (or repo) must hold exactly one *.safetensors file, or `weight_name` names the one to use.
    Repo ids resolve through huggingface_hub's cache (HF_HOME and HF_HUB_OFFLINE honoured). A PEFT
    adapter_config.json beside the file supplies lora_alpha when the file has no .alpha keys. Errors name the
    path as `field` (distilled_lora_path for the distilled LoRA).
    """
    file, name = _resolve_lora_file(path, weight_name, field)
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            state_dict = {key: f.get_tensor(key) for key in f.keys()}
            metadata = f.metadata() or {}
    except Exception as error:  # noqa: BLE001 - safetensors raises several types for bad files
        raise LoraError(f"invalid {field}={path!r}: cannot read {file}: {error}") from error
    config_path = file.parent / "adapter_config.json"
    adapter_config = _adapter_config(config_path, path, field) if config_path.is_file() else None
    if adapter_config and adapter_config.get("use_dora"):
        raise LoraError(f"LoRA {name}: DoRA adapters (use_dora in {config_path}) are not supported")
    lora = lora_from_state_dict(state_dict, name, adapter_config, file)
    return replace(lora, reference_downscale_factor=_reference_downscale_factor(metadata, path, field))


def read_reference_downscale_factor(path: str, weight_name: str | None = None) -> int:
    """The IC-LoRA metadata of a user LoRA file (folder, repo id) without reading its tensors (the pipeline model's)."""
    return _reference_downscale_factor(_lora_header(path, weight_name, "lora_path"), path, "lora_path")


def check_lora_file(path: str, weight_name: str | None = None, field: str = "lora_path") -> None:
    """The errors read_lora gives for a path that names no readable .safetensors file, from its header alone:
    before any weight is loaded (read_lora reads every tensor)."""
    _lora_header(path, weight_name, field)


def _lora_header(path: str, weight_name: str | None, field: str) -> dict[str, str]:
    """The metadata of the LoRA file `path` names (resolved as read_lora resolves it)."""
    file, _ = _resolve_lora_file(path, weight_name, field)
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt") as f:
            return f.metadata() or {}
    except Exception as error:  # noqa: BLE001 - safetensors raises several types for bad files
        raise LoraError(f"invalid {field}={path!r}: cannot read {file}: {error}") from error


def common_reference_downscale_factor(loras: list[LoraFile]) -> int:
    """The reference scale of the IC-LoRAs merged together: one value besides 1 (ltx-pipelines refuses a mix)."""
    factors = {lora.reference_downscale_factor for lora in loras} - {1}
    if len(factors) > 1:
        raise LoraError(f"LoRAs with different reference_downscale_factor values ({sorted(factors)}) cannot be combined")
    return factors.pop() if factors else 1


def _reference_downscale_factor(metadata: dict[str, str], path: str, field: str) -> int:
    """ltx-pipelines' IC-LoRA metadata key `reference_downscale_factor` (default 1), a positive integer."""
    raw = metadata.get("reference_downscale_factor", "1")
    try:
        factor = int(raw)
    except ValueError:
        factor = 0
    if factor < 1:
        raise LoraError(f"invalid {field}={path!r}: its metadata reference_downscale_factor={raw!r} is not a positive integer")
    return factor


def _adapter_config(config_path: Path, path: str, field: str) -> dict:
    """The PEFT adapter_config.json beside a LoRA file (a JSON object)."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise LoraError(f"invalid {field}={path!r}: {config_path} is not a readable JSON file: {error}") from None
    if not isinstance(config, dict):
        raise LoraError(f"invalid {field}={path!r}: {config_path} holds a JSON {type(config).__name__}, not an object")

    patterns = config.get("alpha_pattern") or {}
    problem = None
    if config.get("lora_alpha") is not None and not finite_number(config["lora_alpha"]):
        problem = f"lora_alpha={config['lora_alpha']!r} is not a finite number"
    elif not isinstance(patterns, dict) or not all(isinstance(k, str) and finite_number(v) for k, v in patterns.items()):
        problem = f"alpha_pattern={patterns!r} is not an object of regex -> number"
    else:
        for pattern in patterns:
            try:
                re.compile(alpha_pattern_regex(pattern))
            except re.error as error:
                problem = f"alpha_pattern key {pattern!r} is not a regular expression ({error})"
    if problem:
        raise LoraError(f"invalid {field}={path!r}: in {config_path}, {problem}")
    return config


def _resolve_lora_file(path: str, weight_name: str | None, field: str) -> tuple[Path, str]:
    if weight_name is not None:
        parts = weight_name.replace("\\", "/").split("/")
        if not weight_name or weight_name.startswith(("/", "~")) or ".." in parts or not weight_name.endswith(".safetensors"):
            raise LoraError(
                f"invalid lora_weight_name={weight_name!r}: a .safetensors file name inside {field}'s folder or repo"
            )
    local = Path(path).expanduser()
    if local.is_file():
        if weight_name is not None and weight_name != local.name:
            raise LoraError(f"invalid lora_weight_name={weight_name!r}: {field}={path!r} is a file, not a folder or repo")
        return _check_suffix(local, path, field), local.stem
    if local.is_dir():
        file = _pick_file(local, weight_name, path, field)
        return file, file.stem
    if path.count("/") != 1 or path.startswith((".", "/", "~")) or path.endswith(".safetensors"):
        raise LoraError(f"invalid {field}={path!r}: not an existing local file or folder, and not a Hugging Face repo id (owner/name)")
    folder = _download(path, weight_name, field)
    file = _pick_file(folder, weight_name, path, field)
    return file, path if weight_name is None else f"{path}/{Path(weight_name).stem}"


def _check_suffix(file: Path, path: str, field: str) -> Path:
    if file.suffix != ".safetensors":
        raise LoraError(f"invalid {field}={path!r}: only .safetensors LoRA files are supported")
    return file


def _pick_file(folder: Path, weight_name: str | None, path: str, field: str) -> Path:
    if weight_name is not None:
        file = folder / weight_name
        if not file.is_file():
            available = ", ".join(p.name for p in sorted(folder.glob("*.safetensors"))) or "none"
            raise LoraError(f"invalid lora_weight_name={weight_name!r}: not found in {path} (*.safetensors there: {available})")
        return _check_suffix(file, path, field)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise LoraError(f"invalid {field}={path!r}: no *.safetensors file in {folder}")
    if len(files) > 1:
        names = ", ".join(p.name for p in files)
        raise LoraError(f"invalid {field}={path!r}: {len(files)} .safetensors files ({names}); choose the LoRA with lora_weight_name")
    return files[0]


def _download(repo_id: str, weight_name: str | None, field: str) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    patterns = [weight_name, "adapter_config.json"] if weight_name else ["*.safetensors", "adapter_config.json"]
    try:
        return Path(snapshot_download(repo_id=repo_id, allow_patterns=patterns))
    except LocalEntryNotFoundError as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")
        hint = "HF_HUB_OFFLINE is set and the repo is not in the cache" if offline else "the repo could not be downloaded"
        raise LoraError(f"invalid {field}={repo_id!r}: {hint} ({error})") from error
    except Exception as error:  # noqa: BLE001 - hub errors (not found, gated, network) share no base class here
        raise LoraError(f"invalid {field}={repo_id!r}: {type(error).__name__}: {error}") from error


# ------------------------------------------------------------------------------------------------ merging


def lora_capable_layers(model: nn.Module) -> list[str]:
    """Module paths of the Linear layers inside the transformer blocks (what a LoRA normally adapts)."""
    return [name for name, module in model.named_modules() if name.startswith(BLOCKS_PREFIX) and isinstance(module, nn.Linear)]


@dataclass(frozen=True)
class LoraCoverage:
    """What one LoRA of an apply_loras call adapted."""

    name: str
    scale: float
    covered: int  # LoRA-capable layers (Linears of the transformer blocks) it adapts
    total: int  # LoRA-capable layers of the model
    outside_blocks: tuple[str, ...]  # other Linears of the model it adapts (e.g. patchify_proj)
    unused: tuple[str, ...]  # keys / module stems of the file not used on this model

    def summary(self) -> str:
        text = f"LoRA {self.name} covers {self.covered}/{self.total} LoRA-capable layers; {self.total - self.covered} keep base weights"
        if self.outside_blocks:
            text += f"; also {len(self.outside_blocks)} layers outside the blocks ({_shown(self.outside_blocks)})"
        if self.unused:
            text += f"; {len(self.unused)} keys not used: {_shown(self.unused)}"
        return text


@dataclass(frozen=True)
class LoraReport:
    """The outcome of one apply_loras call (one entry per LoRA, in the order given)."""

    loras: tuple[LoraCoverage, ...]
    total: int
    modified: frozenset[str] = field(default_factory=frozenset)  # module paths whose weight changed

    @property
    def covered(self) -> int:
        """LoRA-capable layers adapted by at least one of the LoRAs."""
        return sum(1 for m in self.modified if m.startswith(BLOCKS_PREFIX))

    @property
    def unmatched_keys(self) -> dict[str, tuple[str, ...]]:
        return {c.name: c.unused for c in self.loras if c.unused}

    def summary(self) -> str:
        return "\n".join(c.summary() for c in self.loras) if self.loras else "no LoRA applied"


def _shown(items: Sequence[str]) -> str:
    shown = ", ".join(items[:SHOWN_UNUSED_KEYS])
    return shown + (f", ... (+{len(items) - SHOWN_UNUSED_KEYS} more)" if len(items) > SHOWN_UNUSED_KEYS else "")


def check_loras(model: nn.Module, loras: Sequence[tuple[LoraFile, float]]) -> str:
    """Raise LoraShapeError / LoraError if some LoRA does not fit the model; else the coverage summary that
    apply_loras would log. Nothing is modified."""
    _, coverage, capable = _merge_plan(model, loras)
    return LoraReport(tuple(coverage), len(capable)).summary()


def _merge_plan(model: nn.Module, loras: Sequence[tuple[LoraFile, float]]):
    """{module path: [(layer, scale)]}, the coverage per LoRA and the LoRA-capable layers; raises on a misfit."""
    capable = lora_capable_layers(model)
    modules = dict(model.named_modules())
    plan: dict[str, list[tuple[LoraLayer, float]]] = {}
    coverage: list[LoraCoverage] = []
    for lora, scale in loras:
        covered, outside, unused = 0, [], list(lora.unused_keys)
        for path, layer in lora.layers.items():
            module = modules.get(path)
            if not isinstance(module, nn.Linear):
                unused.append(layer.source or path)
                continue
            expected_down = (layer.rank, module.in_features)
            expected_up = (module.out_features, layer.rank)
            if tuple(layer.down.shape) != expected_down or tuple(layer.up.shape) != expected_up:
                raise LoraShapeError(
                    f"LoRA {lora.name} does not fit layer {path} (Linear {module.in_features} -> {module.out_features}): "
                    f"expected down (A) {list(expected_down)} and up (B) {list(expected_up)} for rank {layer.rank}, "
                    f"got down {list(layer.down.shape)} and up {list(layer.up.shape)}; no weight was modified"
                )
            if path.startswith(BLOCKS_PREFIX):
                covered += 1
            else:
                outside.append(path)
            plan.setdefault(path, []).append((layer, float(scale)))
        if covered == 0 and not outside:
            raise LoraError(
                f"LoRA {lora.name}: none of its {len(lora.layers)} layers is a Linear of this model "
                f"(e.g. {_shown(sorted(lora.layers))}); is it a LoRA for another model?"
            )
        coverage.append(LoraCoverage(lora.name, float(scale), covered, len(capable), tuple(sorted(outside)), tuple(unused)))
    return plan, coverage, capable


def apply_loras(model: nn.Module, loras: Sequence[tuple[LoraFile, float]], log_coverage: bool = True) -> LoraReport:
    """Merge LoRAs into the model's Linear weights in place: W += scale * (B @ A) * alpha / rank.

    Every layer of every LoRA is checked first (check_loras); a shape that does not fit raises LoraShapeError
    and no weight is modified. Deltas of all LoRAs are summed in float32 on the weight's device and added
    with one rounding to the weight's dtype. Returns the coverage summary, and logs it unless
    log_coverage is False (a device-mode switch merging LoRAs whose coverage it reported at load).
    """
    plan, coverage, capable = _merge_plan(model, loras)
    modules = dict(model.named_modules())
    modified = set()
    with torch.no_grad():
        for path, contributions in plan.items():
            weight = modules[path].weight
            if weight.dtype in FP8_DTYPES:
                if merge_into_fp8(modules[path], contributions):
                    modified.add(path)
                continue
            delta = None
            for layer, scale in contributions:
                if scale == 0.0:
                    continue
                # to the device in the file's dtype, then float32 there (the same values; half the bytes cross);
                # non_blocking: from pinned factors (pin_factors) an asynchronous copy, from pageable memory a
                # staged one that does not wait for the device's queued work
                up = layer.up.to(weight.device, non_blocking=True).float()
                down = layer.down.to(weight.device, non_blocking=True).float()
                term = (up @ down).mul_(scale * layer.factor)
                delta = term if delta is None else delta.add_(term)
            if delta is not None:
                weight.copy_((weight.float() + delta).to(weight.dtype))
                modified.add(path)
    report = LoraReport(tuple(coverage), len(capable), frozenset(modified))
    if log_coverage:
        for line in report.summary().splitlines():  # one log record per LoRA
            logger.info(line)
    return report


def merge_into_fp8(module: nn.Linear, contributions: list[tuple[LoraLayer, float]]) -> bool:
    """Merge LoRA deltas into an fp8 Linear as ltx-core's fuse_loras does (returns whether anything changed).

    The delta is ltx-core's: each LoRA's (B * scale) @ A in its factors' dtype, rounded to bf16, summed in bf16.
    - cast fp8 (no scale): W' = fp8(bf16(W) + delta), rounded to nearest. ltx-core does exactly this on CPU; on
      CUDA it rounds stochastically (its Triton kernel, seed 0), which we do not: our merge is deterministic,
      the same on every device.
    - scaled fp8 (weight_scale s): W = W_fp8 * s + delta in float32, requantised per tensor: s' = amax(W) / 448,
      W' = fp8(clamp(W / s')) (ltx-core's quantize_weight_to_fp8_per_tensor).
    """
    terms = [(layer.up.to(module.weight.device) * (scale * layer.factor)) @ layer.down.to(module.weight.device)
             for layer, scale in contributions if scale != 0.0]
    if not terms:
        return False
    delta = torch.stack([t.to(torch.bfloat16) for t in terms]).sum(0)
    weight = module.weight
    scale = getattr(module, "weight_scale", None)
    if scale is None:
        weight.copy_((delta + weight.to(torch.bfloat16)).to(weight.dtype))
        return True
    merged = weight.float() * scale + delta.float()
    fp8_max = torch.finfo(weight.dtype).max
    quantisation = fp8_max / merged.abs().amax()
    weight.copy_(torch.clamp(merged * quantisation, -fp8_max, fp8_max).to(weight.dtype))
    scale.copy_(quantisation.reciprocal())
    return True


def pin_factors(loras: Iterable[tuple[LoraFile, float]]) -> None:
    """Put the LoRAs' factors in pinned (page-locked) host memory, in place: merges on the GPU (snapshot mode's
    stage switches) then copy them at full bandwidth without staging. Nothing without CUDA, or where pinning
    is refused (the factors stay in pageable memory)."""
    if not _pinning_available():
        return
    for lora, _ in loras:
        for path, layer in list(lora.layers.items()):
            if layer.up.device.type != "cpu" or layer.up.is_pinned():
                continue
            try:
                lora.layers[path] = replace(layer, up=layer.up.pin_memory(), down=layer.down.pin_memory())
            except RuntimeError:  # pinning refused (no driver memory, containers with small limits)
                return


def touched_modules(loras: Iterable[LoraFile | tuple[LoraFile, float]], model: nn.Module | None = None) -> set[str]:
    """Module paths the LoRAs adapt (with `model`: only those that are Linear layers of it)."""
    paths: set[str] = set()
    for item in loras:
        lora = item[0] if isinstance(item, tuple) else item
        paths.update(lora.layers)
    if model is not None:
        linears = {name for name, module in model.named_modules() if isinstance(module, nn.Linear)}
        paths &= linears
    return paths


# ---------------------------------------------------------------------------------------------- snapshots


def _pinning_available() -> bool:
    return torch.cuda.is_available()


@dataclass
class WeightSnapshot:
    """Copies of the weights of some Linear layers, to put back later bit-identically.

    take(model, paths) copies module.weight of each path. With on_host=True (the default) the copies
    live in host memory: pinned (page-locked) when the weights are on CUDA and pinning is available,
    so that restore() is an asynchronous host-to-device copy on the current stream; plain host memory
    otherwise. With on_host=False the copies stay on the weights' device (fast restore, costs device
    memory). to_host() moves such device copies to host memory (pinned when possible), releases the
    device copies, and returns the snapshot itself; on a snapshot already on the host it does nothing.
    restore(model) copies every saved tensor back into the same parameters (dtype and shape must
    match); the snapshot stays valid and can be restored again.
    """

    tensors: dict[str, torch.Tensor]  # parameter name ("transformer_blocks.0.attn1.to_q.weight") -> copy

    @staticmethod
    def bytes_to_take(model: nn.Module, module_paths: Iterable[str]) -> int:
        """What take(model, module_paths) will copy, in bytes."""
        return sum(t.numel() * t.element_size() for path in set(module_paths) for _, t in _merged_tensors(model, path))

    @classmethod
    def take(cls, model: nn.Module, module_paths: Iterable[str], on_host: bool = True) -> WeightSnapshot:
        tensors: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            for path in sorted(set(module_paths)):
                for name, tensor in _merged_tensors(model, path):
                    tensors[f"{path}.{name}"] = _host_copy(tensor) if on_host else tensor.detach().clone()
        return cls(tensors)

    def restore(self, model: nn.Module, non_blocking: bool = True) -> None:
        with torch.no_grad():
            for name, saved in self.tensors.items():
                path, _, attribute = name.rpartition(".")
                _weight_of(model, path)  # the module is there and has a weight
                tensor = getattr(model.get_submodule(path), attribute)
                if tensor.shape != saved.shape or tensor.dtype != saved.dtype:
                    raise ValueError(
                        f"snapshot of {name} is {list(saved.shape)} {saved.dtype}, the model's is {list(tensor.shape)} {tensor.dtype}"
                    )
                tensor.copy_(saved, non_blocking=non_blocking and saved.is_pinned())

    def to_host(self) -> WeightSnapshot:
        for name, tensor in self.tensors.items():
            if tensor.device.type != "cpu":
                self.tensors[name] = _host_copy(tensor)
        return self

    @property
    def module_paths(self) -> set[str]:
        return {name.rpartition(".")[0] for name in self.tensors}

    @property
    def on_host(self) -> bool:
        return all(t.device.type == "cpu" for t in self.tensors.values())

    @property
    def pinned(self) -> bool:
        return bool(self.tensors) and all(t.is_pinned() for t in self.tensors.values())

    @property
    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.tensors.values())


def _merged_tensors(model: nn.Module, path: str) -> list[tuple[str, torch.Tensor]]:
    """What a LoRA merge changes in the module at `path`: its weight, and a scaled fp8 Linear's weight_scale."""
    tensors = [("weight", _weight_of(model, path))]
    scale = getattr(model.get_submodule(path), "weight_scale", None)
    if isinstance(scale, torch.Tensor):
        tensors.append(("weight_scale", scale))
    return tensors


def _weight_of(model: nn.Module, path: str) -> torch.Tensor:
    try:
        module = model.get_submodule(path)
    except AttributeError as error:
        raise KeyError(f"the model has no module {path!r}") from error
    weight = getattr(module, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise KeyError(f"module {path!r} ({type(module).__name__}) has no weight tensor")
    return weight


def _host_copy(tensor: torch.Tensor) -> torch.Tensor:
    tensor = tensor.detach()
    if tensor.device.type == "cuda" and _pinning_available():
        try:
            copy = torch.empty(tensor.shape, dtype=tensor.dtype, device="cpu", pin_memory=True)
        except RuntimeError:  # pinning refused (no driver memory, containers with small limits)
            return tensor.to("cpu", copy=True)
        copy.copy_(tensor)  # synchronous: the snapshot is complete when take() returns
        return copy
    return tensor.to("cpu", copy=True)
