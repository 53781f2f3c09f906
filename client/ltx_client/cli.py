"""`ltx-triton`: the command line. `generate` runs a request in-process (the engine in ltx_backend)."""
from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from ltx_backend.conditioning.images import DEFAULT_IMAGE_CRF, IMAGE_MODES
from ltx_backend.errors import InvalidRequest
from ltx_backend.pipelines.registry import AUDIO_TO_VIDEO, DISTILLED_RETAKE, IC_LORA, ONE_STAGE, PIPELINE_CLASSES, RETAKE
from ltx_backend.request import RANDOM_SEED, GenerationRequest, random_seed
from ltx_backend.runtime.stage_weights import DEFAULT_DEVICE_MODE, DEVICE_MODES
from ltx_kernels.dispatch import BACKENDS

DEFAULT_OUTPUT_DIR = "outputs"
from ltx_client.bench import add_bench_parser, run_bench
from ltx_client.compile_flags import add_compile_flags, torch_compile_mode
from ltx_client.download import add_download_parser, run_download
from ltx_client.flag_errors import flag_names, print_error
from ltx_client.load_flags import add_file_flags, add_lora_flags, load_options
from ltx_client.serve import add_serve_parser, run_serve


def _generate_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("generate", help="generate one video (with audio) in-process")
    p.add_argument("--model-path", default=None, help="Hugging Face repo id or local directory / checkpoint file (in-process)")
    p.add_argument("--pipeline-class-name", default=ONE_STAGE, help=f"one of {', '.join(PIPELINE_CLASSES)}")
    p.add_argument("--prompt", required=True)
    p.add_argument("--negative-prompt", default=None, help="default: the reference's negative prompt")
    p.add_argument("--enhance-prompt", action="store_true",
                   help="Gemma 3 rewrites the prompt first (Lightricks' system prompts; the first image for image-to-video)")
    p.add_argument("--seed", type=int, default=None, help="default: the pipeline's (10; 42 for the retake classes); -1: a random seed")
    p.add_argument("--width", type=int, default=None, help="output width in pixels (default per model)")
    p.add_argument("--height", type=int, default=None, help="output height in pixels (default per model)")
    p.add_argument("--num-frames", type=int, default=None, help="8k+1 frames (default 121)")
    p.add_argument("--num-inference-steps", type=int, default=None, help="default 40 (LTX-2) / 30 (LTX-2.3)")
    p.add_argument("--guidance-scale", type=float, default=None, help="video CFG scale (default 3.0)")
    p.add_argument("--stg-scale", type=float, default=None,
                   help="STG scale of video and audio (default 1.0; HQ 0.0); 0 drops the STG pass")
    p.add_argument("--modality-scale", type=float, default=None,
                   help="audio<->video (a2v / v2a) guidance scale (default 3.0); 1 drops the modality-isolation pass")
    p.add_argument("--guidance-rescale", type=float, default=None,
                   help="guidance rescale in [0, 1] of video and audio (default 0.7; HQ 0.45 video, 1.0 audio)")
    p.add_argument("--skip-step", type=int, default=None,
                   help="run the transformer on every (N+1)-th stage-1 step only, reusing its last prediction between (default 0)")
    p.add_argument("--fps", type=float, default=None, help="frame rate (default 24)")
    p.add_argument("--save-output", action="store_true", help=f"write the MP4 (to {DEFAULT_OUTPUT_DIR}/ unless --output-path says where)")
    p.add_argument("--output-path", default=None, help=f"write the MP4 here: an .mp4 file, or a directory (default {DEFAULT_OUTPUT_DIR}/)")
    p.add_argument("--save-raw", default=None, metavar="PATH.npz", help="also write frames, audio and sample_rate")
    p.add_argument("--image-path", nargs="+", default=None, help="conditioning image(s): first frame [, last frame]")
    p.add_argument("--image-frame-index", type=int, nargs="+", default=None, help="the pixel frame of each image (default: 0 [, last])")
    p.add_argument("--image-strength", type=float, nargs="+", default=None, help="conditioning strength of each image in [0, 1] (default 1.0)")
    p.add_argument("--image-crf", type=int, default=DEFAULT_IMAGE_CRF, help="H.264 CRF of the images' round trip before encoding (0: none)")
    p.add_argument("--image-mode", choices=IMAGE_MODES, default=IMAGE_MODES[0],
                   help="combined: frame 0 replaces the first latent frame, others are keyframe tokens; keyframes: all are keyframe tokens")
    p.add_argument("--audio-path", default=None,
                   help=f"{AUDIO_TO_VIDEO}: the soundtrack to make the video for (WAV, MP3, FLAC, M4A, or a video's audio track)")
    p.add_argument("--audio-start-time", type=float, default=0.0, help="read the soundtrack from this second (default 0)")
    p.add_argument("--audio-max-duration", type=float, default=None,
                   help="seconds of soundtrack to read (default: the video's length, num_frames / fps)")
    p.add_argument("--video-path", default=None,
                   help=f"{RETAKE} / {DISTILLED_RETAKE}: the clip to edit (8k+1 frames, sides multiples of 32; its size, frames and fps are kept)")
    p.add_argument("--retake-start", type=float, default=None, help="start of the window to regenerate, in seconds")
    p.add_argument("--retake-end", type=float, default=None, help="end of the window to regenerate, in seconds")
    p.add_argument("--retake-video", action=argparse.BooleanOptionalAction, default=True,
                   help="regenerate the window's video (--no-retake-video keeps the video whole)")
    p.add_argument("--retake-audio", action=argparse.BooleanOptionalAction, default=True,
                   help="regenerate the window's audio (--no-retake-audio keeps the audio whole)")
    p.add_argument("--video-conditioning", nargs="+", default=None, metavar="PATH[:STRENGTH]",
                   help=f"{IC_LORA}: control videos (depth, pose, edges, ...) for the IC-LoRA given with --lora-path; "
                   "strength in [0, 1] (default 1.0)")
    p.add_argument("--conditioning-attention-strength", type=float, default=None,
                   help="how strongly the control videos and the video attend to each other, in [0, 1] (default 1.0)")
    p.add_argument("--conditioning-attention-mask", nargs="+", action=AttentionMaskAction, default=None, metavar=("MASK_PATH", "STRENGTH"),
                   help="a grayscale mask video weighing that attention by region and time (white: the strength, black: none), "
                   "optionally with the strength (ltx-pipelines' form; else --conditioning-attention-strength)")
    p.add_argument("--skip-stage-2", action="store_true",
                   help=f"{IC_LORA}: stop after stage 1 and decode its half-size video (width/2 x height/2)")
    add_lora_flags(p)
    add_file_flags(p)
    p.add_argument("--ltx2-two-stage-device-mode", choices=DEVICE_MODES, default=None,
                   help=f"how the two-stage pipelines switch transformer weights (same video in every mode; default {DEFAULT_DEVICE_MODE})")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda when available)")
    p.add_argument("--dtype", default=None, choices=("float32", "bfloat16", "float16"), help="default bf16 on GPU, fp32 on CPU")
    p.add_argument("--attention-backend", default=None, choices=BACKENDS,
                   help=f"{BACKENDS[0]} (the default): Triton kernels on CUDA, torch SDPA on CPU")
    add_compile_flags(p)
    p.add_argument("--url", default=None, metavar="HOST:GRPC_PORT",
                   help="send the request to a running `ltx-triton serve` over gRPC instead of running it in-process")
    return p


