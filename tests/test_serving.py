"""Serving on a real tritonserver (started once for this module): gRPC, HTTP/KServe v2 and in-process give the
same video; progress streams per step; bad requests are INVALID_ARG naming the field and the server keeps
serving; cancellation; concurrent load without memory growth; perf_analyzer through `ltx-triton bench`; bodies over
the size limit refused before tritonserver reads them. The clients go through serve's front proxies."""
from __future__ import annotations

import queue
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
import tritonclient.grpc as grpcclient

from audio_files import encode_audio_file, tones
from ltx_backend.media import probe_mp4
from ltx_backend.pipelines.registry import AUDIO_TO_VIDEO, RETAKE
from ltx_backend.request import MAX_REQUEST_BYTES, GenerationRequest
from ltx_backend.serving.client_disconnects import DIRECTORY_ENV
from ltx_client.front.runner import FrontProxies
from ltx_client.remote import RemoteError, generate_grpc, generate_http
from ltx_client.server import SHM, TritonServer, free_port
from serving import grpc_unary, http_unary, int32, text

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.server

# The LTX-2 tiny checkpoint: its vocoder is ~4x faster on CPU than LTX-2.3's, and this module runs ~50 requests.
MODEL = ROOT / "build/tiny/ltx-2"
SMALL = dict(prompt="A red fox runs through fresh snow at dawn", width=64, height=64, num_frames=9, num_inference_steps=3)


class Served:
    """tritonserver behind the front proxies, as `ltx-triton serve` runs it: the tests' clients reach the proxies'
    ports (so every test here also passes through them), the server's own are still there for the comparisons."""

    def __init__(self, triton: TritonServer, proxies: FrontProxies):
        self.triton, self.proxies, self.disconnects = triton, proxies, proxies.disconnects
        self.grpc_url, self.http_url = f"127.0.0.1:{proxies.grpc_port}", f"127.0.0.1:{proxies.http_port}"

    def __getattr__(self, name):  # log_path, metrics_port, ready(), resident_bytes() ...
        return getattr(self.triton, name)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    assert (MODEL / "tokenizer").exists(), f"{MODEL} is missing: run `make setup`"
    # The checked-in repository, as it is; only the checkpoint is swapped (LTX_MODEL_PATH overrides model_path).
    run_dir = tmp_path_factory.mktemp("triton")
    disconnects = run_dir / "disconnects"
    disconnects.mkdir()
    s = TritonServer(ROOT / "model_repository", free_port(), free_port(), free_port(), host="127.0.0.1", log_path=run_dir / "tritonserver.log",
                     env={"LTX_MODEL_PATH": str(MODEL), DIRECTORY_ENV: str(disconnects)})
    s.start(timeout=600)
    proxies = FrontProxies("127.0.0.1", free_port(), free_port(), s.http_port, s.grpc_port, limit=MAX_REQUEST_BYTES,
                           disconnects=disconnects).start()
    yield Served(s, proxies)
    proxies.stop()
    s.stop()
    # Every model unloaded within tritonserver's exit timeout (exit 0), after this module's cancellations,
    # disconnects, concurrent streams and perf_analyzer: no request or response left holding a model.
    assert s.process.returncode == 0, f"tritonserver exited {s.process.returncode}: see {s.log_path}"
    assert not list(SHM.glob(s.shm_prefix + "*")), "stop() leaves none of the server's shared-memory regions"


def test_grpc_http_and_in_process_give_identical_video(server):
    from ltx_backend.runtime.local_components import load_pipeline

    request = GenerationRequest(**SMALL, seed=3)
    steps = []
    via_grpc = generate_grpc(server.grpc_url, request, on_progress=steps.append, return_raw=True, timeout=600)
    via_http = generate_http(server.http_url, request, return_raw=True)
    local = load_pipeline(str(MODEL), device=torch.device("cpu"))(request.resolve("2"))

    assert via_grpc.frames.shape == (9, 64, 64, 3) and via_grpc.frames.dtype == np.uint8
    np.testing.assert_array_equal(via_grpc.frames, local.frames)
    np.testing.assert_array_equal(via_http.frames, local.frames)
    np.testing.assert_array_equal(via_grpc.audio, local.audio)
    np.testing.assert_array_equal(via_http.audio, local.audio)
    assert via_grpc.sample_rate == via_http.sample_rate == local.sample_rate
    info = probe_mp4(via_grpc.mp4)
    assert (info.width, info.height, info.num_frames, info.audio_streams) == (64, 64, 9, 1)
    assert abs(info.audio_duration - info.video_duration) < 0.05


def test_guidance_fields_reach_the_served_pipeline(server):
    """stg_scale / modality_scale / guidance_rescale travel as inputs (gRPC and HTTP) and give the
    in-process video; they change it (the tiny model's defaults run 4 passes, these 2)."""
    from ltx_backend.runtime.local_components import load_pipeline

    request = GenerationRequest(**SMALL, seed=3, guidance_scale=4.0, stg_scale=0.0, modality_scale=1.0, guidance_rescale=0.0)
    via_grpc = generate_grpc(server.grpc_url, request, return_raw=True, timeout=600)
    via_http = generate_http(server.http_url, request, return_raw=True)
    local = load_pipeline(str(MODEL), device=torch.device("cpu"))(request.resolve("2"))
    np.testing.assert_array_equal(via_grpc.frames, local.frames)
    np.testing.assert_array_equal(via_http.frames, local.frames)
    np.testing.assert_array_equal(via_grpc.audio, local.audio)
    default = generate_grpc(server.grpc_url, GenerationRequest(**SMALL, seed=3), return_raw=True, timeout=600)
    assert not np.array_equal(default.frames, via_grpc.frames)


