"""fp8 transformer weights: which Linears hold float8, and how a checkpoint's tensors are stored on load.

- A published fp8 file (`ltx-2-19b-dev-fp8`, `ltx-2-19b-distilled-fp8`, `Lightricks/LTX-2.3-fp8`) has its
  transformer blocks' Linear weights and biases in float8_e4m3fn, sometimes with per-tensor `weight_scale` /
  `input_scale` beside them. They stay fp8 in memory and compute as ltx-core's fp8-cast does
  (models/fp8_linear.py); the scale, where there is one, multiplies the upcast weight.
- `--quantization fp8-cast` (ltx-pipelines' flag) casts a bf16 file's block Linears to fp8 at load: exactly
  the tensors ltx-core's TRANSFORMER_LINEAR_DOWNCAST_MAP picks (attention q/k/v/out and feed-forward
  projections, weights and biases, in `transformer_blocks.`); everything else keeps the load dtype.
- `--quantization fp8-scaled-mm` (the speed path, GPUs with fp8 matmuls only): the same Linears, but not in
  the blocks ltx-core's fp8-scaled-mm leaves in bf16 (the first and the last five), multiply in fp8
  (Fp8ScaledLinear): with the file's weight_scale where it has one, quantised per tensor at load where not
  (scale = amax / 448; an unscaled fp8 weight has scale 1); biases stay in the model dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ltx_backend.errors import InvalidRequest, LoadError
from ltx_backend.models.fp8_linear import FP8_DTYPES, Fp8CastLinear, Fp8ScaledLinear, fp8_cast_linear, fp8_scaled_linear
from ltx_kernels import quantize_fp8, scaled_mm_supported
from ltx_kernels.fp8_linear import FP8

QUANTIZATIONS = ("fp8-cast", "fp8-scaled-mm")
BLOCKS_PREFIX = "transformer_blocks."
# ltx-core's TRANSFORMER_LINEAR_DOWNCAST_MAP: key suffixes under transformer_blocks. (every attention of a block:
# attn1/2, audio_attn1/2, the audio<->video cross attentions; ff and audio_ff)
CAST_SUFFIXES = tuple(
    f"{layer}.{kind}" for layer in (".to_q", ".to_k", ".to_v", ".to_out.0", "ff.net.0.proj", "ff.net.2") for kind in ("weight", "bias")
)
SCALE_SUFFIXES = (".weight_scale", ".input_scale")


def cast_at_load(key: str) -> bool:
    """Whether --quantization fp8-cast stores this transformer state-dict key in fp8."""
    return key.startswith(BLOCKS_PREFIX) and key.endswith(CAST_SUFFIXES)


# ltx-core's fp8-scaled-mm EXCLUDED_LAYER_SUBSTRINGS within the blocks: the first and the last five of the
# 48-block models stay in bf16 (taken as the indices they name, as ltx-core matches them, whatever the depth)
SCALED_MM_EXCLUDED_BLOCKS = frozenset({0, 43, 44, 45, 46, 47})


def multiplied_in_fp8(path: str) -> bool:
    """Whether fp8-scaled-mm multiplies the Linear at this module path in fp8: a cast-map Linear outside
    SCALED_MM_EXCLUDED_BLOCKS."""
    return cast_at_load(f"{path}.weight") and int(path[len(BLOCKS_PREFIX):].split(".", 1)[0]) not in SCALED_MM_EXCLUDED_BLOCKS


def check_runs_on(quantization: str | None, device: torch.device) -> None:
    """fp8-scaled-mm needs fp8 matmuls: refused elsewhere (CPU, GPUs before compute capability 8.9), never
    replaced silently."""
    if quantization == "fp8-scaled-mm" and not scaled_mm_supported(device):
        where = "a CPU" if device.type != "cuda" else f"{torch.cuda.get_device_name(device)} (compute capability {'.'.join(map(str, torch.cuda.get_device_capability(device)))})"
        raise InvalidRequest("quantization", quantization, f"a CUDA GPU with fp8 matmuls (compute capability 8.9+: Ada, Hopper, "
                             f"Blackwell); this is {where}: use fp8-cast (fp8 weights, bf16 matmuls)")


@dataclass(frozen=True)
class TransformerWeights:
    """How the transformer's tensors are stored: fp8 where the file has fp8 (or fp8-cast asks for it), the load
    dtype elsewhere. `quantization`: None or one of QUANTIZATIONS."""

    quantization: str | None = None

    def stored_dtype(self, key: str, tensor: torch.Tensor, dtype: torch.dtype) -> torch.dtype:
        if key.endswith(SCALE_SUFFIXES):
            return torch.float32
        if self.quantization == "fp8-scaled-mm" and key.endswith(".bias") and multiplied_in_fp8(key.removesuffix(".bias")):
            return dtype  # the fp8 matmul adds its bias in the output dtype (an fp8-cast file's fp8 bias too)
        if tensor.dtype in FP8_DTYPES:
            return tensor.dtype
        if self.quantization == "fp8-cast" and cast_at_load(key):
            return FP8
        return dtype if tensor.is_floating_point() else tensor.dtype  # fp8-scaled-mm quantises in prepare()

    def prepare(self, module: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
        """Before assigning `state`: every Linear given an fp8 weight becomes an Fp8CastLinear (with its
        weight_scale where the state has one); `input_scale` keys (for fp8 matmuls, which fp8-cast does not
        run) are dropped. Any other fp8 tensor is an error naming it."""
        for key in [k for k in state if k.endswith(".input_scale")]:
            del state[key]
        linears = {path: m for path, m in module.named_modules() if isinstance(m, nn.Linear)}
        for key, tensor in state.items():
            if tensor.dtype not in FP8_DTYPES:
                continue
            path, _, kind = key.rpartition(".")
            if path not in linears or kind not in ("weight", "bias"):
                raise LoadError(f"{name}: {key} is stored in {tensor.dtype}, which only a Linear's weight or bias may be")
        if self.quantization == "fp8-scaled-mm":
            linears = self._to_scaled_mm(module, linears, state)
        for path, linear in linears.items():
            if state.get(f"{path}.weight") is None or state[f"{path}.weight"].dtype not in FP8_DTYPES:
                if f"{path}.weight_scale" in state:
                    raise LoadError(f"{name}: {path}.weight_scale given for a weight that is not fp8")
                continue
            _replace(module, path, fp8_cast_linear(linear, scaled=f"{path}.weight_scale" in state))

    @staticmethod
    def fp8_linears(module: nn.Module) -> int:
        """How many Linears of the loaded module hold fp8 weights."""
        return sum(isinstance(m, (Fp8CastLinear, Fp8ScaledLinear)) for m in module.modules())

    @staticmethod
    def _to_scaled_mm(module: nn.Module, linears: dict[str, nn.Linear], state: dict[str, torch.Tensor]) -> dict[str, nn.Linear]:
        """The Linears fp8-scaled-mm multiplies in fp8 become Fp8ScaledLinear, their weights quantised with a
        per-tensor scale (kept where the file has one) and their biases in the model dtype; the other Linears
        are returned, for fp8-cast handling of any fp8 weights they hold."""
        rest = {}
        for path, linear in linears.items():
            if not multiplied_in_fp8(path):
                rest[path] = linear
                continue
            weight_key, scale_key = f"{path}.weight", f"{path}.weight_scale"
            weight = state[weight_key]
            if weight.dtype in FP8_DTYPES:
                state.setdefault(scale_key, torch.ones((), dtype=torch.float32, device=weight.device))
            else:
                state[weight_key], state[scale_key] = quantize_fp8(weight)
            _replace(module, path, fp8_scaled_linear(linear))
        return rest


def _replace(module: nn.Module, path: str, new: nn.Module) -> None:
    """Put `new` at the submodule path `path` of `module`."""
    parent_path, _, attr = path.rpartition(".")
    setattr(module.get_submodule(parent_path) if parent_path else module, attr, new)