def _request_from_args(args: argparse.Namespace) -> GenerationRequest:
    return GenerationRequest(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        enhance_prompt=args.enhance_prompt,
        pipeline_class_name=args.pipeline_class_name,
        seed=args.seed,
        width=args.width,
        height=args.height,
        num_frames=args.num_frames,
        num_inference_steps=args.num_inference_steps,
        guidance_scale=args.guidance_scale,
        stg_scale=args.stg_scale,
        modality_scale=args.modality_scale,
        guidance_rescale=args.guidance_rescale,
        skip_step=args.skip_step,
        fps=args.fps,
        image_paths=tuple(args.image_path or ()),
        image_frame_indices=None if args.image_frame_index is None else tuple(args.image_frame_index),
        image_strengths=None if args.image_strength is None else tuple(args.image_strength),
        image_crf=args.image_crf,
        image_mode=args.image_mode,
        audio_path=args.audio_path,
        audio_start_time=args.audio_start_time,
        audio_max_duration=args.audio_max_duration,
        video_path=args.video_path,
        retake_start=args.retake_start,
        retake_end=args.retake_end,
        retake_video=args.retake_video,
        retake_audio=args.retake_audio,
        **_attention_fields(args.conditioning_attention_strength, args.conditioning_attention_mask),
        skip_stage_2=args.skip_stage_2,
        **_control_videos(args.video_conditioning),
    )


