#!/usr/bin/env python
"""Weight memory of each two-stage device mode at full size: what must sit on the GPU and in host memory before
any activation, counted from the published model structures on the meta device. Not a benchmark: the floor
under the peak that `bench_e2e.py` measures on a GPU (activations, the CUDA context and the allocator's cache
come on top).

Per component, the bytes of its parameters and buffers in bf16 (the GPU dtype); the transformer also as
`--quantization fp8-cast` / `fp8-scaled-mm` keep it (ltx-core's cast map: block Linear weights and biases in
float8_e4m3fn, 1 byte; per-tensor scales beside the scaled ones). Per device mode (runtime/stage_weights.py)
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "build"))

GPUS = {"H100 80GB": 79.6, "H200 141GB": 139.8}  # GiB: their memory as the CUDA runtime reports its total
BF16 = 2
FP8 = 1


@dataclass(frozen=True)
class Component:
    name: str
    bytes: int


def module_bytes(module: nn.Module, element_size: int = BF16) -> int:
    return sum(t.numel() for t in (*module.parameters(), *module.buffers())) * element_size


def stored_bytes(name: str, numel: int, quantization: str | None) -> int:
    """Bytes of the transformer tensor `name` as that quantization keeps it: the cast map's block Linear weights
    and biases in fp8 (fp8-scaled-mm: weights outside blocks 0 and 43-47, with one float32 scale each), the rest
    in bf16."""
    from ltx_backend.loading.quantization import cast_at_load, multiplied_in_fp8

    if quantization == "fp8-cast" and cast_at_load(name):
        return numel * FP8
    if quantization == "fp8-scaled-mm" and name.endswith(".weight") and multiplied_in_fp8(name.rsplit(".", 1)[0]):
        return numel * FP8 + 4
    return numel * BF16


def transformer_bytes(model: nn.Module, quantization: str | None) -> int:
    return sum(stored_bytes(name, t.numel(), quantization) for name, t in (*model.named_parameters(), *model.named_buffers()))


@dataclass(frozen=True)
class LoraMerge:
    snapshot: int  # the touched weights as stored: snapshot mode's host copy of their base values
    factors: int  # the LoRA's factors in bf16 (they cross to the GPU one Linear at a time)
    transient: int  # the largest Linear's merge on the GPU: its weight in fp32, the fp32 delta, the result


def lora_merge(model: nn.Module, rank: int, quantization: str | None) -> LoraMerge:
    """What merging a distilled LoRA of `rank` into every block Linear (as Lightricks' distilled LoRAs adapt)
    holds: loading/lora.py apply_loras merges Linear by Linear, so the GPU holds one Linear's temporaries at a
    time (weight.float(), the float32 delta, the rounded result: ~10 bytes per weight element)."""
    from ltx_backend.loading.quantization import BLOCKS_PREFIX

    linears = [(n, m) for n, m in model.named_modules() if n.startswith(BLOCKS_PREFIX) and isinstance(m, nn.Linear)]
    return LoraMerge(
        snapshot=sum(stored_bytes(f"{n}.weight", m.weight.numel(), quantization) for n, m in linears),
        factors=sum(rank * (m.in_features + m.out_features) for _, m in linears) * BF16,
        transient=max(10 * m.weight.numel() + 4 * rank * (m.in_features + m.out_features) for _, m in linears),
    )


def components(version: str) -> tuple[nn.Module, list[Component], Component]:
    """(the transformer on meta, the other GPU components, the text encoder), at full size."""
    from transformers import Gemma3TextModel

    from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
    from ltx_backend.models.latent_upsampler import build_latent_upsampler, published_upsampler_config
    from ltx_backend.models.text_encoder import build_embeddings_processor
    from ltx_testing.random_weights import full_checkpoint_config, gemma_text_config

    config = full_checkpoint_config(version)
    with torch.device("meta"):
        transformer = CHECKPOINT_PARTS["transformer"].build(config)
        others = [Component(name, module_bytes(CHECKPOINT_PARTS[name].build(config)))
                  for name in ("video_encoder", "video_decoder", "audio_decoder", "vocoder")]
        others.append(Component("latent_upsampler", module_bytes(build_latent_upsampler(published_upsampler_config()))))
        text = gemma_text_config("full")
        encoder = module_bytes(Gemma3TextModel(text)) + module_bytes(build_embeddings_processor(config, text))
    return transformer, others, Component("text_encoder", encoder)


def main(argv=None) -> int:
    from ltx_backend.runtime.device_memory import GIB
    from ltx_testing.random_weights import FULL_LORA_RANK

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", choices=["2", "2.3"], nargs="*", default=["2", "2.3"])
    p.add_argument("--lora-rank", type=int, default=FULL_LORA_RANK, help="the distilled LoRA's rank (published: 384)")
    args = p.parse_args(argv)
    gib = lambda n: f"{n / GIB:.1f}"  # noqa: E731
    for version in args.version:
        transformer, others, text = components(version)
        rest = sum(c.bytes for c in others)
        sizes = {q: transformer_bytes(transformer, q) for q in (None, "fp8-cast", "fp8-scaled-mm")}
        merges = {q: lora_merge(transformer, args.lora_rank, q) for q in sizes}
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