def test_audio_to_video_served_equals_in_process(server, tmp_path):
    """The soundtrack travels as AUDIO bytes (gRPC, HTTP), is encoded by the vae_encoder model, and gives the
    in-process video; the MP4 carries the soundtrack itself."""
    from ltx_backend.runtime.local_components import load_pipeline

    path = tmp_path / "soundtrack.wav"
    path.write_bytes(WAV)
    request = GenerationRequest(**{**SMALL, "width": 128, "height": 128}, seed=5, pipeline_class_name=AUDIO_TO_VIDEO,
                                audio_path=str(path), audio_start_time=0.25)
    via_grpc = generate_grpc(server.grpc_url, request, return_raw=True, timeout=600)
    via_http = generate_http(server.http_url, request, return_raw=True)
    local = load_pipeline(str(MODEL), device=torch.device("cpu"), pipeline_class_name=AUDIO_TO_VIDEO)(request.resolve("2"))
    np.testing.assert_array_equal(via_grpc.frames, local.frames)
    np.testing.assert_array_equal(via_http.frames, local.frames)
    np.testing.assert_array_equal(via_grpc.audio, local.audio)
    assert via_grpc.sample_rate == local.sample_rate == 44100
    assert local.audio.shape == (2, round(9 / 24 * 44100))
    info = probe_mp4(via_grpc.mp4)
    assert info.audio_sample_rate == 44100 and abs(info.audio_duration - info.video_duration) < 0.05


def test_retake_served_equals_in_process(server, tmp_path):
    """The clip travels as VIDEO bytes, with the window and the stream switches; frames and sound as in-process."""
    from ltx_backend.runtime.local_components import load_pipeline

    path = tmp_path / "clip.mp4"
    path.write_bytes(_clip(frames=17))
    request = GenerationRequest(prompt="The fox turns its head", pipeline_class_name=RETAKE, video_path=str(path), seed=4,
                                num_inference_steps=2, retake_start=0.2, retake_end=0.5, retake_audio=False)
    steps = []
    via_grpc = generate_grpc(server.grpc_url, request, on_progress=steps.append, return_raw=True, timeout=600)
    via_http = generate_http(server.http_url, request, return_raw=True)
    local = load_pipeline(str(MODEL), device=torch.device("cpu"), pipeline_class_name=RETAKE)(request.resolve("2"))
    assert via_grpc.frames.shape == (17, 64, 64, 3) and len(steps) == 2
    np.testing.assert_array_equal(via_grpc.frames, local.frames)
    np.testing.assert_array_equal(via_http.frames, local.frames)
    np.testing.assert_array_equal(via_grpc.audio, local.audio)
    assert via_grpc.sample_rate == local.sample_rate


def test_enhanced_prompt_is_returned_and_equals_in_process(server):
    """ENHANCE_PROMPT: the text_encoder model rewrites the prompt (Gemma 3 chat), the pipeline returns it as
    ENHANCED_PROMPT (gRPC, HTTP) and makes the in-process video from it; without the flag there is no such output."""
    from ltx_backend.runtime.local_components import load_pipeline

    request = GenerationRequest(**SMALL, seed=8, enhance_prompt=True)
    via_grpc = generate_grpc(server.grpc_url, request, return_raw=True, timeout=600)
    via_http = generate_http(server.http_url, request, return_raw=True)
    local = load_pipeline(str(MODEL), device=torch.device("cpu"))(request.resolve("2"))
    assert local.enhanced_prompt and via_grpc.enhanced_prompt == via_http.enhanced_prompt == local.enhanced_prompt
    np.testing.assert_array_equal(via_grpc.frames, local.frames)
    assert generate_grpc(server.grpc_url, GenerationRequest(**SMALL, seed=8), timeout=600).enhanced_prompt is None


def test_a_random_seed_is_returned_and_makes_the_same_video_again(server):
    """seed -1: the server draws one and returns it in SEED; asking for that seed gives the same video."""
    drawn = generate_grpc(server.grpc_url, GenerationRequest(**SMALL, seed=-1), return_raw=True, timeout=600)
    assert drawn.seed is not None and 0 <= drawn.seed < 2**31
    again = generate_http(server.http_url, GenerationRequest(**SMALL, seed=drawn.seed), return_raw=True)
    assert again.seed == drawn.seed
    np.testing.assert_array_equal(drawn.frames, again.frames)


def test_grpc_streams_one_progress_message_per_step_before_the_result(server):
    events = []
    result = generate_grpc(server.grpc_url, GenerationRequest(**{**SMALL, "num_inference_steps": 5}),
                           on_progress=lambda p: events.append((p.stage, p.step, p.total)), timeout=600)
    assert events == [(1, i, 5) for i in range(1, 6)]
    assert probe_mp4(result.mp4).num_frames == 9


def _png(width: int = 40, height: int = 30) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG = _png()
BROKEN_PNG = PNG[:60] + b"\x00" * 40 + PNG[100:]  # a valid header, pixel data that does not inflate
BOMB_PNG = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", (20000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])) + _png_chunk(b"IEND", b"")


def images(*data: bytes) -> tuple[np.ndarray, str]:
    return np.array(list(data), dtype=np.object_), "BYTES"


WAV = encode_audio_file(tones(1.0, 44100), 44100)
A2V = {"PIPELINE_CLASS_NAME": text(AUDIO_TO_VIDEO)}


def soundtrack(data: bytes) -> dict:
    return {**A2V, "AUDIO": (np.array([data], dtype=np.object_), "BYTES")}


def _clip(frames: int = 9, width: int = 64, height: int = 64, sound: bool = True) -> bytes:
    from ltx_backend.media import encode_mp4

    pictures = np.random.default_rng(frames).integers(0, 256, (frames, height, width, 3), dtype=np.uint8)
    return encode_mp4(pictures, 24.0, tones(frames / 24 + 0.1, 48000) if sound else None, 48000 if sound else None)


CLIP = _clip()
WINDOW = {"RETAKE_START": (np.array([0.1], np.float32), "FP32"), "RETAKE_END": (np.array([0.3], np.float32), "FP32")}


def retake(data: bytes, **changes) -> dict:
    """A retake request's inputs: the clip decides width, height and frames (GOOD's are dropped)."""
    return {"WIDTH": None, "HEIGHT": None, "NUM_FRAMES": None, "PIPELINE_CLASS_NAME": text(RETAKE),
            "VIDEO": (np.array([data], dtype=np.object_), "BYTES"), **WINDOW, **changes}


