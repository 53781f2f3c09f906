"""Regional torch.compile of the transformer (`--enable-torch-compile`): each block compiled in place.

Blocks take no block index (the model resolves each block's skips into a BlockSkips first), so blocks with
the same skip pattern share one compiled graph: a 48-block model with STG on one block compiles two graphs
per input shape, not 48. Compiling in place (nn.Module.compile) keeps every parameter name, so LoRA merges
and the device modes' weight switches work on a compiled transformer unchanged; they copy into the same
tensors, which the compiled graphs read as inputs.

mode "reduce-overhead" (and "max-autotune") also captures each block's kernels as CUDA graphs (on CUDA; on
CPU torch runs the compiled code without them). Each transformer call (forward) starts a new CUDA-graph
generation (a forward pre-hook marks it). Nothing a call returns lives in CUDA-graph memory: the blocks'
output goes through the eager output norm and projection, so results may be kept across calls. What the
graphs cost: every input made outside the blocks (AdaLN vectors, RoPE tables, cached text K/V) is copied into
the graph's input buffers at each replay, and each new input shape records new graphs (a server taking many
sizes records them all). Not with device mode `original`: every stage switch builds a new transformer,
whose new parameter addresses would make torch record all the graphs again, at every switch, without end.
"""
from __future__ import annotations

import torch
from torch import nn

from ltx_backend.errors import InvalidRequest

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")

# Distinct (batch of guidance passes, skip pattern, timesteps per token / once / per noise level and how many levels,
# dynamic-shape) variants one block may compile: the guidance settings and conditioning a server sees vary per
# request; past this limit torch runs the block eagerly.
RECOMPILE_LIMIT = 64


def check_compile_mode(mode: str | None, device_mode: str) -> None:
    """A clear error for a torch.compile mode that is not one, or that cannot go with the device mode."""
    if mode is None:
        return
    if mode not in COMPILE_MODES:
        raise InvalidRequest("torch_compile_mode", mode, f"one of {', '.join(COMPILE_MODES)}")
    if mode in CUDA_GRAPH_MODES and device_mode == "original":
        raise InvalidRequest(
            "torch_compile_mode", mode, "default or max-autotune-no-cudagraphs with device_mode 'original' (CUDA graphs would "
            "be recorded again for the transformer rebuilt at every stage switch), or device mode snapshot / resident",
        )


def compile_blocks(model: nn.Module, mode: str = "default", backend: str = "inductor") -> nn.Module:
    """Compile every block of `model` (an AVTransformer) in place; returns the model.

    backend: torch.compile's backend ("inductor"; tests use "eager" to check the tracing quickly).
    """
    check_compile_mode(mode, "")
    config = torch._dynamo.config
    for name in ("recompile_limit", "cache_size_limit"):  # the first is the name since torch 2.6
        if hasattr(config, name):
            setattr(config, name, max(getattr(config, name), RECOMPILE_LIMIT))
    options = {"mode": mode} if backend == "inductor" else {}
    uncompile_blocks(model)
    for block in model.transformer_blocks:
        block.compile(backend=backend, **options)
    if mode in CUDA_GRAPH_MODES:
        model._cuda_graph_step_hook = model.register_forward_pre_hook(_new_cuda_graph_step)
    return model


def uncompile_blocks(model: nn.Module) -> nn.Module:
    """Undo compile_blocks: the blocks run eagerly again (benchmarks compare modes on one model)."""
    for block in model.transformer_blocks:
        block._compiled_call_impl = None
    hook = getattr(model, "_cuda_graph_step_hook", None)
    if hook is not None:
        hook.remove()
        model._cuda_graph_step_hook = None
    return model


def _new_cuda_graph_step(module: nn.Module, args) -> None:
    torch.compiler.cudagraph_mark_step_begin()