class AttentionMaskAction(argparse.Action):
    """--conditioning-attention-mask MASK_PATH [STRENGTH] -> (path, strength or None)."""

    def __call__(self, parser, namespace, values, option_string=None):
        if len(values) > 2:
            raise argparse.ArgumentError(self, f"takes MASK_PATH and an optional STRENGTH, got {len(values)} values")
        strength = None
        if len(values) == 2:
            try:
                strength = float(values[1])
            except ValueError:
                raise argparse.ArgumentError(self, f"STRENGTH {values[1]!r} is not a number") from None
        setattr(namespace, self.dest, (values[0], strength))


def _attention_fields(strength: float | None, mask: tuple[str, float | None] | None) -> dict:
    """The control videos' attention strength (default 1.0) and mask video: the strength from either flag, not both."""
    path, mask_strength = mask if mask is not None else (None, None)
    if strength is not None and mask_strength is not None:
        raise InvalidRequest("--conditioning-attention-strength", strength, "left out when --conditioning-attention-mask gives the strength")
    chosen = strength if strength is not None else mask_strength
    return {"conditioning_attention_strength": 1.0 if chosen is None else chosen, "conditioning_attention_mask_path": path}


def _control_videos(values: list[str] | None) -> dict:
    """--video-conditioning PATH[:STRENGTH] ... -> the request's paths and strengths (a suffix that is not a
    number is part of the path)."""
    if not values:
        return {}
    paths, strengths = [], []
    for value in values:
        path, _, suffix = value.rpartition(":")
        try:
            strength = float(suffix) if path else None
        except ValueError:
            strength = None
        paths.append(path if strength is not None else value)
        strengths.append(1.0 if strength is None else strength)
    return {"video_conditioning_paths": tuple(paths), "video_conditioning_strengths": tuple(strengths)}


def output_file(output_path: str | None, prompt: str, seed: int) -> Path:
    path = Path(output_path or DEFAULT_OUTPUT_DIR)
    if path.suffix.lower() == ".mp4":
        return path
    slug = re.sub(r"[^a-zA-Z0-9]+", "_", prompt).strip("_")[:48] or "video"
    return path / f"{slug}_{seed}.mp4"


def saves_video(args: argparse.Namespace) -> bool:
    """--save-output, or an --output-path named: both mean "write the MP4"."""
    return args.save_output or args.output_path is not None


def _raw_file(save_raw: str) -> Path:
    """Where --save-raw writes (numpy adds .npz to a name without it)."""
    raw = Path(save_raw)
    return raw if raw.suffix == ".npz" else raw.with_name(raw.name + ".npz")


def _names_another_file_type(output_path: str | None) -> bool:
    """An --output-path like clip.mov: a name with another extension than .mp4, not an existing folder, not ending
    in /."""
    if output_path is None or output_path.endswith(("/", os.sep)) or Path(output_path).suffix.lower() in ("", ".mp4"):
        return False
    try:
        return not Path(output_path).is_dir()
    except OSError:  # a name too long to look up: _check_output_paths' path check names it
        return False


def _check_output_paths(args: argparse.Namespace, request: GenerationRequest) -> None:
    """Fail before any work when an output cannot be written where asked."""
    checks = []
    if saves_video(args):
        given = args.output_path
        if _names_another_file_type(given):
            raise InvalidRequest("--output-path", given, "an .mp4 file, or a folder to write it in (end a folder's name "
                                 "that has a dot with /)")
        checks.append(("--output-path", given, output_file(given, request.prompt, request.seed)))
    if args.save_raw:
        checks.append(("--save-raw", args.save_raw, _raw_file(args.save_raw)))
    for flag, given, path in checks:
        try:
            if path.is_dir():
                raise InvalidRequest(flag, given, f"a file path ({path} is a folder)")
            for parent in path.parents:
                if parent.exists() and not parent.is_dir():
                    raise InvalidRequest(flag, given, f"a path under a folder ({parent} is a file)")
            folder = next(parent for parent in path.absolute().parents if parent.exists())
            with tempfile.TemporaryFile(dir=folder):  # where the file (or its folders) will be made: writable?
                pass
        except OSError as error:  # a folder on the way that cannot be entered or written
            raise InvalidRequest(flag, given, f"a path this user can write ({error})") from None