GOOD = {"PROMPT": text("a fox"), "WIDTH": int32(64), "HEIGHT": int32(64), "NUM_FRAMES": int32(9), "NUM_INFERENCE_STEPS": int32(2)}
BAD_REQUESTS = [
    # (name, inputs replacing GOOD's, parameters, field the error must name)
    ("wrong dtype", {"WIDTH": (np.array([64.0], np.float32), "FP32")}, None, "WIDTH"),
    ("wrong shape", {"WIDTH": int32(64, 64)}, None, "WIDTH"),
    ("width off the grid", {"WIDTH": int32(65)}, None, "width"),
    ("height off the grid", {"HEIGHT": int32(100)}, None, "height"),
    ("frames not 8k+1", {"NUM_FRAMES": int32(10)}, None, "num_frames"),
    ("too many frames", {"NUM_FRAMES": int32(100_001)}, None, "num_frames"),
    ("unknown pipeline class", {"PIPELINE_CLASS_NAME": text("LTX3Pipeline")}, None, "pipeline_class_name"),
    ("empty prompt", {"PROMPT": text("   ")}, None, "prompt"),
    ("prompt not UTF-8", {"PROMPT": text(b"\xff\xfe fox")}, None, "prompt"),
    ("no prompt", {"PROMPT": None}, None, "prompt"),
    ("zero steps", {"NUM_INFERENCE_STEPS": int32(0)}, None, "num_inference_steps"),
    ("negative seed", {"SEED": (np.array([-2], np.int64), "INT64")}, None, "seed"),
    ("guidance NaN", {"GUIDANCE_SCALE": (np.array([np.nan], np.float32), "FP32")}, None, "guidance_scale"),
    ("STG scale negative", {"STG_SCALE": (np.array([-1.0], np.float32), "FP32")}, None, "stg_scale"),
    ("rescale above 1", {}, {"guidance_rescale": 2.0}, "guidance_rescale"),
    ("skip step negative", {"SKIP_STEP": int32(-1)}, None, "skip_step"),
    ("fps zero", {}, {"fps": 0}, "fps"),
    ("unknown parameter", {}, {"widht": 64}, "widht"),
    ("field twice", {}, {"width": 64}, "width"),
    ("server-side LoRA per request", {}, {"lora_path": "/etc/passwd"}, "lora_path"),
    ("corrupt image bytes", {"IMAGES": images(b"\x89PNG not really")}, None, "images"),
    ("image with broken pixel data", {"IMAGES": images(BROKEN_PNG)}, None, "images"),
    ("decompression bomb header", {"IMAGES": images(BOMB_PNG)}, None, "images"),
    ("image index out of range", {"IMAGES": images(PNG), "IMAGE_FRAME_INDICES": int32(40)}, None, "image_frame_indices"),
    ("indices for images not sent", {"IMAGE_FRAME_INDICES": int32(0)}, None, "image_frame_indices"),
    ("strengths count mismatch", {"IMAGES": images(PNG, PNG), "IMAGE_STRENGTHS": (np.array([1.0], np.float32), "FP32")}, None, "image_strengths"),
    ("unknown image mode", {"IMAGES": images(PNG), "IMAGE_MODE": text("blend")}, None, "image_mode"),
    ("parameter of the wrong type", {}, {"num_frames": "nine"}, "num_frames"),
    ("audio-to-video without a soundtrack", A2V, None, "audio"),
    ("a soundtrack for a class that takes none", {"AUDIO": soundtrack(WAV)["AUDIO"]}, None, "audio"),
    ("soundtrack not audio", soundtrack(b"RIFF not really a wave file"), None, "audio"),
    ("soundtrack is a PNG", soundtrack(PNG), None, "audio"),
    ("soundtrack truncated", soundtrack(WAV[:200]), None, "audio"),
    ("soundtrack too short", soundtrack(encode_audio_file(tones(0.1, 16000), 16000)), None, "audio"),
    ("soundtrack in 5.1", soundtrack(encode_audio_file(tones(1.0, 48000, channels=6), 48000)), None, "audio"),
    ("soundtrack at an odd rate", soundtrack(encode_audio_file(tones(1.0, 44101), 44101)), None, "audio"),
    ("soundtrack start past its end", {**soundtrack(WAV), "AUDIO_START_TIME": (np.array([5.0], np.float32), "FP32")}, None, "audio"),
    ("soundtrack start negative", {**soundtrack(WAV), "AUDIO_START_TIME": (np.array([-1.0], np.float32), "FP32")}, None, "audio_start_time"),
    ("soundtrack path on the server", A2V, {"audio_path": "/etc/passwd"}, "audio_path"),
    ("retake without a clip", {"WIDTH": None, "HEIGHT": None, "NUM_FRAMES": None, "PIPELINE_CLASS_NAME": text(RETAKE)}, None, "video"),
    ("a clip for a class that takes none", {"VIDEO": retake(CLIP)["VIDEO"]}, None, "video"),
    ("clip not a video", retake(b"\x00\x00\x00\x18ftypmp42 not really"), None, "video"),
    ("clip is a PNG", retake(PNG), None, "video"),
    ("clip is a soundtrack", retake(WAV), None, "video"),
    ("clip truncated", retake(CLIP[:400]), None, "video"),
    ("clip of 10 frames", retake(_clip(frames=10)), None, "video"),
    ("clip 80 pixels wide", retake(_clip(width=80)), None, "video"),
    ("retake window past the clip", retake(CLIP, RETAKE_END=(np.array([5.0], np.float32), "FP32")), None, "retake_end"),
    ("retake window reversed", retake(CLIP, RETAKE_START=(np.array([0.3], np.float32), "FP32"),
                                      RETAKE_END=(np.array([0.1], np.float32), "FP32")), None, "retake_end"),
    ("retake without a window", retake(CLIP, RETAKE_START=None), None, "retake_start"),
    ("retake of nothing", retake(CLIP, RETAKE_VIDEO=(np.array([False]), "BOOL"), RETAKE_AUDIO=(np.array([False]), "BOOL")), None,
     "retake_video"),
    ("retake with a size", retake(CLIP, WIDTH=int32(64)), None, "width"),
    ("clip path on the server", retake(CLIP, VIDEO=None), {"video_path": "/etc/hostname"}, "video_path"),
]


