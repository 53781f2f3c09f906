#!/usr/bin/env python
"""Start-up and served latency (issue #16): `ltx-triton serve` on a model folder, timed from launch to ready, then
one of SGLang's cases (build/bench_e2e.py --case) sent through the gRPC stream (the client library: the server's
time) and through `ltx-triton generate --url` (a user's command, Python start-up and file write included).
A benchmark, not a test: prints a markdown table.

    python build/write_random_model.py /tmp/ltx-2.3 --version 2.3 --gemma-dir /dev/shm/gemma   # once, on the GPU
    python build/bench_served.py /tmp/ltx-2.3 --case ltx_2.3_two_stage_t2v_2gpus --iters 3
    python build/bench_served.py DIR --case ltx_2.3_one_stage_ti2v --tiny-request --device cpu   # the wiring, on CPU

A served request returns its MP4 (the server encodes it): its times include the encoding, which SGLang's
exclude (bench_e2e.py --case gives both, in-process). `--tiny-request` shrinks the case's request to 64x64x9,
2 steps (for the tiny model on a CPU: checks the script, its numbers mean nothing). SGLang's start-up to ready:
47 s (LTX-2), 45 s (LTX-2.3), from the issue.
"""
from __future__ import annotations

import argparse
import datetime
import os
import queue
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_e2e  # noqa: E402

SGLANG_STARTUP_S = {"2": 47.0, "2.3": 45.0}
TINY_REQUEST = ["--width", "64", "--height", "64", "--num-frames", "9", "--steps", "2"]


def free_ports(count: int) -> list[int]:
    from ltx_client.server import free_port

    ports: list[int] = []
    while len(ports) < count:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def python_module(module: str, *args: str) -> list[str]:
    """`python -m module args`: the CLI as installed, or from the src folders on PYTHONPATH (the GPU machine)."""
    return [sys.executable, "-m", module, *args]


def start_server(args, ports: list[int], run_dir: Path) -> tuple[subprocess.Popen, float, str]:
    """Launch `ltx-triton serve` (its own process group) and wait for its "ready in" line: (process, seconds to
    ready, the line). Its output goes on being read by a thread (a full pipe would stall it); a server that is not
    ready within --startup-timeout, or a failure here, takes the whole group down."""
    http, grpc, metrics = ports
    command = python_module("ltx_client.cli", "serve", "--model-path", str(args.model_path), "--port", str(http), "--grpc-port", str(grpc),
                            "--metrics-port", str(metrics), "--run-dir", str(run_dir), "--device", args.device,
                            "--pipeline-class-name", args.pipeline_class_name, "--startup-timeout", str(args.startup_timeout),
                            *args.serve_arg)
    lines: queue.Queue = queue.Queue()
    start = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def read() -> None:
        with open(run_dir / "serve.out", "w") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:
            line = lines.get(timeout=max(1.0, args.startup_timeout + 60 - (time.monotonic() - start)))
            if line is None:
                raise RuntimeError(f"ltx-triton serve exited ({process.wait()}) before it was ready:\n{startup_errors(run_dir)}")
            if "ready in" in line:
                return process, time.monotonic() - start, line.strip()
    except BaseException:
        kill(process)
        raise


def startup_errors(run_dir: Path) -> str:
    """What a failed start says: tritonserver's error lines (a model that failed to load, with its stub's
    traceback) and the end of serve's output."""
    server_log = run_dir / "tritonserver.log"
    lines = server_log.read_text().splitlines() if server_log.exists() else []
    errors = [line[:2000] for line in lines if re.match(r"E\d{4} ", line)]
    return "\n".join(errors[:10] + ["...", (run_dir / "serve.out").read_text()[-2000:]])


