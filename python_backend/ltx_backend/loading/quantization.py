"""fp8 transformer weights: which Linears hold float8, and how a checkpoint's tensors are stored on load.

- A published fp8 file (`ltx-2-19b-dev-fp8`, `ltx-2-19b-distilled-fp8`, `Lightricks/LTX-2.3-fp8`) has its
  transformer blocks' Linear weights and biases in float8_e4m3fn, sometimes with per-tensor `weight_scale` /
  `input_scale` beside them. They stay fp8 in memory and compute as ltx-core's fp8-cast does
  (models/fp8_linear.py); the scale, where there is one, multiplies the upcast weight.
- `--quantization fp8-cast` (ltx-pipelines' flag) casts a bf16 file's block Linears to fp8 at load: exactly
  the tensors ltx-core's TRANSFORMER_LINEAR_DOWNCAST_MAP picks (attention q/k/v/out and feed-forward
  projections, weights and biases, in `transformer_blocks.`); everything else keeps the load dtype.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ltx_backend.errors import LoadError
from ltx_backend.models.fp8_linear import FP8_DTYPES, Fp8CastLinear, fp8_cast_linear

QUANTIZATIONS = ("fp8-cast",)
FP8 = torch.float8_e4m3fn
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


@dataclass(frozen=True)
class TransformerWeights:
    """How the transformer's tensors are stored: fp8 where the file has fp8 (or fp8-cast asks for it), the load
    dtype elsewhere. `quantization`: None or one of QUANTIZATIONS."""

    quantization: str | None = None

    def stored_dtype(self, key: str, tensor: torch.Tensor, dtype: torch.dtype) -> torch.dtype:
        if key.endswith(SCALE_SUFFIXES):
            return torch.float32
        if tensor.dtype in FP8_DTYPES:
            return tensor.dtype
        if self.quantization == "fp8-cast" and cast_at_load(key):
            return FP8
        return dtype if tensor.is_floating_point() else tensor.dtype

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
        for path, linear in linears.items():
            if state.get(f"{path}.weight") is None or state[f"{path}.weight"].dtype not in FP8_DTYPES:
                if f"{path}.weight_scale" in state:
                    raise LoadError(f"{name}: {path}.weight_scale given for a weight that is not fp8")
                continue
            parent_path, _, attr = path.rpartition(".")
            parent = module.get_submodule(parent_path) if parent_path else module
            setattr(parent, attr, fp8_cast_linear(linear, scaled=f"{path}.weight_scale" in state))

    @staticmethod
    def fp8_linears(module: nn.Module) -> int:
        """How many Linears of the loaded module hold fp8 weights."""
        return sum(isinstance(m, Fp8CastLinear) for m in module.modules())