@pytest.mark.parametrize("name,changes,parameters,field", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_is_invalid_argument_naming_the_field(server, name, changes, parameters, field):
    arrays = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
    result, error = grpc_unary(server.grpc_url, arrays, parameters)
    assert result is None
    status, message = error
    assert status == "StatusCode.INVALID_ARGUMENT", (status, message)
    assert field in message, message
    _, http_error = http_unary(server.http_url, arrays, parameters)
    assert http_error[0] == "400" and field in http_error[1], http_error


def test_server_keeps_serving_after_bad_requests(server):
    """Bad requests of every kind, on both protocols, then a good one: it is served, and every model is ready."""
    for _, changes, parameters, _ in BAD_REQUESTS:
        arrays = {k: v for k, v in {**GOOD, **changes}.items() if v is not None}
        assert grpc_unary(server.grpc_url, arrays, parameters)[1] is not None
        assert http_unary(server.http_url, arrays, parameters)[1] is not None
    result, error = grpc_unary(server.grpc_url, GOOD)
    assert error is None
    assert probe_mp4(result.as_numpy("VIDEO_MP4")[0]).num_frames == 9
    assert server.ready()


def _f32(*shape: int) -> tuple[np.ndarray, str]:
    return np.zeros(shape, np.float32), "FP32"


def _step(meta_changes: dict | None = None, **changes) -> dict:
    """A denoiser step request of the right shapes for the tiny LTX-2 model (video 6 tokens, audio 4), with
    `changes` to its tensors and its STEP_META."""
    import json

    from ltx_backend.sampling.guidance import GuidanceParams
    from ltx_backend.serving.wire import guidance_to_dict

    meta = {"step_index": 0, "stage": 1, "video_guidance": guidance_to_dict(GuidanceParams()),
            "audio_guidance": guidance_to_dict(GuidanceParams()), **(meta_changes or {})}
    arrays = {
        "VIDEO_LATENT": _f32(1, 6, 128), "VIDEO_DENOISE_MASK": _f32(1, 6, 1), "VIDEO_POSITIONS": _f32(1, 3, 6, 2),
        "VIDEO_CLEAN_LATENT": _f32(1, 6, 128), "AUDIO_LATENT": _f32(1, 4, 128), "AUDIO_DENOISE_MASK": _f32(1, 4, 1),
        "AUDIO_POSITIONS": _f32(1, 1, 4, 2), "AUDIO_CLEAN_LATENT": _f32(1, 4, 128), "SIGMA": _f32(1),
        "POSITIVE_VIDEO_CONTEXT": _f32(1, 4, 64), "POSITIVE_AUDIO_CONTEXT": _f32(1, 4, 64),
        "STEP_META": text(json.dumps(meta)),
    }
    return {**arrays, **changes}


COMPONENT_BAD_REQUESTS = [
    # (model, inputs, the input the error must name): a client may call every component model directly
    ("vae_decoder", {"LATENT": (np.zeros((1, 4, 1, 2, 2), np.float32), "FP32")}, "LATENT"),
    ("vae_decoder", {"LATENT": (np.zeros((1, 128, 1, 2, 2), np.float32), "FP32"),
                     "GENERATOR_STATE": (np.zeros(5, np.uint8), "UINT8")}, "GENERATOR_STATE"),
    ("latent_upsampler", {"LATENT": (np.zeros((2, 128, 1, 2, 2), np.float32), "FP32")}, "LATENT"),
    ("audio_decoder", {"LATENT": (np.zeros((2, 8, 4, 16), np.float32), "FP32")}, "LATENT"),
    ("text_encoder", {"PROMPTS": text(b"\xff\xfe")}, "PROMPTS"),
    ("denoiser", {"STEP_META": text("not json")}, "STEP_META"),
    ("denoiser", {"STEP_META": text('{"step_index": 0}')}, "inputs"),
    ("denoiser", {"STEP_META": text('{"prepare_stage": 3, "pipeline_class_name": "LTX2Pipeline"}')}, "pipeline_class_name"),
    ("denoiser", {"STEP_META": text('{"prepare_stage": "1"}')}, "STEP_META.prepare_stage"),
    # what a probe of the served model found answered INTERNAL (#18): each is the caller's mistake, named
    ("denoiser", {"STEP_META": text("[]")}, "STEP_META"),
    ("denoiser", {"STEP_META": text(b"\xff{")}, "STEP_META"),
    ("denoiser", _step(VIDEO_LATENT=_f32(1, 6, 7)), "VIDEO_LATENT"),
    ("denoiser", _step(VIDEO_POSITIONS=_f32(1, 3, 5, 2)), "VIDEO_POSITIONS"),
    ("denoiser", _step(AUDIO_LATENT=_f32(2, 4, 128)), "AUDIO_LATENT"),
    ("denoiser", _step(POSITIVE_VIDEO_CONTEXT=_f32(1, 4, 5)), "POSITIVE_VIDEO_CONTEXT"),
    ("denoiser", _step(SIGMA=(np.array([np.nan], np.float32), "FP32")), "SIGMA"),
    ("denoiser", _step(meta_changes={"has_previous": True}), "PREVIOUS_VIDEO_X0"),
    ("denoiser", _step(NEGATIVE_VIDEO_CONTEXT=_f32(1, 4, 64)), "NEGATIVE_AUDIO_CONTEXT"),
    ("denoiser", _step(SIGMA=_f32(2)), "SIGMA"),
    ("denoiser", _step(VIDEO_LATENT=_f32(2, 6, 128)), "VIDEO_LATENT"),
    ("denoiser", _step(POSITIVE_VIDEO_CONTEXT=_f32(1, 2000, 64)), "POSITIVE_VIDEO_CONTEXT"),
    ("denoiser", _step(meta_changes={"pipeline_class_name": 5}), "STEP_META.pipeline_class_name"),
    ("vae_decoder", {"LATENT": (np.zeros((1, 128, 1, 2, 2), np.float32), "FP32"),
                     "GENERATOR_STATE": (np.zeros(10, np.uint8), "UINT8")}, "GENERATOR_STATE"),
    ("audio_decoder", {"LATENT": (np.zeros((1, 1, 1, 1), np.float32), "FP32")}, "LATENT"),
]


@pytest.mark.parametrize("model,arrays,field", COMPONENT_BAD_REQUESTS, ids=[f"{m}-{f}" for m, _, f in COMPONENT_BAD_REQUESTS])
def test_component_model_bad_input_is_invalid_argument_naming_it(server, model, arrays, field):
    """Only InvalidRequest is the caller's error (INVALID_ARGUMENT); the component names the input."""
    result, error = grpc_unary(server.grpc_url, arrays, model=model)
    assert result is None
    status, message = error
    assert status == "StatusCode.INVALID_ARGUMENT", (status, message)
    assert f"invalid {field}=" in message, message
    assert server.ready()


def test_streaming_error_names_the_field(server):
    with pytest.raises(RemoteError, match="invalid num_frames=10") as error:
        generate_grpc(server.grpc_url, GenerationRequest(**{**SMALL, "num_frames": 10}), timeout=600)
    assert error.value.status == "StatusCode.INVALID_ARGUMENT"  # a message in the stream, its status read from it


def test_a_stream_error_leaves_the_stream_open_even_when_the_client_asks_triton_grpc_error(server):
    """`triton_grpc_error: true` makes tritonserver 2.51 end the stream at an error with its status, and such
    refusals beside generations segfaulted it (once in ~350 refused and ~350 good requests, twice reproduced): the
    proxy drops the header, so the error is a message and the stream takes the next request."""
    from serving import grpc_inputs

    results: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(server.grpc_url)
    client.start_stream(callback=lambda result, error: results.put((result, error)), headers={"triton_grpc_error": "true"})
    try:
        client.async_stream_infer("pipeline", grpc_inputs({**GOOD, "NUM_FRAMES": int32(10)}))
        result, error = results.get(timeout=600)
        assert result is None and "invalid num_frames=10" in error.message() and error.status() is None, error
        client.async_stream_infer("pipeline", grpc_inputs({**GOOD, "NUM_INFERENCE_STEPS": int32(1)}))
        while (answer := results.get(timeout=600))[0] is not None and answer[0].as_numpy("VIDEO_MP4") is None:
            pass  # progress
        assert answer[1] is None and probe_mp4(answer[0].as_numpy("VIDEO_MP4")[0]).num_frames == 9, answer[1]
    finally:
        client.stop_stream(cancel_requests=False)
        client.close()


def _log(server) -> str:
    return Path(server.log_path).read_text(errors="replace")


def test_cancelled_request_stops_denoising_and_the_next_succeeds(server):
    cancelled_before = _log(server).count("request cancelled")
    seen = []
    cancel = threading.Event()
    client = grpcclient.InferenceServerClient(server.grpc_url)

    def callback(result, error):
        if error is None and result.as_numpy("PROGRESS") is not None:
            seen.append(tuple(result.as_numpy("PROGRESS")))
            if len(seen) == 2:
                cancel.set()

    arrays = {**GOOD, "NUM_INFERENCE_STEPS": int32(60)}
    from serving import grpc_inputs

    client.start_stream(callback=callback)
    client.async_stream_infer("pipeline", grpc_inputs(arrays))
    assert cancel.wait(300), "no progress"
    client.stop_stream(cancel_requests=True)
    client.close()
    deadline = time.monotonic() + 120
    while _log(server).count("request cancelled") == cancelled_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _log(server).count("request cancelled") == cancelled_before + 1
    assert len(seen) < 60
    # the unary model's gRPC cancellation ends with CANCELLED on the client
    client = grpcclient.InferenceServerClient(server.grpc_url)
    outcome = []
    arrays = {**GOOD, "NUM_INFERENCE_STEPS": int32(200)}
    context = client.async_infer("pipeline_unary", grpc_inputs(arrays), callback=lambda result, error: outcome.append(error))
    time.sleep(1.0)
    context.cancel()
    deadline = time.monotonic() + 60
    while not outcome and time.monotonic() < deadline:
        time.sleep(0.1)
    assert outcome and outcome[0] is not None and "CANCELLED" in str(outcome[0].status())  # the client's view
    client.close()
    deadline = time.monotonic() + 120
    while _log(server).count("request cancelled") == cancelled_before + 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _log(server).count("request cancelled") == cancelled_before + 2  # the server stopped it too
    result = generate_grpc(server.grpc_url, GenerationRequest(**SMALL), timeout=600)
    assert probe_mp4(result.mp4).num_frames == 9


def test_concurrent_clients_all_complete_without_memory_growth(server):
    request = GenerationRequest(**{**SMALL, "num_inference_steps": 2})
    generate_grpc(server.grpc_url, request, timeout=600)
    after_first = server.resident_bytes()

    def client(index: int) -> list[int]:
        frames = []
        for i in range(5):
            result = generate_grpc(server.grpc_url, GenerationRequest(**{**SMALL, "num_inference_steps": 2, "seed": index * 5 + i}), timeout=1200)
            frames.append(probe_mp4(result.mp4).num_frames)
        return frames

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(client, range(8)))
    assert results == [[9] * 5] * 8
    after_all = server.resident_bytes()
    assert after_all <= after_first * 1.05, (after_first / 2**20, after_all / 2**20)


