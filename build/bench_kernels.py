#!/usr/bin/env python
"""Benchmark of the ltx_kernels Triton kernels and of the full transformer step (issue #5). Not a test.

On a GPU it prints markdown tables of
  1. attention: TFLOP/s of the Triton flash-style kernel vs torch SDPA's best backend (flash, efficient,
     cuDNN; each tried, the fastest kept) at LTX shapes: video self-attention 6144 and 24,480 tokens x 32
     heads x 128, audio self-attention (32 x 64), text cross-attention to 1024 keys with a padding mask,
     audio<->video cross-attention;
  2. fused ops: GB/s of the fused QK-norm + RoPE, AdaLN modulation and gated residual vs the unfused
     torch ops (the same byte count for both: what the fused kernel must move);
  3. the full-size transformer step (LTX-2.3 by default; random bf16 weights, speed does not depend on
     them) at 768x512x121 with the guidance passes batched (cond, uncond, STG, modality isolation):
     ours with the Triton kernels, ours with torch SDPA/ops, and ltx-core 1.0.0's X0Model(LTXModel) with
     the same weights (shared tensors) and inputs, in the same run.

    python build/bench_kernels.py                   # everything, on cuda
    python build/bench_kernels.py --sections attention,fused
    python build/bench_kernels.py --dry-run         # tiny shapes on CPU (Triton interpreter): checks the script

--dry-run runs every section at tiny sizes on the CPU (Triton kernels in the interpreter, the tiny
LTX-2.3 config vs ltx-core's tiny model); its numbers mean nothing beyond "the script works".
"""
from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# 768x512x121 -> latent 16 frames x 16 x 24; audio 121 / 24 s at 25 latents/s.
VIDEO_LATENT = (16, 16, 24)
AUDIO_TOKENS = 126
TEXT_TOKENS = 1024


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="tiny shapes on CPU with TRITON_INTERPRET=1")
    p.add_argument("--sections", default="attention,fused,step", help="comma list of attention, fused, step")
    p.add_argument("--version", default="2.3", choices=("2", "2.3"), help="transformer for the step section")
    p.add_argument("--passes", type=int, default=4, help="guidance passes batched in one step (1..4)")
    p.add_argument("--attn-batch", type=int, default=1, help="batch of the attention section")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--step-iters", type=int, default=5)
    p.add_argument("--no-reference", action="store_true", help="skip ltx-core's step")
    p.add_argument("--layers", type=int, default=None, help="override num_layers of the step's model")
    p.add_argument("--compile", action="store_true", help="also time the step with torch.compile of each block (SDPA and Triton)")
    p.add_argument("--peak-tflops", type=float, default=None,
                   help="dense bf16 peak of the GPU for the %%-of-peak column (default: known H100 / H200 values)")
    args = p.parse_args(argv)
    if not 1 <= args.passes <= 4:
        p.error("--passes must be 1..4")
    return args


# ----------------------------------------------------------------------------------------------- timing


def timed(fn, warmup: int, iters: int, device) -> float:
    """Median milliseconds of fn() over `iters` runs (CUDA events on GPU). On the GPU each run times enough
    back-to-back calls to fill about a millisecond, so a kernel of a few microseconds is timed, not the
    Python launch around one call."""
    import torch

    for _ in range(warmup):
        fn()
    times = []
    if device.type == "cuda":
        torch.cuda.synchronize()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        repeat = max(1, min(100, int(1.0 / max(start.elapsed_time(end), 1e-3))))
        for _ in range(iters):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(repeat):
                fn()
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / repeat)
    else:
        for _ in range(iters):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def progress(line: str) -> None:
    """A result as soon as it is measured (the tables print at the end: a run cut short keeps these)."""
    print(f"  .. {line}", flush=True)


def table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- attention


