"""`ltx-triton serve`: render the model repository for the flags into a run directory, start tritonserver on
it, wait until every model is ready, print the endpoints, and stop cleanly on Ctrl-C / SIGTERM."""
from __future__ import annotations

import argparse
import errno
import os
import secrets
import signal
import tempfile
import time
from dataclasses import replace
from pathlib import Path


def add_serve_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ltx_backend.pipelines.registry import PIPELINE_CLASSES
    from ltx_backend.request import MAX_REQUEST_BYTES
    from ltx_backend.runtime.stage_weights import DEFAULT_DEVICE_MODE, DEVICE_MODES
    from ltx_client.compile_flags import add_compile_flags
    from ltx_client.load_flags import add_file_flags, add_lora_flags
    from ltx_kernels.dispatch import BACKENDS

    p = sub.add_parser("serve", help="serve the model on a Triton Inference Server (gRPC, HTTP/KServe v2, metrics)")
    p.add_argument("--model-path", required=True, help="Hugging Face repo id or local directory / checkpoint file")
    p.add_argument("--pipeline-class-name", nargs="+", default=None,
                   help=f"pipeline classes to serve: {', '.join(PIPELINE_CLASSES)} (default: every class the checkpoint has)")
    p.add_argument("--ltx2-two-stage-device-mode", choices=DEVICE_MODES, default=DEFAULT_DEVICE_MODE,
                   help=f"two-stage weight switching (default {DEFAULT_DEVICE_MODE})")
    add_lora_flags(p)
    add_file_flags(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: the endpoints have no authentication, and tritonserver "
                        "2.51's HTTP front end has known crash bugs; give 0.0.0.0 to listen publicly, e.g. in a container)")
    p.add_argument("--port", type=int, default=8000, help="HTTP/KServe v2 port")
    p.add_argument("--grpc-port", type=int, default=8001)
    p.add_argument("--metrics-port", type=int, default=8002)
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="KIND_GPU instances on cuda, KIND_CPU on cpu")
    p.add_argument("--gpu-id", type=int, default=0)
    p.add_argument("--text-encoder-device", choices=("auto", "cpu"), default="auto", help="cpu keeps Gemma off the GPU")
    p.add_argument("--attention-backend", default=BACKENDS[0], choices=BACKENDS,
                   help="auto: Triton kernels on CUDA, torch SDPA on CPU")
    add_compile_flags(p)
    p.add_argument("--cuda-memory-pool-mib", type=int, default=4096,
                   help="Triton's CUDA memory pool per GPU (BLS tensors between models on the GPU); Triton's default is 64")
    p.add_argument("--max-request-bytes", type=int, default=MAX_REQUEST_BYTES,
                   help=f"largest HTTP request body / gRPC message taken (default {MAX_REQUEST_BYTES}: 64 MiB of images and "
                        "1 MiB for the rest); larger ones are refused (HTTP 413, gRPC RESOURCE_EXHAUSTED) by a front proxy "
                        "before tritonserver reads them. 0: no limit and no proxy, tritonserver listens on the ports itself")
    p.add_argument("--pipeline-instances", type=int, default=2,
                   help="requests in flight per pipeline model (default 2: a request is validated while another generates)")
    p.add_argument("--run-dir", default=None, help="where the rendered model repository and the server log go (default: a temp dir)")
    p.add_argument("--startup-timeout", type=float, default=1800.0)
    return p


def check_serve_flags(args: argparse.Namespace) -> None:
    """The numeric flags and flag pairs argparse does not check (InvalidRequest names the flag)."""
    from ltx_backend.errors import InvalidRequest, check_float, check_int

    for flag, value in (("--port", args.port), ("--grpc-port", args.grpc_port), ("--metrics-port", args.metrics_port)):
        check_int(flag, value, 1, 65535)
    ports = (args.port, args.grpc_port, args.metrics_port)
    if len(set(ports)) != 3:
        raise InvalidRequest("--port", args.port, f"three different ports for HTTP, gRPC and metrics (got {ports})")
    check_int("--gpu-id", args.gpu_id, 0, 1023)
    check_int("--pipeline-instances", args.pipeline_instances, 1, 64)
    check_int("--max-request-bytes", args.max_request_bytes, 0, 2**31 - 1)  # gRPC's own ceiling
    check_int("--cuda-memory-pool-mib", args.cuda_memory_pool_mib, 0, 2**20)
    check_float("--startup-timeout", args.startup_timeout, 1.0, 7 * 86400.0)


def check_port_free(flag: str, host: str, port: int) -> None:
    """InvalidRequest naming the flag when something listens on host:port already, or --host when it names no
    address of this machine (checked before anything starts: tritonserver would load every model first, then
    fail to bind)."""
    import socket

    from ltx_backend.errors import InvalidRequest

    try:
        addresses = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise InvalidRequest("--host", host, f"an address or host name of this machine ({error.strerror})") from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers bind: a closed port's TIME_WAIT is no use
            try:
                probe.bind(address)
            except OSError as error:
                if error.errno == errno.EADDRNOTAVAIL:
                    raise InvalidRequest("--host", host, f"an address of this machine ({error.strerror})") from None
                raise InvalidRequest(flag, port, f"a free port ({host}:{port}: {error.strerror})") from None