def test_bench_runs_perf_analyzer_and_prints_a_table(server, capsys, tmp_path):
    from ltx_client.cli import main

    code = main(["bench", "--url", server.grpc_url,
                 "--width", "64", "--height", "64", "--num-frames", "9", "--num-inference-steps", "2", "--requests", "1",
                 "--model-version", "2", "--keep", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| model") and "---" not in line]
    assert [r.split("|")[1].strip() for r in rows] == [
        "pipeline", "pipeline_unary", "text_encoder", "denoiser", "vae_encoder", "latent_upsampler", "vae_decoder", "audio_decoder"]
    for row in rows:
        throughput = float(row.split("|")[3])
        assert throughput > 0
    # --keep: each model's input data and the command, to run again by hand
    (command,) = [line.strip() for line in err.splitlines() if "perf_analyzer -m vae_decoder " in line]
    assert command.startswith("LD_LIBRARY_PATH=") and f"--input-data {tmp_path / 'vae_decoder.json'}" in command
    again = subprocess.run(["bash", "-c", command.replace(str(tmp_path / "vae_decoder.csv"), str(tmp_path / "again.csv"))],
                           capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and (tmp_path / "again.csv").exists(), again.stdout[-2000:] + again.stderr[-2000:]


def test_http_generate_stream_sends_progress_events_then_base64_mp4(server):
    import base64
    import json
    import urllib.request

    body = {"PROMPT": "a fox", "WIDTH": 64, "HEIGHT": 64, "NUM_FRAMES": 9, "NUM_INFERENCE_STEPS": 3, "MP4_BASE64": True}
    request = urllib.request.Request(f"http://{server.http_url}/v2/models/pipeline/generate_stream", data=json.dumps(body).encode())
    events = []
    with urllib.request.urlopen(request, timeout=600) as response:
        for line in response:
            if line.startswith(b"data: "):
                events.append(json.loads(line[6:]))
    assert [e["PROGRESS"] for e in events[:-1]] == [[1, 1, 3], [1, 2, 3], [1, 3, 3]]
    mp4 = base64.b64decode(events[-1]["VIDEO_MP4_BASE64"])
    assert probe_mp4(mp4).num_frames == 9


def test_http_generate_stream_without_mp4_base64_sends_valid_json_and_refuses_raw_bytes(server):
    """SSE is JSON: left out, MP4_BASE64 is true there (the raw MP4 made the final event invalid JSON, #18);
    asked false, the request is refused naming the field."""
    import base64
    import json
    import urllib.error
    import urllib.request

    url = f"http://{server.http_url}/v2/models/pipeline/generate_stream"
    body = {"PROMPT": "a fox", "WIDTH": 64, "HEIGHT": 64, "NUM_FRAMES": 9, "NUM_INFERENCE_STEPS": 2}
    with urllib.request.urlopen(urllib.request.Request(url, data=json.dumps(body).encode()), timeout=600) as response:
        events = [json.loads(line[6:]) for line in response if line.startswith(b"data: ")]
    assert probe_mp4(base64.b64decode(events[-1]["VIDEO_MP4_BASE64"])).num_frames == 9
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=json.dumps({**body, "MP4_BASE64": False}).encode()), timeout=600) as response:
            answer = response.read().decode()
    except urllib.error.HTTPError as error:
        answer = error.read().decode()
    assert "invalid mp4_base64=False: true (or left out) on the HTTP generate endpoints" in answer, answer
    # the unary model's generate endpoint is JSON too
    unary = urllib.request.Request(f"http://{server.http_url}/v2/models/pipeline_unary/generate", data=json.dumps(body).encode())
    with urllib.request.urlopen(unary, timeout=600) as response:
        answer = json.loads(response.read())
    assert probe_mp4(base64.b64decode(answer["VIDEO_MP4_BASE64"])).num_frames == 9
    # over gRPC the same request (no MP4_BASE64) streams the raw bytes
    import queue

    from ltx_client.remote import request_arrays
    from serving import grpc_inputs

    arrays = request_arrays(GenerationRequest(prompt="a fox", width=64, height=64, num_frames=9, num_inference_steps=2), False)
    typed = {name: (array, "BYTES" if array.dtype == object else grpcclient.np_to_triton_dtype(array.dtype)) for name, array in arrays.items()}
    results: queue.Queue = queue.Queue()
    client = grpcclient.InferenceServerClient(server.grpc_url)
    client.start_stream(callback=lambda result, error: results.put((result, error)))
    client.async_stream_infer("pipeline", grpc_inputs(typed))
    while True:
        result, error = results.get(timeout=600)
        assert error is None, error
        if result.as_numpy("PROGRESS") is None:
            break
    client.stop_stream()
    client.close()
    assert result.as_numpy("VIDEO_MP4_BASE64") is None
    assert probe_mp4(result.as_numpy("VIDEO_MP4")[0]).num_frames == 9


def test_a_bad_request_is_answered_while_a_long_generation_runs(server):
    """Validation does not queue behind a generation (#18): with a second pipeline instance a bad request is
    refused while a 120-step request is still denoising, and a second good one runs beside it."""
    long = GenerationRequest(**{**SMALL, "num_inference_steps": 120})
    steps: list[float] = []
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(lambda: (generate_grpc(server.grpc_url, long, on_progress=lambda p: steps.append(time.monotonic()),
                                                     timeout=600), time.monotonic())[1])
        while len(steps) < 3:  # it is denoising
            time.sleep(0.05)
        sent = time.monotonic()
        with pytest.raises(RemoteError, match="invalid num_frames=10") as refused:
            generate_grpc(server.grpc_url, GenerationRequest(**{**SMALL, "num_frames": 10}), timeout=600)
        answered = time.monotonic()
        long_done = running.result()
    assert refused.value.status == "StatusCode.INVALID_ARGUMENT"
    print(f"bad request answered in {answered - sent:.3f} s while a generation ran (it ended {long_done - answered:.1f} s later)")
    assert answered < long_done and len([t for t in steps if t > answered]) > 10


def test_ten_identical_requests_give_byte_identical_mp4s(server):
    """Same request, same seed, same bytes (#18: the H.264 encoder's threads made a third of them differ)."""
    import hashlib

    request = GenerationRequest(**{**SMALL, "num_inference_steps": 2, "seed": 21})
    with ThreadPoolExecutor(2) as pool:  # two at a time, as a loaded server encodes them
        mp4s = list(pool.map(lambda _: generate_grpc(server.grpc_url, request, timeout=600).mp4, range(10)))
    assert len({hashlib.sha256(m).hexdigest() for m in mp4s}) == 1


def metric_values(server) -> tuple[str, Callable[..., float]]:
    """The metrics page now, and the sum of a metric's samples with some labels on it."""
    import urllib.request

    with urllib.request.urlopen(f"http://127.0.0.1:{server.metrics_port}/metrics", timeout=10) as response:
        page = response.read().decode()

    def value(name: str, **labels: str) -> float:
        total = 0.0
        for line in page.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total

    return page, value


def test_metrics_count_generations_by_outcome_and_denoising_steps(server):
    """Each counter moves by exactly what this test's own requests add (whatever ran before on the server)."""
    import re

    counters = {
        "success": ("ltx_generations_total", dict(model="pipeline", pipeline_class="LTX2Pipeline", outcome="success")),
        "invalid": ("ltx_generations_total", dict(model="pipeline_unary", outcome="invalid")),
        "unknown": ("ltx_generations_total", dict(model="pipeline_unary", pipeline_class="unknown", outcome="invalid")),
        "steps": ("ltx_denoise_steps_total", dict(model="pipeline", stage="1")),
        "seconds": ("ltx_generation_seconds_total", dict(model="pipeline")),
    }
    _, before = metric_values(server)
    start = {key: before(name, **labels) for key, (name, labels) in counters.items()}
    generate_grpc(server.grpc_url, GenerationRequest(**{**SMALL, "num_inference_steps": 2}), timeout=600)
    grpc_unary(server.grpc_url, {**GOOD, "WIDTH": int32(65)})
    grpc_unary(server.grpc_url, {**GOOD, "PIPELINE_CLASS_NAME": text("Bogus" + "x" * 300)})
    page, after = metric_values(server)
    delta = {key: after(name, **labels) - start[key] for key, (name, labels) in counters.items()}
    assert (delta["success"], delta["invalid"], delta["unknown"], delta["steps"]) == (1, 2, 1, 2), delta
    assert delta["seconds"] > 0
    assert re.search(r'nv_inference_request_success\{model="denoiser"', page)  # Triton's own per-model metrics
    # an unknown class name is no label value (a metric's labels live as long as the server)
    assert "Bogus" not in page


def test_every_metric_series_exists_before_a_request_moves_it(server):
    """Dashboards see 0, not "no data": each served class's outcomes and stages are there from load on (this
    module's requests never end in an internal error, nor run the two-stage class)."""
    import re

    page, _ = metric_values(server)
    for model in ("pipeline", "pipeline_unary"):
        for labels in ('outcome="error",pipeline_class="LTX2Pipeline"', 'outcome="error",pipeline_class="unknown"',
                       'outcome="cancelled",pipeline_class="LTX2RetakePipeline"'):
            assert re.search(rf'^ltx_generations_total\{{model="{model}",{labels}\}} 0$', page, re.M), (model, labels)
        assert re.search(rf'^ltx_denoise_steps_total\{{model="{model}",pipeline_class="LTX2TwoStagePipeline",stage="2"\}} 0$', page, re.M)
        assert re.search(rf'^ltx_generation_seconds_total\{{model="{model}",pipeline_class="LTX2TwoStageHQPipeline"\}} 0$', page, re.M)


def test_a_body_over_the_limit_is_refused_before_tritonserver_reads_it(server):
    """#18 (2): a 200 MB prompt grew tritonserver 2.51 by ~280 MB until a restart. The front proxies refuse it, as a
    declared length, as a chunked body and as a small gzip body that decodes past the limit (HTTP 413), and as one
    gRPC message (RESOURCE_EXHAUSTED); tritonserver's memory stays where it was and it keeps serving."""
    import gzip
    import http.client
    import json
    import re

    generate_grpc(server.grpc_url, GenerationRequest(**SMALL), timeout=600)
    before = server.resident_bytes()
    prompt = np.array([b"x" * 200_000_000], dtype=object)
    _, error = http_unary(server.http_url, {"PROMPT": (prompt, "BYTES")})
    assert error is not None and "over the limit of" in error[1] and "--max-request-bytes" in error[1], error
    _, error = grpc_unary(server.grpc_url, {"PROMPT": (prompt, "BYTES")})
    assert error[0] == "StatusCode.RESOURCE_EXHAUSTED", error
    sent, limit = re.search(r"Received message larger than max \((\d+) vs\. (\d+)\)", error[1]).groups()
    assert int(sent) > 200_000_000 and int(limit) == MAX_REQUEST_BYTES
    with pytest.raises(RemoteError, match=r"larger than max .* \(the largest request the server takes: ltx-triton serve --max-request-bytes\)"):
        generate_grpc(server.grpc_url, GenerationRequest(prompt="a fox", images=(b"x" * (MAX_REQUEST_BYTES + 1),)), timeout=600)

    def post(body_parts, headers) -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(*server.http_url.split(":"), timeout=120)
        try:
            connection.request("POST", "/v2/models/pipeline_unary/infer", body=body_parts, headers=headers, encode_chunked=True)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()

    chunk = b" " * 2**20
    status, body = post(iter([chunk] * (MAX_REQUEST_BYTES // len(chunk) + 1)), {"Content-Type": "application/json"})  # no length
    assert status == 413 and b"over the limit" in body, (status, body)
    bomb = gzip.compress(b" " * (MAX_REQUEST_BYTES + 1))
    assert len(bomb) < 2**20
    status, body = post(iter([bomb]), {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert status == 413 and b"over the limit" in body, (status, body)
    status, body = post(iter([b"{}"]), {"Content-Encoding": "br"})
    assert status == 415 and b"Content-Encoding 'br'" in body, (status, body)
    # a compressed request under the limit is decoded and served
    request = {"inputs": [{"name": "PROMPT", "datatype": "BYTES", "shape": [1], "data": ["a fox"]},
                          {"name": "WIDTH", "datatype": "INT32", "shape": [1], "data": [64]},
                          {"name": "HEIGHT", "datatype": "INT32", "shape": [1], "data": [64]},
                          {"name": "NUM_FRAMES", "datatype": "INT32", "shape": [1], "data": [9]},
                          {"name": "NUM_INFERENCE_STEPS", "datatype": "INT32", "shape": [1], "data": [1]}],
               "outputs": [{"name": "VIDEO_MP4", "parameters": {"binary_data": True}}]}
    status, body = post(iter([gzip.compress(json.dumps(request).encode())]), {"Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert status == 200, (status, body[:300])
    assert server.resident_bytes() < before + 50 * 2**20, ((server.resident_bytes() - before) / 2**20)
    assert generate_grpc(server.grpc_url, GenerationRequest(**SMALL), timeout=600).mp4


def _post(server, path: str, body: bytes, headers: dict | None = None) -> tuple[int, bytes]:
    import http.client

    connection = http.client.HTTPConnection(*server.http_url.split(":"), timeout=120)
    try:
        connection.request("POST", path, body=body, headers=headers or {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


PROMPT_JSON = {"name": "PROMPT", "datatype": "BYTES", "shape": [1], "data": ["a fox"]}


@pytest.mark.parametrize("path, body, field", [
    ("pipeline_unary/infer", b"hello", "request body"),
    ("pipeline_unary/infer", b"[" * 200_000 + b"]" * 200_000, "request body"),  # segfaulted tritonserver 2.51
    ("pipeline_unary/infer", {"inputs": [PROMPT_JSON], "parameters": [1, 2]}, "parameters"),
    ("pipeline_unary/infer", {"inputs": [PROMPT_JSON, {"name": "GUIDANCE_SCALE", "datatype": "FP32", "shape": [1], "data": ["NaN"]}]},
     "GUIDANCE_SCALE.data"),
    ("pipeline_unary/infer", {"inputs": [PROMPT_JSON, {"name": "SEED", "datatype": "INT64", "shape": [1], "data": [2**64]}]}, "SEED.data"),
    ("pipeline/generate_stream", {"PROMPT": "a fox", "WIDTH": "abc"}, "WIDTH"),
    ("pipeline_unary/generate", {"PROMPT": "a fox", "SEED": 2**64}, "SEED"),
    ("pipeline_unary/infer", {"inputs": [PROMPT_JSON, {"name": "WIDTH", "datatype": "INT32", "shape": [1], "data": [64, 64]}]}, "WIDTH.data"),
    ("pipeline_unary/infer", {"inputs": [PROMPT_JSON], "outputs": [{"name": "VIDEO_MP4"}]}, "VIDEO_MP4.parameters.binary_data"),  # 200, not JSON
])
def test_malformed_http_json_is_400_naming_the_field_not_500(server, path, body, field):
    """#18 (4): tritonserver 2.51's HTTP front end answered these 500 (the nested body crashed it); the front proxy
    answers 400 naming the field, and the server keeps serving."""
    import json

    status, answer = _post(server, f"/v2/models/{path}", body if isinstance(body, bytes) else json.dumps(body).encode())
    assert status == 400, (status, answer[:300])
    assert json.loads(answer)["error"].startswith(f"invalid {field}="), answer[:300]
    assert server.ready()


def test_a_json_only_infer_request_gets_valid_json_with_the_mp4_in_base64(server):
    """A KServe v2 JSON request that asks nothing of the outputs: tritonserver would write the MP4's raw bytes into
    its JSON answer (invalid UTF-8); through the front proxy the answer is valid JSON, the MP4 in base64."""
    import base64
    import json

    body = {"parameters": {"width": 64, "height": 64, "num_frames": 9, "num_inference_steps": 2, "seed": 4}, "inputs": [PROMPT_JSON]}
    status, answer = _post(server, "/v2/models/pipeline_unary/infer", json.dumps(body).encode())
    assert status == 200, answer[:300]
    outputs = {o["name"]: o for o in json.loads(answer)["outputs"]}
    assert "VIDEO_MP4" not in outputs and outputs["SEED"]["data"] == [4]
    mp4 = base64.b64decode(outputs["VIDEO_MP4_BASE64"]["data"][0])
    assert probe_mp4(mp4).num_frames == 9
    # the same with the prompt as binary data: the proxy rewrites the JSON header and its length
    prompt = b"a fox"
    header = json.dumps({**body, "inputs": [{**PROMPT_JSON, "parameters": {"binary_data_size": 4 + len(prompt)}}]}).encode()
    header = header.replace(b', "data": ["a fox"]', b"")
    status, answer = _post(server, "/v2/models/pipeline_unary/infer", header + len(prompt).to_bytes(4, "little") + prompt,
                           {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(header))})
    assert status == 200, answer[:300]
    outputs = {o["name"]: o for o in json.loads(answer)["outputs"]}
    assert outputs["SEED"]["data"] == [4]  # (the MP4's bytes may differ from the first's: media.py encode_mp4)
    assert probe_mp4(base64.b64decode(outputs["VIDEO_MP4_BASE64"]["data"][0])).num_frames == 9


@pytest.mark.parametrize("endpoint", ["infer", "generate"])
def test_an_http_unary_client_that_disconnects_stops_its_generation(server, endpoint):
    """#18 (6): tritonserver 2.51 ran an HTTP /infer (or /generate) request to its end after its client went away;
    through serve's front proxy the request stops at its next step, and the next request is served."""
    import json
    import socket

    cancelled_before = _log(server).count("request cancelled")
    _, metrics = metric_values(server)
    steps_before = metrics("ltx_denoise_steps_total", model="pipeline_unary")
    fields = {"PROMPT": "a fox", "WIDTH": 128, "HEIGHT": 128, "NUM_FRAMES": 17, "NUM_INFERENCE_STEPS": 200}
    if endpoint == "infer":
        types = {"PROMPT": "BYTES"}
        body = {"inputs": [{"name": k, "datatype": types.get(k, "INT32"), "shape": [1], "data": [v]} for k, v in fields.items()]}
    else:
        body = fields
    data = json.dumps(body).encode()
    host, port = server.http_url.split(":")
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(f"POST /v2/models/pipeline_unary/{endpoint} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                           f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
        deadline = time.monotonic() + 120
        while metric_values(server)[1]("ltx_denoise_steps_total", model="pipeline_unary") == steps_before:  # not denoising yet
            assert time.monotonic() < deadline, "the request never started denoising"
            time.sleep(0.01)
    # the client is gone a step or so into 200 (a CPU may run them in 2 s): the request must stop, not finish
    deadline = time.monotonic() + 60
    while _log(server).count("request cancelled") == cancelled_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _log(server).count("request cancelled") == cancelled_before + 1
    assert not list(server.disconnects.iterdir()), "the disconnect mark is removed once seen"
    assert generate_http(server.http_url, GenerationRequest(**SMALL)).mp4


def test_an_image_sent_as_base64_through_json_conditions_as_its_bytes_do(server):
    """JSON cannot carry an image's raw bytes: /generate (and JSON /infer) take them as base64, alone or in a data
    URI, and make the video the raw bytes over gRPC make."""
    import base64
    import io
    import json

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 64), (220, 40, 30)).save(out, format="PNG")
    png = out.getvalue()
    fields = dict(prompt="a fox", width=64, height=64, num_frames=9, num_inference_steps=2, seed=8)
    body = {"PROMPT": "a fox", "WIDTH": 64, "HEIGHT": 64, "NUM_FRAMES": 9, "NUM_INFERENCE_STEPS": 2, "SEED": 8, "RETURN_RAW": True,
            "IMAGES": "data:image/png;base64," + base64.b64encode(png).decode()}
    status, answer = _post(server, "/v2/models/pipeline_unary/generate", json.dumps(body).encode())
    assert status == 200, answer[:300]
    frames = np.array(json.loads(answer)["FRAMES"], dtype=np.uint8).reshape(9, 64, 64, 3)
    with_image = generate_grpc(server.grpc_url, GenerationRequest(**fields, images=(png,)), return_raw=True, timeout=600)
    without = generate_grpc(server.grpc_url, GenerationRequest(**fields), return_raw=True, timeout=600)
    np.testing.assert_array_equal(frames, with_image.frames)
    assert np.abs(frames.astype(int) - without.frames).mean() > 1  # the image moved the video