def kill(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def stop_server(process: subprocess.Popen) -> float:
    """SIGINT to the group, as Ctrl-C: seconds until `serve` has stopped tritonserver and exited."""
    start = time.monotonic()
    os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        kill(process)
    return time.monotonic() - start


def cli_flags(request, image: Path | None) -> list[str]:
    """`generate`'s flags for the request (the fields bench_e2e.build_request sets)."""
    flags = ["--prompt", request.prompt, "--pipeline-class-name", request.pipeline_class_name, "--width", str(request.width),
             "--height", str(request.height), "--num-frames", str(request.num_frames), "--seed", str(request.seed)]
    for field in ("num_inference_steps", "guidance_scale", "stg_scale", "modality_scale", "guidance_rescale"):
        value = getattr(request, field)
        if value is not None:
            flags += [f"--{field.replace('_', '-')}", str(value)]
    if image is not None:
        flags += ["--image-path", str(image)]
    return flags


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model_path", type=Path, help="a model folder (build/write_random_model.py writes one)")
    p.add_argument("--case", required=True, choices=tuple(bench_e2e.SGLANG_CASES))
    p.add_argument("--tiny-request", action="store_true", help="the case's request at 64x64x9, 2 steps (tiny models)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--iters", type=int, default=3, help="timed gRPC requests, after one warm-up")
    p.add_argument("--startup-timeout", type=float, default=1800.0, help="seconds `serve` may take to be ready")
    p.add_argument("--serve-arg", action="append", default=[], help="one more `serve` flag (repeat), e.g. "
                   "--serve-arg=--ltx2-two-stage-device-mode --serve-arg=resident")
    args = p.parse_args(argv)
    # `timeout` (gpu_session.sh's sections) ends this script with SIGTERM: as an exit, so that the server's process
    # group (a session of its own, out of timeout's reach) is stopped by the finally clauses below, not left on the GPU
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    from ltx_client.remote import generate_grpc

    case = bench_e2e.SGLANG_CASES[args.case]
    case_args = bench_e2e.parse_args(["--case", args.case, *(TINY_REQUEST if args.tiny_request else [])])
    request = bench_e2e.build_request(case_args)
    args.pipeline_class_name = request.pipeline_class_name
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        image = None
        if request.images:
            image = tmp / "image.png"
            image.write_bytes(request.images[0])
        ports = free_ports(3)
        process, startup, ready_line = start_server(args, ports, tmp)
        print(f"serve: {ready_line}", file=sys.stderr, flush=True)
        try:
            url = f"127.0.0.1:{ports[1]}"
            start = time.perf_counter()
            generate_grpc(url, request, timeout=3600)
            warmup = time.perf_counter() - start
            grpc = []
            for i in range(args.iters):
                start = time.perf_counter()
                result = generate_grpc(url, request, timeout=3600)
                grpc.append(time.perf_counter() - start)
                print(f"gRPC request {i + 1}/{args.iters}: {grpc[-1]:.3f} s ({len(result.mp4)} B MP4)", file=sys.stderr, flush=True)
            out = tmp / "cli.mp4"
            start = time.perf_counter()
            cli = subprocess.run(python_module("ltx_client.cli", "generate", "--url", url, *cli_flags(request, image),
                                               "--output-path", str(out)), capture_output=True, text=True, timeout=3600)
            cli_seconds = time.perf_counter() - start
            if cli.returncode != 0 or not out.exists():
                raise RuntimeError(f"ltx-triton generate --url failed ({cli.returncode}):\n{cli.stdout}\n{cli.stderr}")
        finally:
            stop = stop_server(process)

    server_reported = float(re.search(r"ready in (\d+(?:\.\d+)?) s", ready_line).group(1))
    compared = bench_e2e.anchor(case_args)
    print(f"\n### served: {request.pipeline_class_name} LTX-{case_args.version} {request.width}x{request.height}x{request.num_frames}, "
          f"{request.num_inference_steps} stage-1 steps (SGLang case {args.case}), {datetime.date.today().isoformat()}\n")
    print(f"{args.model_path}; serve flags: {' '.join(args.serve_arg) or 'defaults'}; {ready_line}\n")
    print("| measure | mean | min | SGLang H100 | goal (H100) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| start-up: `serve` launched to ready (s) | {startup:.1f} | - | {SGLANG_STARTUP_S[case_args.version]:.0f} | - |")
    print(f"| first request, warm-up: Triton kernels compile and tune (s) | {warmup:.3f} | - | - | - |")
    print(f"| **served request, gRPC stream, MP4 included (s)** | {statistics.mean(grpc):.3f} | {min(grpc):.3f} | "
          f"{case.e2e_s:.2f} (MP4 excluded) | {case.goal_s:.2f} |")
    print(f"| `ltx-triton generate --url`: Python start-up, request, MP4 written (s) | {cli_seconds:.3f} | - | - | - |")
    print(f"| `serve` stopped: SIGINT to exit (s) | {stop:.1f} | - | - | - |")
    print(f"\nthe server's own count to ready: {server_reported:.0f} s; vs {compared.what}")
    if args.tiny_request:
        print("\n(--tiny-request: the script's check; these numbers are not a benchmark)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
