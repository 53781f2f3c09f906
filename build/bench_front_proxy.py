"""What serve's front proxies cost: the same calls straight to tritonserver and through the proxies (HTTP via
aiohttp, gRPC via grpc.aio, in this process as in `serve`). A benchmark, not a test: prints median latencies.

    .venv/bin/python build/bench_front_proxy.py [--model-path build/tiny/ltx-2] [--repeats 50]

Calls: HTTP GET /v2/health/ready; gRPC ServerReady; gRPC text_encoder infer (a prompt -> contexts: a small request
with a ~1 MB answer); one whole generation over gRPC streaming and over HTTP /infer.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import tritonclient.grpc as grpcclient

from ltx_backend.request import MAX_REQUEST_BYTES, GenerationRequest
from ltx_backend.serving.repository import RepositoryOptions, render_repository
from ltx_client.front.runner import FrontProxies
from ltx_client.remote import generate_grpc, generate_http
from ltx_client.server import TritonServer, free_port

ROOT = Path(__file__).resolve().parents[1]


def median_ms(fn, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def calls(http_url: str, grpc_url: str, request: GenerationRequest) -> dict:
    client = grpcclient.InferenceServerClient(grpc_url)
    prompt = grpcclient.InferInput("PROMPTS", [1], "BYTES")
    prompt.set_data_from_numpy(np.array([b"A red fox runs through fresh snow at dawn"], dtype=object))
    return {
        "HTTP GET /v2/health/ready": lambda: urllib.request.urlopen(f"http://{http_url}/v2/health/ready").read(),
        "gRPC ServerReady": client.is_server_ready,
        "gRPC text_encoder infer": lambda: client.infer("text_encoder", [prompt]),
        "generation, gRPC stream": lambda: generate_grpc(grpc_url, request, timeout=600),
        "generation, HTTP /infer": lambda: generate_http(http_url, request),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model-path", default=str(ROOT / "build/tiny/ltx-2"))
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    run_dir = Path(tempfile.mkdtemp(prefix="bench-front-"))
    repository = render_repository(RepositoryOptions(model_path=args.model_path, pipeline_classes=("LTX2Pipeline",)), run_dir / "repo")
    server = TritonServer(repository, free_port(), free_port(), free_port(), host="127.0.0.1").start(timeout=600)
    proxies = FrontProxies("127.0.0.1", free_port(), free_port(), server.http_port, server.grpc_port, limit=MAX_REQUEST_BYTES).start()
    request = GenerationRequest(prompt="a fox", width=64, height=64, num_frames=9, num_inference_steps=2)
    try:
        direct = calls(server.http_url, server.grpc_url, request)
        fronted = calls(f"127.0.0.1:{proxies.http_port}", f"127.0.0.1:{proxies.grpc_port}", request)
        print("| call | direct (ms) | through the proxies (ms) | added (ms) |\n| --- | --- | --- | --- |")
        for name in direct:
            repeats = args.repeats if "generation" not in name else max(3, args.repeats // 10)
            a, b = median_ms(direct[name], repeats), median_ms(fronted[name], repeats)
            print(f"| {name} | {a:.2f} | {b:.2f} | {b - a:+.2f} |", flush=True)
    finally:
        proxies.stop()
        server.stop()


if __name__ == "__main__":
    main()
