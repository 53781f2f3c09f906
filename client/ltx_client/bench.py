"""`ltx-triton bench`: perf_analyzer against a running server's `pipeline` model and each component model.

For every model it writes perf_analyzer's --input-data JSON (realistic tensors: the denoiser gets real text
contexts from the server's text_encoder and noised latent states of the asked size), runs perf_analyzer
(gRPC; streaming for the decoupled pipeline; count windows, since a generation takes seconds) and prints one
table row per model: throughput and client latencies.
"""
from __future__ import annotations

import argparse
import base64
import csv
import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ltx_backend.pipelines.registry import ONE_STAGE, TWO_STAGE
from ltx_client.remote import NUMPY_TYPES
from ltx_client.server import PROJECT_ROOT

# The component models a server may run (denoiser_stage1 / _stage2 in resident mode).
COMPONENT_MODELS = ("text_encoder", "denoiser", "denoiser_stage1", "denoiser_stage2", "vae_encoder", "latent_upsampler", "vae_decoder", "audio_decoder")


def add_bench_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("bench", help="perf_analyzer against a running server: the pipeline and each component")
    p.add_argument("--url", default=None, metavar="HOST:GRPC_PORT", help="the server to measure (not with --e2e)")
    p.add_argument("--models", default=None, help="comma-separated models to measure (default: the pipelines and every component the server has)")
    p.add_argument("--prompt", default="A red fox runs through fresh snow at dawn")
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--num-frames", type=int, default=None)
    p.add_argument("--num-inference-steps", type=int, default=None)
    p.add_argument("--concurrency", default="1", help="perf_analyzer --concurrency-range, e.g. 1 or 1:4")
    p.add_argument("--requests", type=int, default=3, help="requests per measurement window (count windows)")
    p.add_argument("--model-version", choices=("2", "2.3"), default=None, help="default: read from the served checkpoint")
    p.add_argument("--perf-analyzer", default=None, help="path of perf_analyzer (default: make setup's, or PATH)")
    p.add_argument("--keep", default=None, help="keep the input JSON and CSV files in this folder")
    p.add_argument("--e2e", nargs=argparse.REMAINDER, default=None, metavar="ARGS",
                   help="instead: time whole two-stage requests in-process with random full-size weights on one GPU "
                        "(build/bench_e2e.py; the arguments after --e2e go to it, e.g. --e2e --device-mode resident)")
    return p


@dataclass
class Row:
    model: str
    concurrency: int
    throughput: float  # inferences / s
    p50_ms: float
    p99_ms: float


def find_perf_analyzer(explicit: str | None) -> tuple[Path, dict[str, str]]:
    env = dict(os.environ)
    local = PROJECT_ROOT / "build/triton-server/perf"
    for candidate in (explicit, os.environ.get("PERF_ANALYZER"), local / "perf_analyzer"):
        if candidate and Path(candidate).is_file():
            lib = Path(candidate).parent / "lib"
            if lib.is_dir():
                env["LD_LIBRARY_PATH"] = f"{lib}{os.pathsep}{env.get('LD_LIBRARY_PATH', '')}"
            return Path(candidate), env
    import shutil

    found = shutil.which("perf_analyzer")
    if found:
        return Path(found), env
    raise FileNotFoundError("perf_analyzer not found: run `make setup` or pass --perf-analyzer")


def _entry(value: np.ndarray, data_type: str) -> dict:
    if data_type == "TYPE_STRING":
        return {"content": [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in value.reshape(-1)], "shape": list(value.shape)}
    return {"b64": base64.b64encode(np.ascontiguousarray(value).tobytes()).decode("ascii"), "shape": list(value.shape)}


def _tensor_bytes(tensor, data_type: str) -> np.ndarray:
    import torch

    if data_type == "TYPE_BF16":  # numpy has no bf16: ship the raw 2-byte values
        return tensor.to(torch.bfloat16).contiguous().view(torch.int16).numpy()
    return tensor.to(torch.float32).numpy().astype(NUMPY_TYPES[data_type])


