#!/usr/bin/env python
"""Weight memory of each two-stage device mode at full size: what must sit on the GPU and in host memory before
any activation, counted from the published model structures on the meta device. Not a benchmark: the floor
under the peak that `bench_e2e.py` measures on a GPU (activations, the CUDA context and the allocator's cache
come on top).

Per component, the bytes of its parameters and buffers in bf16 (the GPU dtype), each built as the random-weight
model builds it (build/ltx_testing/random_weights.py) on the meta device; the transformer also stored as loading
stores it under `--quantization fp8-cast` / `fp8-scaled-mm` (loading/quantization.py: ltx-core's cast map's block
Linears in float8_e4m3fn, per-tensor scales beside the scaled ones). Per device mode (runtime/stage_weights.py)
for a two-stage request with the distilled LoRA in stage 2 and no user LoRA:

    snapshot   one transformer on the GPU; the base values of every tensor the LoRA touches kept in pinned
               host memory, and the LoRA's factors (pinned for the merges); the stage-2 merge's temporaries
               on the GPU, one Linear at a time
    resident   two transformers on the GPU (stage 1's, and stage 2's with the LoRA merged)
    original   one transformer on the GPU, rebuilt from the checkpoint at each switch

plus the other GPU components (video VAE encoder and decoder, latent upsampler, audio decoder and vocoder) and
the text encoder (Gemma 3 12B + the embeddings processor) on the GPU, or on the CPU (`text_encoder_on_cpu`).

    python build/memory_budget.py                  # LTX-2 and LTX-2.3, bf16 and fp8, against 80 / 141 GB
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ltx_backend.runtime.device_memory import GIB, module_bytes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "build"))

GPUS = {"H100 80GB": 79.6, "H200 141GB": 139.8}  # GiB: their memory as the CUDA runtime reports its total
DTYPE = torch.bfloat16


@dataclass(frozen=True)
class Component:
    name: str
    bytes: int


def transformer(source, quantization: str | None) -> nn.Module:
    """The transformer of `source` (ltx_testing.random_weights.RandomWeightsModel) on the meta device, stored as
    loading stores it under `quantization` (loading/quantization.py TransformerWeights: the fp8 Linears and their
    scales)."""
    from ltx_backend.loading.quantization import TransformerWeights

    return source.load("transformer", "meta", DTYPE, TransformerWeights(quantization))


@dataclass(frozen=True)
class LoraMerge:
    snapshot: int  # the touched weights as stored: snapshot mode's host copy of their base values
    factors: int  # the LoRA's factors (they cross to the GPU one Linear at a time)
    transient: int  # the largest Linear's merge on the GPU: its weight in fp32, the fp32 delta, the result


def lora_merge(model: nn.Module, lora) -> LoraMerge:
    """What merging `lora` (a LoraFile) into `model` holds: snapshot mode's host copy of what it touches
    (loading/lora.py WeightSnapshot), its factors, and the GPU temporaries of apply_loras, which merges Linear by
    Linear (weight.float(), the float32 delta, the rounded result: ~10 bytes per weight element, and the factors
    in float32)."""
    from ltx_backend.loading.lora import WeightSnapshot, touched_modules

    touched = touched_modules([lora], model)
    return LoraMerge(
        snapshot=WeightSnapshot.bytes_to_take(model, touched),
        factors=sum(t.numel() * t.element_size() for layer in lora.layers.values() for t in (layer.up, layer.down)),
        transient=max(10 * model.get_submodule(path).weight.numel() + 4 * (lora.layers[path].up.numel() + lora.layers[path].down.numel())
                      for path in touched),
    )


def components(source) -> tuple[list[Component], Component]:
    """(the GPU components besides the transformer, the text encoder) of `source` at full size, in bytes."""
    others = [Component(name, module_bytes(source.load(name, "meta", DTYPE)))
              for name in ("video_encoder", "video_decoder", "audio_decoder", "vocoder")]
    others.append(Component("latent_upsampler", module_bytes(source.latent_upsampler("meta", DTYPE))))
    encoder = module_bytes(source.gemma("meta", DTYPE)) + module_bytes(source.embeddings_processor("meta", DTYPE))
    return others, Component("text_encoder", encoder)


def main(argv=None) -> int:
    from ltx_testing.random_weights import FULL_LORA_RANK, RandomWeightsModel

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", choices=["2", "2.3"], nargs="*", default=["2", "2.3"])
    p.add_argument("--lora-rank", type=int, default=FULL_LORA_RANK, help="the distilled LoRA's rank (published: 384)")
    args = p.parse_args(argv)
    gib = lambda n: f"{n / GIB:.1f}"  # noqa: E731
    for version in args.version:
        source = RandomWeightsModel(version, "full")
        others, text = components(source)
        rest = sum(c.bytes for c in others)
        lora = source.distilled_lora("meta", DTYPE, rank=args.lora_rank)
        models = {q: transformer(source, q) for q in (None, "fp8-cast", "fp8-scaled-mm")}
        sizes = {q: module_bytes(model) for q, model in models.items()}
        merges = {q: lora_merge(model, lora) for q, model in models.items()}
        print(f"\n## LTX-{version}: weights at full size (GiB)\n")
        print("| component | bf16 | fp8-cast | fp8-scaled-mm |\n| --- | ---: | ---: | ---: |")
        print(f"| transformer | {' | '.join(gib(b) for b in sizes.values())} |")
        for c in (*others, text):
            print(f"| {c.name} | {gib(c.bytes)} | | |")
        print(f"| distilled LoRA factors, rank {args.lora_rank} | {gib(merges[None].factors)} | | |")
        print(f"\n## LTX-{version}: weights per device mode, two-stage with the distilled LoRA (GiB)\n")
        gpus = " | ".join(f"left on an {name} (text encoder on it / on CPU)" for name in GPUS)
        print(f"| mode | quantization | GPU, text encoder on it | GPU, text encoder on CPU | pinned host | {gpus} |")
        print("| --- | --- | ---: | ---: | ---: | " + " | ".join("---:" for _ in GPUS) + " |")
        for quantization, t in sizes.items():
            merge = merges[quantization]
            for mode, gpu, host in (
                ("snapshot", t + merge.transient, merge.snapshot + merge.factors),  # the factors pinned for the merge
                ("resident", 2 * t, 0),
                ("original", t, 0),
            ):
                with_text, without = gpu + rest + text.bytes, gpu + rest
                left = " | ".join(f"{total - with_text / GIB:.1f} / {total - without / GIB:.1f}" for total in GPUS.values())
                print(f"| {mode} | {quantization or 'bf16'} | {gib(with_text)} | {gib(without)} | {gib(host)} | {left} |")
    print("\nsnapshot's GPU figure includes the largest Linear's merge temporaries; its host memory holds the touched "
          "weights as the transformer stores them and the LoRA's factors. What is left (negative: does not fit) is for the activations, "
          "the CUDA context (~0.5 GiB) and the allocator's cache: bench_e2e.py measures the peak.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
