#!/usr/bin/env python
"""Speed of light of a two-stage request: the FLOPs of every model call, counted, and the least time they
take at a GPU's peak. Not a test, not a benchmark: arithmetic from the published model structures.

Each component is built at full size on the meta device (no memory, no weights) and run once under
torch.utils.flop_counter.FlopCounterMode at the request's shapes; the counter adds up the matmuls,
convolutions and attention (2 FLOPs per multiply-add). Elementwise work is not counted, so the bound is
low: no implementation at `--peak-tflops` can be faster than the "speed of light" column.

    python build/flop_budget.py                        # LTX-2, 768x512x121, 40 stage-1 steps, H100 peak
    python build/flop_budget.py --version 2.3 --stage1-steps 30
    python build/flop_budget.py --passes 2             # stage 1 with two passes (cond + uncond) only
    python build/flop_budget.py --pipeline distilled --width 1536 --height 1024 --quantization fp8-scaled-mm
    python build/flop_budget.py --case ltx_2_3_hq_pipeline   # one of SGLang's cases (build/bench_e2e.py --case)

The guidance passes of a stage-1 step follow the pipeline's default guidance (LTX-2 and LTX-2.3: CFG,
STG and modality isolation, i.e. 4 passes; HQ: no STG, 3) unless --passes says otherwise; they are counted
as the sampler batches them (the STG pass as the cond pass's twin: from its perturbed block on). The HQ
pipeline's res_2s sampler evaluates the transformer twice per step, and once more at the end (a schedule
ending at 0). One-stage runs its steps at the output size, with no upsampler and no stage 2. The transformer
gets its timesteps as the sampler passes them: one level per pass for text-to-video, and with --image (the
image's tokens clean beside the noisy ones) two levels and each token's index, so the AdaLN MLPs run on a row per
level, not per token. A conditioning image's VAE encoding (one frame) is not counted.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "build"))

from bench_e2e import PIPELINE_NAMES  # noqa: E402  (the benchmark's --pipeline names: one table)

H100_BF16_DENSE_TFLOPS = 989.4  # H100 / H200 SXM, dense bf16 tensor-core peak
H100_FP8_DENSE_TFLOPS = 1978.9  # the same, fp8 (e4m3) inputs


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--version", default="2", choices=["2", "2.3"])
    p.add_argument("--width", type=int, default=768)
    p.add_argument("--height", type=int, default=512)
    p.add_argument("--frames", type=int, default=121)
    p.add_argument("--fps", type=float, default=24.0)
    p.add_argument("--stage1-steps", type=int, default=None, help="default: the pipeline's (40 for LTX-2, 30 for LTX-2.3, 15 HQ)")
    p.add_argument("--passes", type=int, choices=[1, 2, 3, 4], help="stage-1 guidance passes (default: the version's)")
    p.add_argument("--image", action="store_true", help="image-to-video: a conditioning image at frame 0 (two noise levels)")
    p.add_argument("--skip-step", type=int, default=0,
                   help="the request's skip_step: the transformer runs on every (N+1)-th stage-1 step only")
    p.add_argument("--pipeline", default="two-stage", choices=tuple(PIPELINE_NAMES),
                   help="hq: LTX2TwoStageHQPipeline (res_2s: two evaluations per step); distilled: LTX2DistilledPipeline "
                        "(8 + 3 steps, one pass each, one prompt)")
    p.add_argument("--case", default=None, help="one of SGLang's cases (build/bench_e2e.py SGLANG_CASES): its request and "
                   "goal (half SGLang's H100 time) instead of the flags above")
    p.add_argument("--quantization", default="none", choices=["none", "fp8-cast", "fp8-scaled-mm"],
                   help="fp8-scaled-mm: its Linears' matmuls at --fp8-peak-tflops (fp8-cast multiplies in bf16)")
    p.add_argument("--peak-tflops", type=float, default=H100_BF16_DENSE_TFLOPS)
    p.add_argument("--fp8-peak-tflops", type=float, default=H100_FP8_DENSE_TFLOPS)
    p.add_argument("--goal-s", type=float, default=5.5, help="the request-time goal to compare with")
    args = p.parse_args(argv)
    if args.case is not None:
        from bench_e2e import SGLANG_CASES, build_request, stage1_passes
        from bench_e2e import parse_args as bench_args

        if args.case not in SGLANG_CASES:
            p.error(f"--case {args.case!r}: one of {', '.join(SGLANG_CASES)}")
        case, request = SGLANG_CASES[args.case], build_request(bench_args(["--case", args.case]))
        args.version, args.pipeline, args.width, args.height = case.version, case.pipeline, case.width, case.height
        args.frames, args.stage1_steps, args.fps = request.num_frames, request.num_inference_steps, request.fps
        args.passes, args.goal_s, args.image = stage1_passes(request, case.version), case.goal_s, case.image
    return args


def count(fn, fp8_layer=None) -> float | tuple[float, float]:
    """The FLOPs of fn() (on meta or fake tensors); with `fp8_layer` (module path -> bool), also the part in the
    modules it names (summed over those leaf modules' own counts)."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        fn()
    total = float(counter.get_total_flops())
    if fp8_layer is None:
        return total
    per_module = counter.get_flop_counts()
    fp8 = sum(sum(ops.values()) for name, ops in per_module.items() if "." in name and fp8_layer(name.split(".", 1)[1]))
    return total, float(fp8)


def default_passes(version: str, pipeline_class_name: str) -> int:
    from ltx_backend.pipelines.registry import spec_of
    from ltx_backend.sampling.guidance import passes_per_step

    return passes_per_step(*spec_of(pipeline_class_name).guidance[version])


def evaluations(sampler: str, steps: int) -> int:
    """Transformer calls of `steps` steps whose schedule ends at 0: Euler one per step; res_2s two, and one more
    at its final sigma (sampling/res2s.py)."""
    return 2 * steps + 1 if sampler == "res2s" else steps


def transformer_flops(version: str, passes: int, latent: tuple[int, int, int], audio_tokens: int, split: bool = False,
                      image: bool = False):
    """A step's FLOPs; with `split`, (FLOPs, the part in the Linears fp8-scaled-mm multiplies in fp8). The
    timesteps as the sampler passes them: one level per pass, or with `image` two levels (bench_kernels' forms)."""
    from bench_kernels import _step_inputs
    from ltx_backend.loading.quantization import multiplied_in_fp8
    from ltx_backend.models.transformer import build_transformer, full_transformer_config
    from ltx_testing.random_weights import materialize

    model = materialize(lambda: build_transformer({"transformer": full_transformer_config(version)}), "meta", torch.bfloat16)
    (video, audio, perturbations), _ = _step_inputs(
        model.config, passes, False, "meta", torch.bfloat16, latent=latent, audio_tokens=audio_tokens,
        timesteps="image_per_level" if image else "per_element",
    )
    return count(lambda: model(video, audio, perturbations), multiplied_in_fp8 if split else None)


def text_encoder_flops(version: str, prompts: int) -> float:
    """Gemma 3 12B's text tower + the feature extractor (fake CPU tensors: Gemma's RoPE runs under a CPU
    autocast guard, which the meta device lacks) + the two connectors (counted by shape: their padding
    replacement reads the mask's values)."""
    from torch._subclasses.fake_tensor import FakeTensorMode
    from transformers import Gemma3TextModel

    from ltx_backend.models.text_encoder import build_embeddings_processor
    from ltx_backend.models.text_encoder.gemma_files import PROMPT_TOKENS
    from ltx_testing.random_weights import full_checkpoint_config, gemma_text_config

    config = gemma_text_config("full")
    default_dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # built in bf16 (fake parameters cannot be converted)
    fake = FakeTensorMode()
    try:
        with fake:
            gemma = Gemma3TextModel(config)
            processor = build_embeddings_processor(full_checkpoint_config(version), config)
    finally:
        torch.set_default_dtype(default_dtype)
    with fake:
        ids = torch.zeros(prompts, PROMPT_TOKENS, dtype=torch.int64)
        mask = torch.ones(prompts, PROMPT_TOKENS, dtype=torch.int64)

        def run():  # no padding mask: transformers inspects a mask's values; the same FLOPs
            hidden = gemma(input_ids=ids, attention_mask=None, output_hidden_states=True, use_cache=False).hidden_states
            processor.feature_extractor(hidden, mask)

        flops = count(run)
    for connector in (processor.video_connector, processor.audio_connector):
        linear = sum(m.weight.numel() for m in connector.modules() if isinstance(m, torch.nn.Linear))
        layers = len(connector.transformer_1d_blocks)
        flops += 2 * prompts * PROMPT_TOKENS * linear + 4 * prompts * layers * PROMPT_TOKENS**2 * connector.inner_dim
    return flops


def video_decode_flops(version: str, latent: torch.Size) -> float:
    """The decode as the pipelines run it: tiled (512 px / 64 frames, with overlaps) above those sizes."""
    from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
    from ltx_backend.models.video_vae.decode import decode_chunks
    from ltx_testing.random_weights import full_checkpoint_config, materialize

    decoder = materialize(lambda: CHECKPOINT_PARTS["video_decoder"].build(full_checkpoint_config(version)), "meta", torch.bfloat16)
    x = torch.empty(latent, device="meta", dtype=torch.bfloat16)
    return count(lambda: list(decode_chunks(x, decoder)))


def upsampler_flops(latent: torch.Size) -> float:
    from ltx_backend.models.latent_upsampler import build_latent_upsampler, published_upsampler_config
    from ltx_testing.random_weights import materialize

    module = materialize(lambda: build_latent_upsampler(published_upsampler_config()), "meta", torch.bfloat16)
    return count(lambda: module(torch.empty(latent, device="meta", dtype=torch.bfloat16)))


def audio_flops(version: str, shape: torch.Size) -> float:
    from ltx_backend.loading.checkpoint_parts import CHECKPOINT_PARTS
    from ltx_testing.random_weights import full_checkpoint_config, materialize

    config = full_checkpoint_config(version)
    decoder = materialize(lambda: CHECKPOINT_PARTS["audio_decoder"].build(config), "meta", torch.bfloat16)
    vocoder = materialize(lambda: CHECKPOINT_PARTS["vocoder"].build(config), "meta", torch.bfloat16)
    latent = torch.empty(shape, device="meta", dtype=torch.bfloat16)
    return count(lambda: vocoder(decoder(latent)))


def main(argv=None) -> int:
    args = parse_args(argv)
    from ltx_backend.latents.shapes import AudioLatentShape, VideoLatentShape, VideoPixelShape
    from ltx_backend.pipelines.registry import spec_of
    from ltx_backend.sampling.schedule import distilled_sigmas

    spec = spec_of(PIPELINE_NAMES[args.pipeline])
    if not spec.runs_on(args.version):
        print(f"error: {spec.name} does not run on LTX-{args.version} (runs on {', '.join(spec.defaults)})", file=sys.stderr)
        return 2
    distilled = spec.distilled
    passes = 1 if distilled else args.passes or default_passes(args.version, spec.name)
    stage1_steps = len(distilled_sigmas(stage=1)) - 1 if distilled else args.stage1_steps or spec.defaults[args.version].num_inference_steps
    scaled_mm = args.quantization == "fp8-scaled-mm"
    full = VideoPixelShape(1, args.frames, args.height, args.width, args.fps)
    half = VideoPixelShape(1, args.frames, args.height // 2, args.width // 2, args.fps) if spec.two_stage else full
    latent_full = VideoLatentShape.from_pixel_shape(full)
    latent_half = VideoLatentShape.from_pixel_shape(half)
    audio_latent = AudioLatentShape.from_video_pixel_shape(full)
    audio_tokens = audio_latent.frames
    stage2_steps = len(distilled_sigmas(stage=2)) - 1

    def dims(s):
        return (s.frames, s.height, s.width)

    rows = []  # (what, calls, TFLOP per call, the part of it in fp8 matmuls)
    prompts = 1 if distilled else 2
    rows.append((f"text encoder (Gemma 3 12B + connectors), {prompts} prompt{'s' if prompts > 1 else ''} x 1024 tokens", 1,
                 text_encoder_flops(args.version, prompts), 0.0))
    step1, step1_fp8 = transformer_flops(args.version, passes, dims(latent_half), audio_tokens, split=True, image=args.image)
    twin = " (the STG pass from its block on)" if passes == 4 else ""
    stage1_calls = evaluations(spec.sampler, math.ceil(stage1_steps / (args.skip_step + 1)))  # steps 0, N+1, 2(N+1), ...
    call = "res_2s evaluation" if spec.sampler == "res2s" else "step"
    rows.append((f"stage-1 {call}: {passes} pass{'es' if passes > 1 else ''}{twin} x {math.prod(dims(latent_half))} video + {audio_tokens} audio tokens", stage1_calls,
                 step1, step1_fp8))
    if spec.two_stage:
        rows.append(("x2 latent upsampler", 1, upsampler_flops(latent_half.to_torch_shape()), 0.0))
        step2, step2_fp8 = transformer_flops(args.version, 1, dims(latent_full), audio_tokens, split=True, image=args.image)
        rows.append((f"stage-2 {call}: 1 pass x {math.prod(dims(latent_full))} video + {audio_tokens} audio tokens",
                     evaluations(spec.sampler, stage2_steps), step2, step2_fp8))
    rows.append((f"video VAE decode ({args.width}x{args.height}x{args.frames}, tiled as the pipelines decode)", 1,
                 video_decode_flops(args.version, latent_full.to_torch_shape()), 0.0))
    rows.append(("audio decoder + vocoder", 1, audio_flops(args.version, audio_latent.to_torch_shape()), 0.0))
    if not scaled_mm:
        rows = [(what, calls, flops, 0.0) for what, calls, flops, _ in rows]

    peak, fp8_peak = args.peak_tflops * 1e12, args.fp8_peak_tflops * 1e12

    def least_time(flops: float, fp8_flops: float) -> float:
        return (flops - fp8_flops) / peak + fp8_flops / fp8_peak

    name = args.pipeline + (" + image" if args.image else "") + (f" (SGLang case {args.case})" if args.case else "")
    precision = f", {args.quantization} (its block Linears at {args.fp8_peak_tflops:g} TFLOP/s)" if scaled_mm else (
        f", {args.quantization}" if args.quantization != "none" else "")
    print(f"# LTX-{args.version} {name} {args.width}x{args.height}x{args.frames}{precision}: FLOPs per model call "
          f"(meta-device count) and the least time at {args.peak_tflops:g} TFLOP/s\n")
    print("| model call | calls | TFLOP per call | TFLOP | speed of light (s) |")
    print("| --- | --- | --- | --- | --- |")
    total = total_fp8 = 0.0
    for what, calls, flops, fp8_flops in rows:
        total += calls * flops
        total_fp8 += calls * fp8_flops
        print(f"| {what} | {calls} | {flops / 1e12:.2f} | {calls * flops / 1e12:.1f} | {calls * least_time(flops, fp8_flops):.3f} |")
    least = least_time(total, total_fp8)
    print(f"| **request** | | | **{total / 1e12:.1f}** | **{least:.2f}** |")
    per_step = 2 if spec.sampler == "res2s" else 1
    print(f"\nstage-1 step at peak: {per_step * least_time(step1, step1_fp8 if scaled_mm else 0.0) * 1e3:.0f} ms ({per_step} x "
          f"{passes} pass{'es' if passes > 1 else ''}; {least_time(step1, step1_fp8 if scaled_mm else 0.0) / passes * 1e3:.0f} ms per pass).")
    if scaled_mm:
        print(f"fp8 matmuls: {total_fp8 / total:.0%} of the request's FLOPs (bf16 speed of light {total / peak:.2f} s).")
    if least <= args.goal_s:
        print(f"goal {args.goal_s:g} s: reachable only above {least / args.goal_s:.0%} of peak sustained "
              f"({total / 1e12 / args.goal_s:.0f} TFLOP/s on average)")
    else:
        print(f"goal {args.goal_s:g} s: NOT reachable: even at 100% of peak it takes {least:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