class InputBuilder:
    """Realistic inputs for each model, from the server's own configs and text encoder."""

    def __init__(self, url: str, args: argparse.Namespace):
        import tritonclient.grpc as grpcclient

        self.client = grpcclient.InferenceServerClient(url)
        self.args = args
        config = self.config("pipeline")
        self.model_path = config.get("parameters", {}).get("model_path", {}).get("string_value")
        self.version = args.model_version or self._served_version()

    def config(self, model: str) -> dict:
        return self.client.get_model_config(model, as_json=True)["config"]

    def _served_version(self) -> str:
        from ltx_backend.loading.sources import open_model

        if self.model_path and Path(self.model_path).exists():
            return open_model(self.model_path).model_version
        if self.model_path and (PROJECT_ROOT / self.model_path).exists():
            return open_model(str(PROJECT_ROOT / self.model_path)).model_version
        raise SystemExit("error: cannot read the served checkpoint here: pass --model-version")

    def request(self):
        from ltx_backend.request import GenerationRequest

        a = self.args
        return GenerationRequest(
            prompt=a.prompt, width=a.width, height=a.height, num_frames=a.num_frames, num_inference_steps=a.num_inference_steps
        ).resolve(self.version)

    def types(self, model: str) -> dict[str, str]:
        return {t["name"]: t["data_type"] for t in self.config(model)["input"]}

    def inputs(self, model: str) -> dict[str, dict]:
        from ltx_client.remote import request_arrays

        request = self.request()
        if model in ("pipeline", "pipeline_unary"):
            return {n: _entry(v, self.types(model)[n]) for n, v in request_arrays(request).items()}
        if model == "text_encoder":
            return {"PROMPTS": _entry(np.array([request.prompt.encode(), request.negative_prompt.encode()], dtype=object), "TYPE_STRING")}
        import torch

        from ltx_backend.latents.initial import noise_audio_state, noise_video_state
        from ltx_backend.latents.shapes import VideoPixelShape
        from ltx_backend.sampling.guidance import default_guidance
        from ltx_backend.sampling.noise import GaussianNoiser
        from ltx_backend.sampling.schedule import ltx2_sigmas
        from ltx_backend.serving.wire import DenoiseStep, pack_step

        types = self.types(model)
        noiser = GaussianNoiser(torch.Generator().manual_seed(request.seed))
        shape = VideoPixelShape(1, request.num_frames, request.height, request.width, request.fps)
        video, video_layout = noise_video_state(shape, noiser, [], torch.float32, torch.device("cpu"))
        audio, audio_layout = noise_audio_state(shape, noiser, torch.float32, torch.device("cpu"))
        if model == "vae_encoder":  # one conditioning image at the request's size
            pixels = torch.rand(1, 3, 1, request.height, request.width, generator=torch.Generator().manual_seed(0)) * 2 - 1
            return {"PIXELS": _entry(_tensor_bytes(pixels, types["PIXELS"]), types["PIXELS"])}
        if model == "latent_upsampler":  # stage 1's latent: half the request's size
            half = VideoPixelShape(1, request.num_frames, request.height // 2, request.width // 2, request.fps)
            small, small_layout = noise_video_state(half, noiser, [], torch.float32, torch.device("cpu"))
            return {"LATENT": _entry(_tensor_bytes(small_layout.to_latent(small), types["LATENT"]), types["LATENT"])}
        if model == "vae_decoder":
            return {"LATENT": _entry(_tensor_bytes(video_layout.to_latent(video), types["LATENT"]), types["LATENT"])}
        if model == "audio_decoder":
            return {"LATENT": _entry(_tensor_bytes(audio_layout.to_latent(audio), types["LATENT"]), types["LATENT"])}
        if not model.startswith("denoiser"):
            raise SystemExit(f"error: no input generator for model {model!r}")
        stage = 2 if model == "denoiser_stage2" else 1
        contexts = self._contexts(request)
        video_params, audio_params = default_guidance(self.version)
        tensors, meta = pack_step(DenoiseStep(
            video=video, audio=audio, sigma=ltx2_sigmas(request.num_inference_steps)[0], step_index=0,
            contexts=contexts, video_guidance=video_params, audio_guidance=audio_params, stage=stage,
        ))
        meta = json.dumps({**json.loads(meta), "pipeline_class_name": TWO_STAGE if stage == 2 else ONE_STAGE})
        out = {name: _entry(_tensor_bytes(t, types[name]), types[name]) for name, t in tensors.items()}
        out["STEP_META"] = _entry(np.array([meta.encode()], dtype=object), "TYPE_STRING")
        return out

    def _contexts(self, request):
        import torch
        import tritonclient.grpc as grpcclient

        from ltx_backend.types import GuidanceContexts, TextContext

        prompts = grpcclient.InferInput("PROMPTS", [2], "BYTES")
        prompts.set_data_from_numpy(np.array([request.prompt.encode(), request.negative_prompt.encode()], dtype=object))
        result = self.client.infer("text_encoder", [prompts])

        def tensor(name):
            array = result.as_numpy(name)
            return torch.from_numpy(np.array(array, dtype=np.float32))  # a writable copy

        video, audio = tensor("VIDEO_CONTEXT"), tensor("AUDIO_CONTEXT")
        return GuidanceContexts(TextContext(video[:1], audio[:1]), TextContext(video[1:], audio[1:]))


def run_perf_analyzer(binary: Path, env: dict, url: str, model: str, data_file: Path, csv_file: Path, args, streaming: bool) -> list[Row]:
    command = [
        str(binary), "-m", model, "-u", url, "-i", "grpc", "--input-data", str(data_file),
        "--concurrency-range", args.concurrency, "--measurement-mode", "count_windows",
        "--measurement-request-count", str(args.requests), "--stability-percentage", "999", "--max-trials", "5",
        "-f", str(csv_file),
    ]
    if streaming:
        command += ["--streaming", "--async"]
    if args.keep:  # the command to run again by hand, on the kept input data (with the libraries it was given)
        library = env.get("LD_LIBRARY_PATH", "").split(os.pathsep)[0]
        added = library and env.get("LD_LIBRARY_PATH") != os.environ.get("LD_LIBRARY_PATH")
        prefix = f"LD_LIBRARY_PATH={shlex.quote(library)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}} " if added else ""
        print("  " + prefix + shlex.join(command), file=sys.stderr, flush=True)
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"perf_analyzer failed on {model} (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    rows = []
    with open(csv_file) as f:
        for r in csv.DictReader(f):
            rows.append(Row(model, int(r["Concurrency"]), float(r["Inferences/Second"]),
                            float(r["p50 latency"]) / 1000, float(r["p99 latency"]) / 1000))
    return rows


def format_table(rows: list[Row]) -> str:
    lines = ["| model | concurrency | throughput (infer/s) | p50 latency (ms) | p99 latency (ms) |", "| --- | ---: | ---: | ---: | ---: |"]
    for r in rows:
        lines.append(f"| {r.model} | {r.concurrency} | {r.throughput:.3f} | {r.p50_ms:.1f} | {r.p99_ms:.1f} |")
    return "\n".join(lines)


def run_bench(args: argparse.Namespace) -> int:
    if args.e2e is not None:
        return subprocess.run([sys.executable, str(PROJECT_ROOT / "build/bench_e2e.py"), *args.e2e]).returncode
    if not args.url:
        print("error: --url HOST:GRPC_PORT is required (or --e2e)", file=sys.stderr)
        return 2
    try:
        binary, env = find_perf_analyzer(args.perf_analyzer)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="ltx-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    builder = InputBuilder(args.url, args)
    rows: list[Row] = []
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
    else:
        ready = {m["name"] for m in builder.client.get_model_repository_index(as_json=True).get("models", []) if m.get("state") == "READY"}
        models = [m for m in ("pipeline", "pipeline_unary", *COMPONENT_MODELS) if m in ready]
    for model in models:
        data_file, csv_file = folder / f"{model}.json", folder / f"{model}.csv"
        data_file.write_text(json.dumps({"data": [builder.inputs(model)]}))
        decoupled = builder.config(model).get("model_transaction_policy", {}).get("decoupled", False)
        print(f"perf_analyzer: {model} ...", file=sys.stderr, flush=True)
        try:
            rows += run_perf_analyzer(binary, env, args.url, model, data_file, csv_file, args, streaming=decoupled)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    request = builder.request()
    print(f"LTX-{builder.version} {request.pipeline_class_name} {request.width}x{request.height}x{request.num_frames}, "
          f"{request.num_inference_steps} steps (denoiser: one guided step)")
    print(format_table(rows))
    return 0
