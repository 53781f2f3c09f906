#!/usr/bin/env python
"""Kernel launches of one transformer call, counted on CPU: what a denoising step costs the host in eager mode.

A GPU runs each launch's math fast, but eager PyTorch spends host time on every launch (Python, the dispatcher,
Triton's launcher: several microseconds each). At few tokens (SGLang's 25-frame cases: 384 video tokens in
stage 1) a step's math takes about as long as its launches; CUDA graphs (--torch-compile-mode
reduce-overhead) replay them without that cost. This counts the launches of the path a GPU runs.

The model runs on CPU at tiny width with the real structure (the count per block does not depend on widths),
the fused ops through their Triton kernels (the interpreter, TRITON_INTERPRET=1): every aten op that is not a
view is one launch, each Triton kernel launch one (what the interpreter does inside it is not counted).
`F.rms_norm` counts one launch, as CUDA runs it (aten::_fused_rms_norm) where a CPU decomposes it into six. The
full model's count is a plain block's times the published block count less one, the STG-perturbed block's (with 4
passes), and the rest (embeddings, RoPE tables, AdaLN timestep MLPs and vectors, output projection). The step is a
text-to-video one, one timestep per element, as the sampler passes it; with --image also an image-to-video one, the
video's timesteps per noise level (the sampler's form) and per token (the sampler's before the levels).

    python build/count_launches.py                 # LTX-2 and LTX-2.3, 2 and 4 guidance passes (batched in one call)
    python build/count_launches.py --image         # and the image-to-video step
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import sys
import warnings
from pathlib import Path

os.environ["TRITON_INTERPRET"] = "1"  # before anything imports triton

import torch  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "build"))

# aten ops that launch nothing on a GPU (views, metadata, allocation)
NO_LAUNCH = {
    "view", "_unsafe_view", "reshape", "transpose", "permute", "unsqueeze", "squeeze", "expand", "slice", "select",
    "split", "unbind", "t", "chunk", "alias", "detach", "as_strided", "split_with_sizes", "narrow", "unflatten",
    "flatten", "empty_strided", "empty", "lift_fresh", "_local_scalar_dense", "promote_types",
}


class OpCounter(TorchDispatchMode):
    """Counts aten ops by name, per transformer block (`block`: the index of the block running, None outside the
    blocks); an op run by a fused one is not counted (`in_fused`)."""

    def __init__(self):
        super().__init__()
        self.blocks = collections.defaultdict(collections.Counter)
        self.outside = collections.Counter()
        self.block = None
        self.in_fused = False

    def add(self, name: str) -> None:
        (self.outside if self.block is None else self.blocks[self.block])[name] += 1

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if not self.in_fused:
            self.add(func.overloadpacket.__name__)
        return func(*args, **(kwargs or {}))


class FusedOnCuda(TorchFunctionMode):
    """F.rms_norm as one op: CUDA's aten::_fused_rms_norm (a CPU runs pow, mean, add, rsqrt, mul and casts)."""

    def __init__(self, counter: OpCounter):
        super().__init__()
        self.counter = counter

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func is not torch.nn.functional.rms_norm:
            return func(*args, **(kwargs or {}))
        self.counter.add("_fused_rms_norm")
        self.counter.in_fused = True
        try:
            return func(*args, **(kwargs or {}))
        finally:
            self.counter.in_fused = False


def launches(ops: collections.Counter) -> int:
    return sum(n for name, n in ops.items() if name not in NO_LAUNCH)


@contextlib.contextmanager
def triton_launches_counted(counter: OpCounter):
    """Each interpreted Triton kernel launch counted as one op, "triton", its interpreter's work not at all."""
    from triton.runtime import interpreter

    launch = interpreter.GridExecutor.__call__

    def counted(self, *args, **kwargs):
        counter.add("triton")
        counter.in_fused = True
        try:
            return launch(self, *args, **kwargs)
        finally:
            counter.in_fused = False

    interpreter.GridExecutor.__call__ = counted
    try:
        yield
    finally:
        interpreter.GridExecutor.__call__ = launch


def count(version: str, passes: int, timesteps: str = "per_element") -> dict:
    """One call's launches; timesteps: bench_kernels.TIMESTEP_FORMS (default: a text-to-video step as the sampler
    passes it)."""
    import ltx_kernels
    from bench_kernels import _step_inputs
    from ltx_backend.models.transformer import build_transformer, full_transformer_config
    from ltx_testing.random_weights import materialize
    from ltx_testing.tiny_configs import tiny_transformer_config

    dtype = torch.bfloat16
    model = materialize(lambda: build_transformer({"transformer": tiny_transformer_config(version)}), "cpu", dtype)
    ltx_kernels.set_attention_backend("triton")
    # tiny shapes (the launches do not depend on them): the text's 9 tokens too, as the interpreter runs the kernels
    (video, audio, perturbations), _ = _step_inputs(model.config, passes, False, "cpu", dtype, latent=(2, 2, 3), audio_tokens=5,
                                                    timesteps=timesteps, text_tokens=9)
    counter = OpCounter()
    for index, block in enumerate(model.transformer_blocks):  # the tiny model's 2 blocks: a plain one, the STG one
        block.register_forward_pre_hook(lambda *_, index=index: setattr(counter, "block", index))
        block.register_forward_hook(lambda *_: setattr(counter, "block", None))
    # uninitialised weights through the interpreter's numpy warn (inf - inf, all-NaN rows): the count is the point
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model(video, audio, perturbations)  # warm-up: the kernels' first calls
        with counter, FusedOnCuda(counter), triton_launches_counted(counter):
            model(video, audio, perturbations)
    plain, last = counter.blocks[0], counter.blocks[len(model.transformer_blocks) - 1]
    kernels = plain["triton"]
    assert kernels > 0, "the block ran no Triton kernel"
    per_block, last_block, rest = launches(plain), launches(last), launches(counter.outside)
    full_blocks = full_transformer_config(version)["num_layers"]
    # every block launches as block 0 does but the one STG perturbs (with 4 passes the tiny model's last; the twin
    # joins there), which launches as the last
    return dict(version=version, passes=passes, timesteps=timesteps, aten_per_block=per_block - kernels, kernels_per_block=kernels,
                per_block=per_block, last_block=last_block, rest=rest, blocks=full_blocks,
                total=per_block * (full_blocks - 1) + last_block + rest,
                block_ops=dict(sorted(((k, v) for k, v in plain.items() if k not in NO_LAUNCH), key=lambda kv: -kv[1])))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", choices=["2", "2.3"], nargs="*", default=["2", "2.3"])
    p.add_argument("--passes", type=int, choices=[1, 2, 3, 4], nargs="*", default=[2, 4])
    p.add_argument("--image", action="store_true", help="also an image-to-video step (per noise level, per token)")
    args = p.parse_args(argv)
    forms = ["per_element"] + (["image_per_level", "image_per_token"] if args.image else [])
    print("| model | passes | timesteps | aten launches per block | Triton kernels per block | the STG block | blocks | "
          "rest of the model | launches per call |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = [count(version, passes, form) for version in args.version for passes in args.passes for form in forms]
    for r in rows:
        print(f"| LTX-{r['version']} | {r['passes']} | {r['timesteps']} | {r['aten_per_block']} | {r['kernels_per_block']} | "
              f"{r['last_block']} | {r['blocks']} | {r['rest']} | **{r['total']:,}** |")
    for r in rows:
        print(f"LTX-{r['version']}, {r['passes']} passes, {r['timesteps']}, one block's aten launches: {r['block_ops']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