def repository_options(args: argparse.Namespace):
    import torch

    from ltx_backend.loading.quantization import check_runs_on as check_quantization_runs_on
    from ltx_backend.models.transformer.compile import check_compile_mode
    from ltx_backend.serving.repository import RepositoryOptions
    from ltx_client.compile_flags import torch_compile_mode
    from ltx_client.download import resolve_for_classes
    from ltx_client.load_flags import load_options, local_or_repo

    check_serve_flags(args)
    load = load_options(args)
    for flag, port in (("--port", args.port), ("--grpc-port", args.grpc_port), ("--metrics-port", args.metrics_port)):
        check_port_free(flag, args.host, port)  # after the flags' own checks, before any download
    # Every file the served classes need, downloaded (or checked in the cache offline) before the server starts:
    # its models resolve the same files from the cache.
    _, classes = resolve_for_classes(args)
    model_path, text_encoder_path = local_or_repo(args.model_path), local_or_repo(args.text_encoder_path)
    if load.lora_path is not None:
        from ltx_backend.loading.lora import read_lora

        read_lora(load.lora_path, load.lora_weight_name)  # a bad LoRA is an error now, not in a model's log
        if Path(load.lora_path).exists():  # the server's models resolve paths from another directory
            load = replace(load, lora_path=str(Path(load.lora_path).resolve()))
    compile_mode = torch_compile_mode(args)
    check_compile_mode(compile_mode, args.ltx2_two_stage_device_mode)
    gpu = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    check_quantization_runs_on(load.quantization, torch.device("cuda", args.gpu_id) if gpu else torch.device("cpu"))
    return RepositoryOptions(
        model_path=model_path,
        pipeline_classes=tuple(classes),
        text_encoder_path=text_encoder_path,
        upsampler_path=local_or_repo(args.spatial_upsampler_path),
        distilled_lora_path=local_or_repo(args.distilled_lora_path),
        gpu=gpu,
        gpu_id=args.gpu_id,
        text_encoder_on_cpu=args.text_encoder_device == "cpu",
        pipeline_instances=args.pipeline_instances,
        device_mode=args.ltx2_two_stage_device_mode,
        load=load,
        attention_backend=args.attention_backend,
        torch_compile_mode=compile_mode,
    )


def run_serve(args: argparse.Namespace) -> int:
    from ltx_backend.errors import InvalidRequest, LoadError
    from ltx_backend.serving.client_disconnects import DIRECTORY_ENV
    from ltx_backend.serving.repository import render_repository
    from ltx_client.flag_errors import print_error
    from ltx_client.front.runner import DRAIN_SECONDS, FrontProxies
    from ltx_client.server import ServerError, TritonServer, free_port
    from ltx_client.supervisor import Supervisor

    try:
        options = repository_options(args)
    except (InvalidRequest, LoadError) as error:
        print_error(error, args)
        return 2
    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="ltx-triton-"))
    repository = render_repository(options, run_dir / "model_repository")
    log_path = run_dir / "tritonserver.log"
    extra = []
    if options.gpu:  # BLS outputs that stay on the GPU come from this pool; too small and they fall back to CPU
        extra.append(f"--cuda-memory-pool-byte-size={options.gpu_id}:{args.cuda_memory_pool_mib * 2**20}")

    env = {}
    if args.max_request_bytes:  # tritonserver on private ports, behind the size-capping proxies on the public ones
        ports, triton_host = (free_port(), free_port()), "127.0.0.1"
        disconnects = run_dir / "disconnects"  # where the HTTP proxy marks unary requests whose client went away
        disconnects.mkdir(exist_ok=True)
        env[DIRECTORY_ENV] = str(disconnects)
        front = FrontProxies(args.host, args.port, args.grpc_port, *ports, limit=args.max_request_bytes, disconnects=disconnects)
    else:
        ports, triton_host, front = (args.port, args.grpc_port), args.host, None

    def make_server(shm_prefix: str) -> TritonServer:
        return TritonServer(repository, *ports, args.metrics_port, host=triton_host, metrics_host=args.host, log_path=log_path,
                            extra_args=extra, env=env, shm_prefix=shm_prefix)

    def interrupt(signum, frame):
        raise KeyboardInterrupt  # SIGINT and SIGTERM alike, even where SIGINT came in ignored (`serve &` in a script)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, interrupt)
    # The run id names this run's shm regions: the pid alone repeats across containers sharing /dev/shm (pid 1).
    supervisor = Supervisor(make_server, f"{os.getpid()}_{secrets.token_hex(4)}", args.startup_timeout)
    host = "localhost" if args.host in ("0.0.0.0", "::") else args.host

    def say_ready() -> None:
        if front is not None:  # ready on gRPC too: the relay's channel to tritonserver connected
            front.wait_upstream_ready()
        print(
            f"ready in {time.monotonic() - supervisor.started_at:.0f} s on {'GPU ' + str(options.gpu_id) if options.gpu else 'CPU'}, serving {', '.join(options.pipeline_classes)}\n"
            f"  gRPC        {host}:{args.grpc_port}   (ltx-triton generate --url {host}:{args.grpc_port} ...)\n"
            f"  HTTP/KServe http://{host}:{args.port}/v2/models/pipeline_unary/infer\n"
            f"  metrics     http://{host}:{args.metrics_port}/metrics\n"
            + (f"Requests over {args.max_request_bytes} bytes are refused (--max-request-bytes).\n" if front else "") +
            "Ctrl-C stops the server.",
            flush=True,
        )

    print(f"model repository: {repository}\nserver log: {log_path}\nstarting tritonserver ...", flush=True)
    try:
        if front is not None:
            front.start()
        supervisor.start()
        say_ready()
        return supervisor.watch(say_ready)
    except (ServerError, OSError) as error:  # OSError: a port taken
        print_error(error, args)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C does not cut the shutdown short
        print(f"stopping tritonserver ...{f' (requests in flight finish first, up to {DRAIN_SECONDS:.0f} s)' if front else ''}", flush=True)
        try:
            if front is not None:  # first: requests in flight finish through it, then its connections close
                front.stop()
        finally:
            supervisor.stop()