def _device(name: str | None):
    """--device as a torch.device, checked (None: the default)."""
    import torch

    if name is None:
        return None
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidRequest("--device", name, "cpu, cuda or cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise InvalidRequest("--device", name, "cpu, cuda or cuda:N")
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise InvalidRequest("--device", name, "cpu (no CUDA device is available here)")
        if device.index is not None and device.index >= count:
            raise InvalidRequest("--device", name, f"cuda:0 .. cuda:{count - 1} ({count} CUDA devices here)")
    return device


def _check_backend_device(backend: str, device) -> None:
    """--attention-backend triton runs its kernels on CUDA tensors (or in the Triton interpreter)."""
    from ltx_backend.runtime.loaders import default_device
    from ltx_kernels.dispatch import triton_runs_on

    if backend == "triton" and not triton_runs_on(device or default_device()):
        raise InvalidRequest(
            "--attention-backend", backend, "auto or sdpa on CPU (the Triton kernels need CUDA tensors, or TRITON_INTERPRET=1)"
        )


def _write_outputs(args: argparse.Namespace, request: GenerationRequest, mp4: bytes | None, frames, audio, sample_rate) -> int:
    """Write what the flags ask for; the exit status (1 when a file cannot be written after all: a full disk)."""
    import numpy as np

    from ltx_backend.media import write_mp4

    path = None
    try:
        if saves_video(args):
            path = output_file(args.output_path, request.prompt, request.seed)
            if mp4 is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(mp4)
            else:
                path = write_mp4(path, frames, request.fps, audio, sample_rate)
            print(f"saved {path}")
        if args.save_raw:
            path = _raw_file(args.save_raw)
            path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(path, frames=frames, audio=audio, sample_rate=np.int64(sample_rate))
            print(f"saved {path}")
    except OSError as error:
        print(f"error: cannot write {path}: {error}", file=sys.stderr)
        return 1
    return 0


def run_generate_remote(args: argparse.Namespace) -> int:
    from ltx_client.progress import TqdmProgress
    from ltx_client.remote import RemoteError, generate_grpc, request_arrays

    server_side = {  # chosen when the server starts, not per request (None: not given)
        "--lora-path": args.lora_path, "--lora-weight-name": args.lora_weight_name, "--lora-scale": args.lora_scale,
        "--quantization": args.quantization, "--ltx2-two-stage-device-mode": args.ltx2_two_stage_device_mode,
        "--device": args.device, "--dtype": args.dtype, "--spatial-upsampler-path": args.spatial_upsampler_path,
        "--distilled-lora-path": args.distilled_lora_path, "--text-encoder-path": args.text_encoder_path,
        "--attention-backend": args.attention_backend,
        "--enable-torch-compile": args.enable_torch_compile or None, "--torch-compile-mode": args.torch_compile_mode,
        "--model-path": args.model_path,
    }
    given = [flag for flag, value in server_side.items() if value is not None]
    if given:
        verb = "is" if len(given) == 1 else "are"
        print(f"error: {', '.join(given)} {verb} chosen when the server starts (ltx-triton serve ...), not with --url", file=sys.stderr)
        return 2
    try:
        if "://" in args.url or "/" in args.url:
            raise InvalidRequest("--url", args.url, "HOST:PORT of the server's gRPC endpoint, without a scheme or a path "
                                 "(e.g. localhost:8001)")
        request = _request_from_args(args)
        if request.seed == RANDOM_SEED:  # drawn here, so that the server makes the video the file name says
            request = replace(request, seed=random_seed())
            _print_seed(request.seed)
        # The checks the server makes, here: fail before sending (the server's model version is not known
        # here; LTX-2.3 admits every pipeline class, the other bounds are the same). The defaults it fills
        # in are not sent: the server fills its own (the file name takes the seed they would give).
        named = request.resolve("2.3")
        _check_output_paths(args, named)
        arrays = request_arrays(request, return_raw=bool(args.save_raw))
    except InvalidRequest as error:
        print_error(error, args)
        return 2
    try:
        with TqdmProgress() as progress:
            result = generate_grpc(args.url, request, on_progress=progress, arrays=arrays)
    except RemoteError as error:
        print_error(error, args)
        return 1 if str(error.status).removeprefix("StatusCode.") == "UNAVAILABLE" else 2
    except OSError as error:
        print(f"error: cannot reach the server at {args.url}: {error}", file=sys.stderr)
        return 1
    _print_enhanced_prompt(result.enhanced_prompt)
    if result.seed is not None and result.seed != named.seed:  # a server whose defaults differ from this client's
        print(f"warning: the server made the video with seed {result.seed}; the file name says {named.seed}", file=sys.stderr)
    return _write_outputs(args, named, result.mp4, result.frames, result.audio, result.sample_rate)


def run_generate(args: argparse.Namespace) -> int:
    if not (saves_video(args) or args.save_raw):  # as SGLang: the video is written only when asked
        print(f"note: nothing will be written: add --save-output ({DEFAULT_OUTPUT_DIR}/<prompt>_<seed>.mp4) or --output-path",
              file=sys.stderr)
    if args.url:
        return run_generate_remote(args)
    if not args.model_path:
        print("error: --model-path is required (or --url HOST:GRPC_PORT of a running server)", file=sys.stderr)
        return 2
    import torch

    from ltx_backend.errors import LoadError
    from ltx_backend.runtime.cpu_threads import use_environment_thread_count
    from ltx_backend.runtime.local_components import load_pipeline, open_model_for
    from ltx_client.progress import TqdmProgress
    from ltx_kernels import set_attention_backend

    use_environment_thread_count()  # as every served model does: the same video as `serve` on this CPU
    backend = args.attention_backend or BACKENDS[0]
    try:
        request = _request_from_args(args)
        device = _device(args.device)
        _check_backend_device(backend, device)
        try:
            set_attention_backend(backend)
        except RuntimeError as error:  # its package is not installed
            raise InvalidRequest("--attention-backend", backend, str(error)) from None
        # The files this class needs, fetched (or checked in the cache) and the checkpoint's metadata read: every
        # check before any weight is loaded.
        source = open_model_for(args.model_path, request.pipeline_class_name, args.text_encoder_path,
                                args.spatial_upsampler_path, args.distilled_lora_path)
        request = request.resolve(source.model_version)
        _note_unused_flags(args, request.pipeline_class_name)
        if args.seed == RANDOM_SEED:
            _print_seed(request.seed)
        options = load_options(args)
        _check_output_paths(args, request)
        dtype = getattr(torch, args.dtype) if args.dtype else None
        pipeline = load_pipeline(
            source, device=device, dtype=dtype, pipeline_class_name=request.pipeline_class_name,
            device_mode=args.ltx2_two_stage_device_mode or DEFAULT_DEVICE_MODE, upsampler_path=args.spatial_upsampler_path,
            distilled_lora_path=args.distilled_lora_path, options=options,
            torch_compile_mode=torch_compile_mode(args),
        )
    except (InvalidRequest, LoadError) as error:
        print_error(error, args)
        return 2
    with TqdmProgress() as progress:
        try:
            result = pipeline(request, on_step=progress)
        except InvalidRequest as error:
            print_error(error, args)
            return 2
    _print_enhanced_prompt(result.enhanced_prompt)
    return _write_outputs(args, request, None, result.frames, result.audio, result.sample_rate)


def _note_unused_flags(args: argparse.Namespace, pipeline_class_name: str) -> None:
    """The two-stage flags a one-stage class has no use for: said, not refused (a script may pass them to every
    class, as to a server serving several)."""
    from ltx_backend.pipelines.registry import files_needed, spec_of

    files = files_needed([pipeline_class_name])
    for flag, given, used in (("--spatial-upsampler-path", args.spatial_upsampler_path, files.spatial_upsampler),
                              ("--distilled-lora-path", args.distilled_lora_path, files.distilled_lora),
                              ("--ltx2-two-stage-device-mode", args.ltx2_two_stage_device_mode, spec_of(pipeline_class_name).two_stage)):
        if given is not None and not used:
            print(f"note: {flag} is not used by {pipeline_class_name}", file=sys.stderr)


def _print_seed(seed: int) -> None:
    """--seed -1: the seed drawn, on stderr (the output's file name carries it too)."""
    print(f"seed: {seed}", file=sys.stderr)


def _print_enhanced_prompt(prompt: str | None) -> None:
    """--enhance-prompt: the prompt the video was made from, on stderr beside the progress."""
    if prompt is not None:
        print(f"enhanced prompt: {prompt}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="ltx-triton", description="LTX-2 / LTX-2.3 video+audio generation on Triton")
    sub = parser.add_subparsers(dest="command", required=True)
    _generate_parser(sub)
    add_serve_parser(sub)
    add_download_parser(sub)
    add_bench_parser(sub)
    args = parser.parse_args(argv)
    args.flag_names = flag_names(sub.choices[args.command])  # errors name the flags, not the fields
    if args.command == "generate":
        try:
            return run_generate(args)
        except KeyboardInterrupt:  # Ctrl-C: a served request is cancelled as its stream closes (remote.py)
            print("cancelled", file=sys.stderr)
            return 130
    if args.command == "serve":
        return run_serve(args)
    if args.command == "download":
        return run_download(args)
    if args.command == "bench":
        return run_bench(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
