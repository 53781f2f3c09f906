"""`ltx-triton`: the command line. `generate` runs a request in-process (the engine in ltx_backend)."""
from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from ltx_backend.request import PIPELINE_CLASSES, GenerationRequest, InvalidRequest


def _generate_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("generate", help="generate one video (with audio) in-process")
    p.add_argument("--model-path", required=True, help="Hugging Face repo id or local directory / checkpoint file")
    p.add_argument("--pipeline-class-name", default="LTX2Pipeline", help=f"one of {', '.join(PIPELINE_CLASSES)}")
    p.add_argument("--prompt", required=True)
    p.add_argument("--negative-prompt", default=None, help="default: the reference's negative prompt")
    p.add_argument("--seed", type=int, default=None, help="default 10")
    p.add_argument("--width", type=int, default=None, help="output width in pixels (default per model)")
    p.add_argument("--height", type=int, default=None, help="output height in pixels (default per model)")
    p.add_argument("--num-frames", type=int, default=None, help="8k+1 frames (default 121)")
    p.add_argument("--num-inference-steps", type=int, default=None, help="default 40 (LTX-2) / 30 (LTX-2.3)")
    p.add_argument("--guidance-scale", type=float, default=None, help="video CFG scale (default 3.0)")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default 24)")
    p.add_argument("--save-output", action="store_true", help="write the MP4")
    p.add_argument("--output-path", default="outputs", help="an .mp4 file, or a directory (default outputs/)")
    p.add_argument("--save-raw", default=None, metavar="PATH.npz", help="also write frames, audio and sample_rate")
    p.add_argument("--image-path", nargs="+", default=None, help="conditioning image(s): first frame [, last frame]")
    p.add_argument("--lora-path", default=None)
    p.add_argument("--lora-weight-name", default=None)
    p.add_argument("--lora-scale", type=float, default=1.0)
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--dtype", default=None, choices=("float32", "bfloat16", "float16"), help="default bf16 on GPU, fp32 on CPU")
    return p


def _request_from_args(args: argparse.Namespace) -> GenerationRequest:
    return GenerationRequest(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        pipeline_class_name=args.pipeline_class_name,
        seed=args.seed,
        width=args.width,
        height=args.height,
        num_frames=args.num_frames,
        num_inference_steps=args.num_inference_steps,
        guidance_scale=args.guidance_scale,
        fps=args.fps,
        image_paths=tuple(args.image_path or ()),
        lora_path=args.lora_path,
        lora_weight_name=args.lora_weight_name,
        lora_scale=args.lora_scale,
    )


def output_file(output_path: str, prompt: str, seed: int) -> Path:
    path = Path(output_path)
    if path.suffix.lower() == ".mp4":
        return path
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", prompt).strip("_")[:48] or "video"
    return path / f"{slug}_{seed}.mp4"


def run_generate(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from ltx_backend.loading.checkpoint import CheckpointError
    from ltx_backend.loading.model_path import ModelPathError
    from ltx_backend.media import write_mp4
    from ltx_backend.loading.sources import open_model
    from ltx_backend.pipelines.local import load_pipeline
    from ltx_backend.pipelines.progress import TqdmProgress

    request = _request_from_args(args)
    try:
        source = open_model(args.model_path)  # metadata only: validate before loading any weights
        request = request.resolve(source.model_version)
        device = torch.device(args.device) if args.device else None
        dtype = getattr(torch, args.dtype) if args.dtype else None
        pipeline = load_pipeline(source, device=device, dtype=dtype)
    except (InvalidRequest, ModelPathError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with TqdmProgress() as progress:
        result = pipeline(request, on_step=progress)
    if args.save_output:
        path = write_mp4(output_file(args.output_path, request.prompt, request.seed), result.frames, request.fps, result.audio, result.sample_rate)
        print(f"saved {path}")
    if args.save_raw:
        raw = Path(args.save_raw)
        raw.parent.mkdir(parents=True, exist_ok=True)
        np.savez(raw, frames=result.frames, audio=result.audio, sample_rate=np.int64(result.sample_rate))
        print(f"saved {raw}")
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="ltx-triton", description="LTX-2 / LTX-2.3 video+audio generation on Triton")
    sub = parser.add_subparsers(dest="command", required=True)
    _generate_parser(sub)
    args = parser.parse_args(argv)
    if args.command == "generate":
        return run_generate(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