def attention_cases(dry: bool):
    """(name, heads, head_dim, Tq, Tk, masked)."""
    if dry:
        return [
            ("video self (tiny)", 2, 32, 40, 40, False),
            ("audio self (tiny)", 2, 16, 9, 9, False),
            ("text cross, masked (tiny)", 2, 32, 40, 17, True),
        ]
    video = math.prod(VIDEO_LATENT)
    return [
        (f"video self {video} x 32 x 128", 32, 128, video, video, False),
        ("video self 24480 x 32 x 128", 32, 128, 24480, 24480, False),
        (f"audio self {AUDIO_TOKENS} x 32 x 64", 32, 64, AUDIO_TOKENS, AUDIO_TOKENS, False),
        (f"video-text cross {video} x {TEXT_TOKENS}, masked, 32 x 128", 32, 128, video, TEXT_TOKENS, True),
        (f"audio-text cross {AUDIO_TOKENS} x {TEXT_TOKENS}, masked, 32 x 64", 32, 64, AUDIO_TOKENS, TEXT_TOKENS, True),
        (f"a2v cross {video} x {AUDIO_TOKENS} x 32 x 64", 32, 64, video, AUDIO_TOKENS, False),
    ]


def sdpa_best(q, k, v, heads, mask, warmup, iters, device):
    """(ms, backend name) of the fastest SDPA backend that runs these inputs."""
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel

    from ltx_kernels.attention import sdpa_attention

    candidates = [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]
    if device.type != "cuda" or q.shape[1] * k.shape[1] * heads * q.shape[0] <= 2**28:
        candidates.append(SDPBackend.MATH)
    best = (float("inf"), "none")
    for backend in candidates:
        try:
            with sdpa_kernel([backend]), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ms = timed(lambda: sdpa_attention(q, k, v, heads, mask), warmup, iters, device)
        except (RuntimeError, NotImplementedError, ValueError):  # backend does not take these inputs
            continue
        best = min(best, (ms, backend.name.lower()))
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return best


def autotune_summary(kernel) -> tuple[str, str, str]:
    """(chosen config, best pointer-load ms, best TMA-descriptor ms) from the autotuner's last tuning run
    (the kernel just tuned a new shape bucket; "-" where a kind was not timed)."""
    config = kernel.best_config
    kind = "tma" if config.kwargs.get("USE_TMA") else "pointer"
    chosen = f"{kind} {config.kwargs['BLOCK_M']}x{config.kwargs['BLOCK_N']} w{config.num_warps} s{config.num_stages}"
    best = {"pointer": float("inf"), "tma": float("inf")}
    for c, t in (getattr(kernel, "configs_timings", None) or {}).items():
        ms = t[0] if isinstance(t, (list, tuple)) else t
        key = "tma" if c.kwargs.get("USE_TMA") else "pointer"
        best[key] = min(best[key], ms)
    return chosen, *(f"{best[k]:.3f}" if best[k] < float("inf") else "-" for k in ("pointer", "tma"))


