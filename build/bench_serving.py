"""Serving overhead: the same request in-process (`ltx-triton generate`'s engine) and through a real
tritonserver (gRPC streaming to the decoupled `pipeline` model, and KServe v2 HTTP to `pipeline_unary`).
A benchmark, not a test: prints median latencies and served / in-process ratios (goal <= 1.05).

    .venv/bin/python build/bench_serving.py [--model-path build/tiny/ltx-2.3] [--repeats 5] [--width 256 ...]
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ltx_backend.media import encode_mp4
from ltx_backend.pipelines.registry import ONE_STAGE
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline
from ltx_backend.serving.repository import RepositoryOptions, render_repository
from ltx_client.remote import generate_grpc, generate_http
from ltx_client.server import TritonServer, free_port

ROOT = Path(__file__).resolve().parents[1]


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model-path", default=str(ROOT / "build/tiny/ltx-2.3"))
    p.add_argument("--pipeline-class-name", default=ONE_STAGE)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--height", type=int, default=192)
    p.add_argument("--num-frames", type=int, default=25)
    p.add_argument("--num-inference-steps", type=int, default=8)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    request = GenerationRequest(
        prompt="A red fox runs through fresh snow at dawn", pipeline_class_name=args.pipeline_class_name,
        width=args.width, height=args.height, num_frames=args.num_frames, num_inference_steps=args.num_inference_steps,
    )
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    pipeline = load_pipeline(args.model_path, device=device, pipeline_class_name=args.pipeline_class_name)
    resolved = request.resolve(pipeline.model_version)
    def in_process():  # what `generate --save-output` does: the pipeline, then the MP4
        result = pipeline(resolved)
        return encode_mp4(result.frames, resolved.fps, result.audio, result.sample_rate)

    local = timed(in_process, args.repeats)
    del pipeline

    with tempfile.TemporaryDirectory() as tmp:
        options = RepositoryOptions(model_path=str(Path(args.model_path).resolve()), gpu=device.type == "cuda")
        repo = render_repository(options, Path(tmp) / "repo")
        server = TritonServer(repo, free_port(), free_port(), free_port(), log_path=Path(tmp) / "server.log").start(timeout=1800)
        try:
            grpc = timed(lambda: generate_grpc(server.grpc_url, request, timeout=3600), args.repeats)
            http = timed(lambda: generate_http(server.http_url, request), args.repeats)
        finally:
            server.stop()

    base = statistics.median(local)
    print(f"{args.pipeline_class_name} {args.width}x{args.height}x{args.num_frames}, {args.num_inference_steps} steps, "
          f"{Path(args.model_path).name} on {device}, median of {args.repeats}")
    print("| path | median latency (s) | / in-process |")
    print("| --- | ---: | ---: |")
    for name, values in (("in-process", local), ("gRPC stream -> pipeline", grpc), ("HTTP /infer -> pipeline_unary", http)):
        m = statistics.median(values)
        print(f"| {name} | {m:.3f} | {m / base:.3f} |")


if __name__ == "__main__":
    main()