def bench_attention(args, device, dtype) -> str:
    import torch

    from ltx_kernels.attention import sdpa_attention
    from ltx_kernels.triton_attention import _attention_fwd, triton_attention

    rows = []
    batch = args.attn_batch
    for name, heads, head_dim, tq, tk, masked in attention_cases(args.dry_run):
        g = torch.Generator(device=device).manual_seed(0)
        q = torch.randn(batch, tq, heads * head_dim, device=device, dtype=dtype, generator=g)
        k = torch.randn(batch, tk, heads * head_dim, device=device, dtype=dtype, generator=g)
        v = torch.randn(batch, tk, heads * head_dim, device=device, dtype=dtype, generator=g)
        mask = None
        if masked:  # text key padding as the model builds it: [B, 1, 1, S], 0 / -finfo.max, 3/4 padding
            real = torch.zeros(batch, tk, device=device)
            real[:, : max(1, tk // 4)] = 1
            mask = ((real - 1) * torch.finfo(dtype).max).to(dtype).reshape(batch, 1, 1, tk)
        flops = 4 * batch * heads * tq * tk * head_dim
        _attention_fwd.configs_timings = {}  # (a bucket tuned before, or one config left: no timings)
        out = triton_attention(q, k, v, heads, mask)  # tunes this shape bucket (every case has its own)
        chosen, pointer_ms, tma_ms = autotune_summary(_attention_fwd)
        t_ms = timed(lambda: triton_attention(q, k, v, heads, mask), args.warmup, args.iters, device)
        s_ms, s_name = sdpa_best(q, k, v, heads, mask, args.warmup, args.iters, device)
        diff = (out.float() - sdpa_attention(q, k, v, heads, mask).float()).abs().max().item()
        peak = f"{flops / t_ms / 1e9 / args.peak_tflops:.0%}" if args.peak_tflops else "-"
        rows.append([
            name, f"{t_ms:.3f}", f"{flops / t_ms / 1e9:.1f}", peak, f"{s_ms:.3f}", f"{flops / s_ms / 1e9:.1f}", s_name,
            f"{s_ms / t_ms:.2f}x", f"{diff:.1e}", chosen, pointer_ms, tma_ms,
        ])
        progress(f"attention {name}: Triton {t_ms:.3f} ms ({chosen}), SDPA {s_ms:.3f} ms ({s_name})")
        del q, k, v, mask, out
    return table(
        ["attention (batch %d, %s)" % (batch, str(dtype).replace("torch.", "")), "Triton ms", "Triton TFLOP/s", "% of bf16 peak",
         "SDPA ms", "SDPA TFLOP/s", "SDPA backend", "Triton speed-up", "max abs diff", "chosen config",
         "tuning: best pointer ms", "tuning: best TMA ms"],
        rows,
    )


def check_load_kinds(args, device, dtype) -> str:
    """Both tile-load kinds of the attention kernel (pointer configs, TMA-descriptor configs) against torch
    SDPA at odd lengths, batch 2, each mask kind: the descriptor path's tails (rows of the next batch
    element) checked on the hardware whichever kind the autotuner prefers."""
    import torch

    from ltx_kernels.attention import sdpa_attention
    from ltx_kernels.triton_attention import attention_forward, descriptor_refusal

    cases = [(2, 2, 32, 37, 70), (2, 2, 16, 9, 9)] if args.dry_run else [
        (2, 32, 128, 37, 70), (2, 32, 64, 126, 126), (2, 32, 128, 1536, 1536), (2, 32, 128, 6144, 1024),
    ]
    rows = []
    for batch, heads, head_dim, tq, tk in cases:
        g = torch.Generator(device=device).manual_seed(1)
        q, k, v = (torch.randn(batch, t, heads * head_dim, device=device, generator=g).to(dtype) for t in (tq, tk, tk))
        masks = {"none": None}
        real = torch.ones(batch, tk, device=device)
        real[-1, tk - max(1, tk // 3):] = 0
        masks["key padding"] = ((real - 1) * torch.finfo(dtype).max).to(dtype).reshape(batch, 1, 1, tk)
        if tq * tk <= 2**22:
            masks["full bias"] = torch.randn(batch, 1, tq, tk, device=device, generator=g).to(dtype)
        refusal = descriptor_refusal(q, k, v, heads)
        for kind, mask in masks.items():
            expected = sdpa_attention(q, k, v, heads, mask).float()
            scale = expected.abs().max().item()
            cells = []
            for loads in ("off", "on"):
                if loads == "on" and refusal is not None:
                    cells.append(f"- ({refusal})")
                    continue
                out = attention_forward(q, k, v, heads, mask, descriptors=loads).float()
                cells.append(f"{(out - expected).abs().max().item() / scale:.1e}")
            rows.append([f"B{batch} H{heads} D{head_dim} {tq}x{tk}", kind, *cells])
        del q, k, v
    return table(["load kinds vs SDPA (%s)" % str(dtype).replace("torch.", ""), "mask", "pointer: max rel. error",
                  "TMA: max rel. error"], rows)


# -------------------------------------------------------------------------------------------- fused ops


def _tensors(result) -> tuple:
    return result if isinstance(result, tuple) else (result,)


def bench_fused(args, device, dtype) -> str:
    import torch

    from ltx_backend.models.transformer.adaln import modulation
    from ltx_backend.models.transformer.rope import RopeType, rope_tables
    from ltx_kernels.adaln import adaln_modulate_reference, gated_residual_reference, modulate_reference
    from ltx_kernels.attention_gate import attention_gate_reference
    from ltx_kernels.qk_norm_rope import qk_norm_rope_reference
    from ltx_kernels.triton_adaln import triton_adaln_modulate, triton_gated_residual, triton_modulate
    from ltx_kernels.triton_attention_gate import triton_attention_gate
    from ltx_kernels.triton_qk_norm_rope import triton_qk_norm_rope

    if args.dry_run:
        batch, tokens, heads, head_dim = 1, 24, 2, 32
    else:
        batch, tokens, heads, head_dim = args.passes, math.prod(VIDEO_LATENT), 32, 128
    dim = heads * head_dim
    size = torch.finfo(dtype).bits // 8
    g = torch.Generator(device=device).manual_seed(0)

    def randn(*shape):
        return torch.randn(*shape, device=device, dtype=dtype, generator=g)

    starts = torch.rand(batch, 3, tokens, device=device, generator=g) * 20
    positions = torch.stack((starts, starts + 1), dim=-1)
    rows = []

    def measure(name, moved, fused_op, torch_op):
        """A row: the fused kernel's time and its error against the torch ops (relative to their largest value)."""
        fused, plain = timed(fused_op, args.warmup, args.iters, device), timed(torch_op, args.warmup, args.iters, device)
        outputs = [(a.float(), b.float()) for a, b in zip(_tensors(fused_op()), _tensors(torch_op()))]
        error = max((a - b).abs().max().item() / max(b.abs().max().item(), 1e-30) for a, b in outputs)
        rows.append([name, moved, fused, plain, error])

    for layout in ("split", "interleaved"):
        pe = rope_tables(positions, dim, heads, [20, 2048, 2048], 10000.0, RopeType(layout), True, dtype)
        q, k = randn(batch, tokens, dim), randn(batch, tokens, dim)
        wq, wk = randn(dim), randn(dim)
        table_bytes = sum(t.numel() for t in pe) * size
        moved = 4 * batch * tokens * dim * size + table_bytes + 2 * dim * size
        measure(f"QK RMS-norm + RoPE ({layout}) [{batch}, {tokens}, {dim}] x2", moved,
                lambda: triton_qk_norm_rope(q, k, wq, wk, 1e-6, pe, None, layout),
                lambda: qk_norm_rope_reference(q, k, wq, wk, 1e-6, pe, None, layout))

    x, y = randn(batch, tokens, dim), randn(batch, tokens, dim)
    emb = randn(batch, tokens, 9 * dim)  # per-token AdaLN vectors, as the model makes them past MAX_NOISE_LEVELS levels
    shift, scale, gate = modulation(randn(9, dim), emb, 0, 3)
    moved = 4 * batch * tokens * dim * size
    measure(f"AdaLN rms_norm(x)*(1+scale)+shift [{batch}, {tokens}, {dim}], vectors per token", moved,
            lambda: triton_adaln_modulate(x, shift, scale, 1e-6), lambda: adaln_modulate_reference(x, shift, scale, 1e-6))
    measure(f"AdaLN modulate x*(1+scale)+shift [{batch}, {tokens}, {dim}], vectors per token", moved,
            lambda: triton_modulate(x, shift, scale), lambda: modulate_reference(x, shift, scale))
    measure(f"gated residual x + y*gate [{batch}, {tokens}, {dim}], gate per token", moved,
            lambda: triton_gated_residual(x, y, gate), lambda: gated_residual_reference(x, y, gate))
    # as the model runs an image-to-video step: vectors per noise level, each token's read through its index
    levels = modulation(randn(9, dim), randn(batch, 2, 9 * dim), 0, 3)
    index = (torch.arange(tokens, device=device) >= tokens // 4).long().expand(batch, -1)  # the image's tokens: level 0
    indexed = (levels[0], levels[1], 1e-6, index)
    measure(f"AdaLN rms_norm(x)*(1+scale)+shift [{batch}, {tokens}, {dim}], vectors per level", batch * tokens * (2 * dim * size + 8),
            lambda: triton_adaln_modulate(x, *indexed), lambda: adaln_modulate_reference(x, *indexed))
    measure(f"gated residual x + y*gate [{batch}, {tokens}, {dim}], gate per level", batch * tokens * (3 * dim * size + 8),
            lambda: triton_gated_residual(x, y, levels[2], index), lambda: gated_residual_reference(x, y, levels[2], index))
    logits = randn(batch, tokens, heads)  # LTX-2.3's per-head gate logits
    measure(f"attention gate out*2sigmoid(logits) [{batch}, {tokens}, {dim}]", (2 * dim + heads) * batch * tokens * size,
            lambda: triton_attention_gate(x, logits), lambda: attention_gate_reference(x, logits))

    out = [
        [name, f"{moved / 1e6:.1f}", f"{f:.3f}", f"{moved / f / 1e6:.0f}", f"{p:.3f}", f"{moved / p / 1e6:.0f}", f"{p / f:.2f}x",
         f"{error:.1e}"]
        for name, moved, f, p, error in rows
    ]
    return table(
        [f"fused op ({str(dtype).replace('torch.', '')})", "MB moved", "fused ms", "fused GB/s", "torch ms", "torch GB/s",
         "speed-up", "max rel. error vs torch"],
        out,
    )


# ------------------------------------------------------------------------------------------------- step


def _randomize_(module, seed: int) -> None:
    import torch

    g = torch.Generator(device=next(module.parameters()).device).manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, 1.0 / math.sqrt(p.shape[-1]), generator=g)
            elif "norm" in name:
                p.fill_(1.0)
            else:
                p.normal_(0.0, 0.02, generator=g)


# How _step_inputs gives our model the timesteps: a text-to-video step per token (as ltx-pipelines passes them) or
# per element (as our sampler does); an image-to-video step (the first latent frame's tokens clean: timestep 0) with
# the video's per token (as our sampler did before the levels) or per noise level (as it does: two levels, each
# token's index), the audio's per element. The reference's stay per token.
TIMESTEP_FORMS = ("per_token", "per_element", "image_per_token", "image_per_level")


def _step_inputs(model_config, passes: int, dry: bool, device, dtype, latent=VIDEO_LATENT, audio_tokens=AUDIO_TOKENS,
                 timesteps: str = "per_token", text_tokens: int = TEXT_TOKENS):
    """The transformer's inputs for one guided step at latent (frames, height, width), as the sampler batches
    them: the first `passes` of cond, uncond (the negative prompt), modality isolation, STG, all on the same
    latent; STG declared the cond pass's twin (the model runs it from its perturbed block on). Returns
    (ours, what _reference_call needs). On the meta device (build/flop_budget.py) the tensors hold no values.
    timesteps: one of TIMESTEP_FORMS. text_tokens: the prompts' length (padded, as the text encoder gives them)."""
    if timesteps not in TIMESTEP_FORMS:
        raise ValueError(f"timesteps {timesteps!r}: one of {TIMESTEP_FORMS}")
    import torch

    from ltx_backend.latents.positions import audio_positions, video_positions
    from ltx_backend.latents.shapes import VideoLatentShape
    from ltx_backend.models.transformer import BatchPerturbations, ModalityInput, Perturbation, Skip

    frames, height, width = (2, 2, 3) if dry else latent
    audio_tokens, text = (7, 9) if dry else (audio_tokens, text_tokens)
    c = model_config
    device = torch.device(device)
    g = None if device.type == "meta" else torch.Generator(device=device).manual_seed(0)
    video_shape = VideoLatentShape(passes, c.in_channels, frames, height, width)
    t_video = frames * height * width
    sigma = torch.full((passes,), 0.7, device=device)
    context_mask = torch.ones(passes, text, dtype=torch.int64, device=device)
    context_mask[:, : text // 2] = 0  # left padding, as the text encoder pads prompts
    video_text = c.caption_channels or c.cross_attention_dim
    audio_text = c.caption_channels or c.audio_cross_attention_dim

    def randn(*shape):
        if g is None:
            return torch.empty(*shape, device=device, dtype=dtype)
        return torch.randn(*shape, device=device, generator=g).to(dtype)

    def batched(row, negative=None):  # one [1, ...] row per pass; the uncond pass (second) gets `negative`
        return torch.cat([negative if i == 1 and negative is not None else row for i in range(passes)])

    token_timesteps = sigma[:, None].expand(passes, t_video).clone()
    if timesteps.startswith("image"):
        token_timesteps[:, : height * width] = 0.0  # the first latent frame: the image's tokens, clean
    video = dict(
        latent=batched(randn(1, t_video, c.in_channels)), sigma=sigma,
        timesteps=token_timesteps,
        positions=video_positions(video_shape, fps=24.0, device=device).to(dtype),
        context=batched(randn(1, text, video_text), randn(1, text, video_text)), context_mask=context_mask,
    )
    audio = dict(
        latent=batched(randn(1, audio_tokens, c.audio_in_channels)), sigma=sigma,
        timesteps=sigma[:, None].expand(passes, audio_tokens).clone(),
        positions=audio_positions(passes, audio_tokens, device=device).to(dtype),
        context=batched(randn(1, text, audio_text), randn(1, text, audio_text)), context_mask=context_mask,
    )
    stg_block = min(28, c.num_layers - 1)
    per_pass = [  # cond, uncond (same shapes), modality isolation, STG
        [], [], [(Skip.A2V_CROSS_ATTN, None), (Skip.V2A_CROSS_ATTN, None)],
        [(Skip.VIDEO_SELF_ATTN, (stg_block,)), (Skip.AUDIO_SELF_ATTN, (stg_block,))],
    ][:passes]
    twins = ((3, 0),) if passes == 4 else ()
    ours_video, ours_audio = dict(video), dict(audio)
    if timesteps != "per_token":  # every audio token at sigma
        ours_audio["timesteps"] = sigma[:, None]
    if timesteps == "per_element":
        ours_video["timesteps"] = sigma[:, None]
    elif timesteps == "image_per_level":  # levels [0, sigma]: the image's tokens at the first, the rest at the second
        ours_video["timesteps"] = torch.stack([torch.zeros_like(sigma), sigma], dim=1)
        ours_video["timestep_index"] = (token_timesteps > 0).long()
    ours = (ModalityInput(**ours_video), ModalityInput(**ours_audio),
            BatchPerturbations(tuple(tuple(Perturbation(*p) for p in sample) for sample in per_pass), twins))
    return ours, (video, audio, per_pass)


def _reference_call(reference, raw):
    from ltx_core.guidance.perturbations import BatchedPerturbationConfig, PerturbationConfig, PerturbationType
    from ltx_core.guidance.perturbations import Perturbation as RefPerturbation
    from ltx_core.model.transformer.modality import Modality

    video, audio, per_pass = raw

    def modality(f):
        return Modality(
            latent=f["latent"], sigma=f["sigma"], timesteps=f["timesteps"].unsqueeze(-1), positions=f["positions"],
            context=f["context"], enabled=True, context_mask=f["context_mask"], attention_mask=None,
        )

    perturbations = BatchedPerturbationConfig([
        PerturbationConfig([RefPerturbation(PerturbationType(s.value), None if b is None else list(b)) for s, b in sample])
        for sample in per_pass
    ])
    v, a = modality(video), modality(audio)
    return lambda: reference(v, a, perturbations)


def bench_step(args, device, dtype) -> str:
    from dataclasses import replace

    import torch

    import ltx_kernels
    from ltx_backend.models.transformer import build_transformer, full_transformer_config
    from ltx_kernels import dispatch
    from ltx_testing.tiny_configs import tiny_transformer_config

    section = tiny_transformer_config(args.version) if args.dry_run else full_transformer_config(args.version)
    if args.layers is not None:
        section = {**section, "num_layers": args.layers}
    config = {"transformer": section}
    with torch.device("meta"):
        ours = build_transformer(config)
    ours = ours.to(dtype).to_empty(device=device).eval()
    _randomize_(ours, seed=0)
    params = sum(p.numel() for p in ours.parameters())
    inputs, raw = _step_inputs(ours.config, args.passes, args.dry_run, device, dtype, timesteps="per_element")  # text-to-video
    projected = ours.project_text(inputs[0], inputs[1])
    if projected is not None:  # LTX-2: the text projected once per denoising loop, as our loop runs the step
        inputs = (replace(inputs[0], text=projected[0]), replace(inputs[1], text=projected[1]), inputs[2])

    rows, outputs = [], {}
    iters = args.step_iters

    def run_ours(backend):
        ltx_kernels.set_attention_backend(backend)
        with torch.inference_mode():
            return ours(*inputs)

    for label, backend, implementation in (("ours, Triton kernels", "triton", "triton"), ("ours, torch SDPA / ops", "sdpa", "sdpa")):
        before = dispatch.calls[("attention", implementation)]
        outputs[backend] = run_ours(backend)
        assert dispatch.calls[("attention", implementation)] > before, f"{label}: attention did not run {implementation}"
        ms = timed(lambda: run_ours(backend), 1, iters, device)
        rows.append([label, f"{ms:.1f}"])
        progress(f"step {label}: {ms:.1f} ms")
    ltx_kernels.set_attention_backend("auto")
    difference = max(
        ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()
        for a, b in zip(outputs["triton"], outputs["sdpa"])
    )

    reference_ms = reference_difference = None
    if not args.no_reference:
        try:
            sys.path.insert(0, str(ROOT / "tests"))
            from reference_env import prepare_reference

            prepare_reference()
            from ltx_core.model.transformer.model import X0Model
            from ltx_core.model.transformer.model_configurator import LTXModelConfigurator

            with torch.device("meta"):
                reference = LTXModelConfigurator.from_config(config)
            reference = reference.to(dtype)
            reference.load_state_dict(ours.state_dict(), strict=True, assign=True)  # the same tensors, no copy
            for name, buffer in reference.named_buffers():
                if buffer.is_meta:
                    raise RuntimeError(f"ltx-core buffer {name} has no value after loading")
            reference = X0Model(reference).eval()
            call = _reference_call(reference, raw)

            def run_reference():
                with torch.inference_mode():
                    return call()

            reference_out = run_reference()
            reference_difference = max(  # ours (twin STG pass, text projected once) vs every pass in full
                ((a.float() - b.float()).abs().max() / b.float().abs().max()).item()
                for a, b in zip(outputs["sdpa"], reference_out)
            )
            del reference_out
            reference_ms = timed(run_reference, 1, iters, device)
            rows.append(["ltx-core 1.0.0 X0Model(LTXModel)", f"{reference_ms:.1f}"])
            progress(f"step ltx-core 1.0.0: {reference_ms:.1f} ms (ours vs it: {reference_difference:.1e})")
        except ImportError as error:
            rows.append([f"ltx-core 1.0.0: not importable ({error})", "-"])

    if args.compile:
        rows += _compiled_rows(ours, run_ours, outputs, iters, device)

    for row in rows:
        ms = float(row[1]) if row[1] != "-" else None
        row.append(f"{ms / reference_ms:.2f}x" if ms and reference_ms else "-")
    size = "tiny" if args.dry_run else "768x512x121"
    title = (f"LTX-{args.version} step ({params / 1e9:.2f}B params, {str(dtype).replace('torch.', '')}, {size}, "
             f"{args.passes} guidance passes batched)")
    notes = f"\n\nTriton vs SDPA step outputs: max relative difference {difference:.2e}"
    if reference_difference is not None:
        notes += f"; ours (SDPA) vs ltx-core: {reference_difference:.2e}"
    return table([title, "ms / step", "vs ltx-core"], rows) + notes


def _compiled_rows(ours, run_ours, eager_outputs, iters: int, device) -> list[list[str]]:
    """The step with the transformer blocks under torch.compile (the product's compile_blocks, as
    --enable-torch-compile runs it), per attention backend and mode ("reduce-overhead" adds CUDA graphs):
    its time, compile time and difference from the eager run. A failure is a row, not an exception."""
    import torch

    import ltx_kernels
    from ltx_backend.models.transformer.compile import compile_blocks, uncompile_blocks

    rows = []
    for backend, mode in (("sdpa", "default"), ("triton", "default"), ("triton", "reduce-overhead")):
        name = f"ours, {backend} + torch.compile(blocks, {mode})"
        try:
            torch._dynamo.reset()
            compile_blocks(ours, mode)
            start = time.perf_counter()
            out = run_ours(backend)
            compile_s = time.perf_counter() - start
            difference = max(
                ((a.float() - b.float()).abs().max() / b.float().abs().max()).item() for a, b in zip(out, eager_outputs[backend])
            )
            ms = timed(lambda: run_ours(backend), 1, iters, device)
            rows.append([f"{name} (first call {compile_s:.0f} s, vs eager {difference:.1e})", f"{ms:.1f}"])
            progress(f"step {name}: {ms:.1f} ms (first call {compile_s:.0f} s)")
        except Exception as error:  # noqa: BLE001 - reported in the table
            rows.append([f"{name}: failed ({type(error).__name__}: {str(error).splitlines()[0][:100]})", "-"])
        finally:
            uncompile_blocks(ours)
    ltx_kernels.set_attention_backend("auto")
    return rows


# ------------------------------------------------------------------------------------------------- main


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.dry_run:
        os.environ["TRITON_INTERPRET"] = "1"  # before the kernels import triton (they do so lazily)
        args.warmup, args.iters, args.step_iters = 1, 2, 1
    import torch

    if args.dry_run:
        device, dtype = torch.device("cpu"), torch.float32
    else:
        if not torch.cuda.is_available():
            print("bench_kernels: no CUDA device here; use --dry-run to check the script on CPU", file=sys.stderr)
            return 2
        device, dtype = torch.device("cuda"), torch.bfloat16
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU (dry run, Triton interpreter)"
    if args.peak_tflops is None:  # dense bf16 tensor-core peaks (NVIDIA datasheets)
        known = {"H100 PCIe": 756.0, "H100 NVL": 835.0, "H100": 989.0, "H200": 989.0, "H800": 989.0, "A100": 312.0}
        args.peak_tflops = next((v for k, v in known.items() if k in name), None)
    print(f"# ltx_kernels benchmark: {name}, {datetime.date.today().isoformat()}, torch {torch.__version__}")
    try:
        import triton

        print(f"triton {triton.__version__}")
    except ImportError:
        pass
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = set(sections) - {"attention", "fused", "step"}
    if unknown:
        print(f"bench_kernels: unknown sections {sorted(unknown)}", file=sys.stderr)
        return 2
    with torch.inference_mode():
        if "attention" in sections:
            print("\n" + bench_attention(args, device, dtype), flush=True)
        if "fused" in sections:
            print("\n" + bench_fused(args, device, dtype), flush=True)
    if "step" in sections:
        print("\n" + bench_step(args, device, dtype), flush=True)
    if "attention" in sections:  # last: the timed tables come first where the device time is short
        with torch.inference_mode():
            print("\n" + check_load_kinds(args, device, dtype), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
