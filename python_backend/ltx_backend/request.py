"""GenerationRequest (one generation) and LoadOptions (what a loaded pipeline or a server is started with):
their fields and validation.

Every transport (`ltx-triton generate`, the Triton `pipeline` model) builds a GenerationRequest and calls
`resolve()` once, before any model work; the defaults it fills in are the pipeline class's
(pipelines/<class>.py SPEC). A bad value raises InvalidRequest naming the field, the value and what is
allowed; nothing else in the engine re-validates user input.
"""
from __future__ import annotations

import math
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ltx_backend.conditioning.images import DEFAULT_IMAGE_CRF, IMAGE_MODES
from ltx_backend.errors import InvalidRequest, check_bool, check_float, check_int, is_integer, utf8
from ltx_backend.loading.quantization import QUANTIZATIONS
from ltx_backend.media import image_formats
from ltx_backend.pipelines.control_videos import attention_mask_source, check_mask_frames
from ltx_backend.pipelines.registry import AUDIO_TO_VIDEO, DISTILLED_RETAKE, IC_LORA, ONE_STAGE, PIPELINE_CLASSES, RETAKE, spec_of
from ltx_backend.pipelines.spec import PipelineSpec

# The reference's default negative prompt (ltx_pipelines.utils.constants.DEFAULT_NEGATIVE_PROMPT).
DEFAULT_NEGATIVE_PROMPT = (
    "blurry, out of focus, overexposed, underexposed, low contrast, washed out colors, excessive noise, "
    "grainy texture, poor lighting, flickering, motion blur, distorted proportions, unnatural skin tones, "
    "deformed facial features, asymmetrical face, missing facial features, extra limbs, disfigured hands, "
    "wrong hand count, artifacts around text, inconsistent perspective, camera shake, incorrect depth of "
    "field, background too sharp, background clutter, distracting reflections, harsh shadows, inconsistent "
    "lighting direction, color banding, cartoonish rendering, 3D CGI look, unrealistic materials, uncanny "
    "valley effect, incorrect ethnicity, wrong gender, exaggerated expressions, wrong gaze direction, "
    "mismatched lip sync, silent or muted audio, distorted voice, robotic voice, echo, background noise, "
    "off-sync audio, incorrect dialogue, added dialogue, repetitive speech, jittery movement, awkward "
    "pauses, incorrect timing, unnatural transitions, inconsistent framing, tilted camera, flat lighting, "
    "inconsistent tone, cinematic oversaturation, stylized filters, or AI artifacts."
)

# Bounds. 481 frames is 20 s at 24 fps, the longest clip LTX-2 is published for; sizes up to 4K.
MAX_SIDE = 3840
MAX_FRAMES = 481
MAX_PIXELS_PER_FRAME = 3840 * 2176
MAX_STEPS = 200
MAX_PROMPT_CHARS = 20_000
MAX_SEED = 2**63 - 1
RANDOM_SEED = -1  # seed -1: a random seed, drawn when the request is resolved (ltx-pipelines' retake convention)
MAX_IMAGES = 16  # conditioning images per request (each adds a latent frame's worth of tokens)
MAX_MEDIA_BYTES = 64 * 2**20  # encoded images and soundtrack of a request, all together
MAX_IMAGE_SIDE = 16384  # libx264's largest frame side (the H.264 round trip encodes the image at its own size)
# An image is resized to cover the frame, then cropped: the resized image may have at most this many pixels
# (~400 MB in float32), which bounds how far its aspect ratio may be from the video's (2x16384 onto 64x64
# would be 64x524288; 2x4096 onto 768x512, 512x1048576: 6 GiB).
MAX_IMAGE_COVER_PIXELS = 4 * MAX_PIXELS_PER_FRAME
# Bounds on the work, for the real model on one 80 GB GPU (issue #18): the clip's length (audio seconds and the
# audio decoder's memory follow it, whatever the frame count); the transformer's tokens, video and keyframe
# images together (4K x 121 frames: 16 x 68 x 120 latent tokens; 1920x1088 x 481 frames fits as well); and the
# decoded pixels of all conditioning images (each may be up to 4x a 4K frame, not all sixteen).
MAX_SECONDS = 20.5  # 481 frames at 24 fps is 20.04 s
MAX_VIDEO_TOKENS = ((121 - 1) // 8 + 1) * MAX_PIXELS_PER_FRAME // (32 * 32)
MAX_IMAGE_PIXELS_TOTAL = MAX_IMAGE_COVER_PIXELS  # as many as one image may be resized to
# The largest request body a server takes (`serve --max-request-bytes`, checked before any field is read): the
# media plus 1 MiB for the prompts (2 x 20,000 characters of up to 4 bytes), the other fields and the framing.
MAX_REQUEST_BYTES = MAX_MEDIA_BYTES + 2**20
MAX_AUDIO_START_SECONDS = 24 * 3600.0  # audio_start_time: within a day-long recording
MAX_CONTROL_VIDEOS = 4  # control videos of an IC-LoRA request (each adds up to stage 1's tokens)
AUDIO_LATENTS_PER_SECOND = 25  # latents/shapes.py: 16 kHz mel frames, hop 160, 4x downsampled 


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. None means "the model's default" until resolve() fills it in."""

    prompt: str
    negative_prompt: str | None = None
    # Gemma 3 rewrites the prompt first (ltx-pipelines' --enhance-prompt: its system prompts, the first image for
    # image-to-video, sampling seeded); the rewrite is what is encoded, and is returned with the video.
    enhance_prompt: bool = False
    pipeline_class_name: str = ONE_STAGE
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    # The other guidance terms, for the video and audio streams alike (ltx-pipelines' --video-/--audio-
    # stg-guidance-scale, --a2v-/--v2a-guidance-scale, --video-/--audio-rescale-scale). None keeps the
    # pipeline's defaults (they differ per stream and for HQ), and stays None after resolve(). Each term
    # that is off costs no transformer pass: stg_scale 0 drops the STG pass, modality_scale 1 the
    # modality-isolation pass (guidance_scale 1 the negative-prompt pass, where the audio CFG is 1 too).
    stg_scale: float | None = None
    modality_scale: float | None = None
    guidance_rescale: float | None = None
    # ltx-pipelines' --video-/--audio-skip-step, both streams: the transformer runs on every (N + 1)-th
    # stage-1 step only; the steps between reuse its last guided prediction (None / 0: every step).
    skip_step: int | None = None
    fps: float | None = None
    # Conditioning images: paths (generate) or encoded bytes (served requests), not both. Each goes to a
    # pixel frame (default: one image -> frame 0; two -> first and last frame; more need indices) with a
    # strength in [0, 1] (default 1.0: kept exactly). image_crf: the H.264 round trip before encoding
    # (0: none). image_mode "combined": frame 0 replaces the first latent frame, other frames are keyframe
    # tokens (ltx-pipelines' ti2vid pipelines); "keyframes": every image is keyframe tokens (its
    # KeyframeInterpolationPipeline).
    image_paths: tuple[str, ...] = ()
    images: tuple[bytes, ...] = field(default=(), repr=False)  # encoded image bytes (served requests)
    image_frame_indices: tuple[int, ...] | None = None
    image_strengths: tuple[float, ...] | None = None
    image_crf: int = DEFAULT_IMAGE_CRF
    image_mode: str = "combined"
    # The soundtrack the audio-to-video class makes a video for: a path (generate) or encoded bytes (served
    # requests), not both; WAV, MP3, FLAC, OGG, M4A or a video's audio track, read from audio_start_time
    # (seconds) for audio_max_duration seconds (None: as long as the video).
    audio_path: str | None = None
    audio: bytes | None = field(default=None, repr=False)
    audio_start_time: float = 0.0
    audio_max_duration: float | None = None
    # The clip the retake classes edit: a path (generate) or encoded bytes (served requests), not both; its size,
    # frame count and fps are the video's. [retake_start, retake_end) seconds are regenerated, in the video where
    # retake_video and in the audio where retake_audio (off: that stream is kept whole).
    video_path: str | None = None
    video: bytes | None = field(default=None, repr=False)
    retake_start: float | None = None
    retake_end: float | None = None
    retake_video: bool = True
    retake_audio: bool = True
    # The IC-LoRA class's control videos (depth, pose, edges, ...): paths (generate) or encoded bytes (served
    # requests), not both; each read for the clip's first num_frames frames, with a strength in [0, 1] (default 1.0).
    video_conditioning_paths: tuple[str, ...] = ()
    video_conditioning: tuple[bytes, ...] = field(default=(), repr=False)
    video_conditioning_strengths: tuple[float, ...] | None = None
    # How strongly the control videos' tokens and the generated ones attend to each other, in [0, 1] (ltx-pipelines'
    # conditioning_attention_strength; 1: fully).
    conditioning_attention_strength: float = 1.0
    # A grayscale mask video weighing that attention by region and time (ltx-pipelines' --conditioning-attention-mask):
    # a path (generate) or encoded bytes (served requests), not both; its brightness in [0, 1], times
    # conditioning_attention_strength, read for its first num_frames frames at stage 1's size.
    conditioning_attention_mask_path: str | None = None
    conditioning_attention_mask: bytes | None = field(default=None, repr=False)
    # The IC-LoRA class: stop after stage 1 and decode its half-size video (ltx-pipelines' --skip-stage-2).
    skip_stage_2: bool = False

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def resolve(self, model_version: str) -> GenerationRequest:
        """Validate every field and fill the model's defaults. Raises InvalidRequest."""
        _check_str("pipeline_class_name", self.pipeline_class_name)
        if self.pipeline_class_name not in PIPELINE_CLASSES:
            raise InvalidRequest("pipeline_class_name", self.pipeline_class_name, f"one of {', '.join(PIPELINE_CLASSES)}")
        spec = spec_of(self.pipeline_class_name)
        check_runs_on(spec, model_version)
        self = _take_source_clip(self, spec)
        if spec.distilled:
            for name in FIXED_BY_DISTILLATION:
                if getattr(self, name) is not None:
                    raise InvalidRequest(name, getattr(self, name), f"left out with {spec.name}: the distilled model runs its fixed "
                                         "schedule (8 steps, then 3 at full size), one unguided pass on the prompt per step")
        d = spec.defaults[model_version]
        r = replace(
            self,
            negative_prompt=(DEFAULT_NEGATIVE_PROMPT if d.negative_prompt is None else d.negative_prompt)
            if self.negative_prompt is None else self.negative_prompt,
            seed=d.seed if self.seed is None else self.seed,
            width=d.width if self.width is None else self.width,
            height=d.height if self.height is None else self.height,
            num_frames=d.num_frames if self.num_frames is None else self.num_frames,
            num_inference_steps=d.num_inference_steps if self.num_inference_steps is None else self.num_inference_steps,
            guidance_scale=d.guidance_scale if self.guidance_scale is None else self.guidance_scale,
            fps=d.fps if self.fps is None else self.fps,
        )
        r = replace(r, enhance_prompt=check_bool("enhance_prompt", r.enhance_prompt), skip_stage_2=check_bool("skip_stage_2", r.skip_stage_2))
        if r.skip_stage_2 and not spec.stage_2_optional:
            raise InvalidRequest("skip_stage_2", True, f"false except with {IC_LORA} (ltx-pipelines' ICLoraPipeline --skip-stage-2)")
        _check_str("prompt", r.prompt)
        if not r.prompt.strip():
            raise InvalidRequest("prompt", r.prompt, "a non-empty text")
        if len(r.prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest("prompt", f"<{len(r.prompt)} characters>", f"at most {MAX_PROMPT_CHARS} characters")
        _check_str("negative_prompt", r.negative_prompt)
        if len(r.negative_prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest("negative_prompt", f"<{len(r.negative_prompt)} characters>", f"at most {MAX_PROMPT_CHARS} characters")
        if is_integer(r.seed) and r.seed == RANDOM_SEED:
            r = replace(r, seed=random_seed())
        check_int("seed", r.seed, 0, MAX_SEED, f"an integer between 0 and {MAX_SEED}, or {RANDOM_SEED} for a random seed")
        multiple = spec.size_multiple
        for name in ("width", "height"):
            value = getattr(r, name)
            check_int(name, value, multiple, MAX_SIDE)
            if value % multiple:
                why = " (two-stage pipelines: stage 1 runs at half size)" if spec.two_stage else ""
                raise InvalidRequest(name, value, f"a multiple of {multiple} between {multiple} and {MAX_SIDE}{why}")
        if r.width * r.height > MAX_PIXELS_PER_FRAME:
            raise InvalidRequest("width", r.width, f"width*height at most {MAX_PIXELS_PER_FRAME} (got {r.width}x{r.height})")
        check_int("num_frames", r.num_frames, 1, MAX_FRAMES)
        if (r.num_frames - 1) % 8:
            raise InvalidRequest("num_frames", r.num_frames, f"8k+1 frames (1, 9, 17, ..., 121, ..., {MAX_FRAMES})")
        check_int("num_inference_steps", r.num_inference_steps, 1, MAX_STEPS)
        check_float("guidance_scale", r.guidance_scale, 0.0, 50.0)
        for name, hi in (("stg_scale", 50.0), ("modality_scale", 50.0), ("guidance_rescale", 1.0)):
            if getattr(r, name) is not None:
                check_float(name, getattr(r, name), 0.0, hi)
        if r.skip_step is not None:
            check_int("skip_step", r.skip_step, 0, MAX_STEPS)
        if not spec.has_stg and r.stg_scale not in (None, 0):
            raise InvalidRequest("stg_scale", r.stg_scale, f"0 with {spec.name} (its STG perturbs no block)")
        check_float("fps", r.fps, 1.0, 120.0)
        if round(r.num_frames / r.fps * AUDIO_LATENTS_PER_SECOND) < 1:  # as AudioLatentShape.from_duration
            raise InvalidRequest(
                "fps", r.fps, f"below {2 * AUDIO_LATENTS_PER_SECOND * r.num_frames:g} for {r.num_frames} frame(s): the audio "
                f"needs at least one latent frame (1/{AUDIO_LATENTS_PER_SECOND:g} s; {r.num_frames} frame(s) at {r.fps:g} fps "
                f"last {r.num_frames / r.fps:.3g} s)",
            )
        if r.num_frames / r.fps > MAX_SECONDS:
            raise InvalidRequest(
                "num_frames", r.num_frames, f"at most {MAX_SECONDS:g} s of video and audio: {r.num_frames} frames at {r.fps:g} fps "
                f"last {r.num_frames / r.fps:.4g} s (fewer frames, or a higher fps)",
            )
        r = _resolve_images(r)
        r = _resolve_audio(r, spec)
        r = _resolve_control_videos(r, spec)
        _check_tokens(r)
        return _plain_numbers(r)


def random_seed() -> int:
    """A seed for a request that asked for a random one: uniform in [0, 2^31), as ltx-pipelines' retake draws it."""
    return secrets.randbelow(2**31)


# What the distilled class does not take: its schedule, guidance and negative prompt are fixed.
FIXED_BY_DISTILLATION = ("num_inference_steps", "guidance_scale", "stg_scale", "modality_scale", "guidance_rescale", "skip_step",
                         "negative_prompt")


def _check_tokens(r: GenerationRequest) -> None:
    """The transformer's tokens at full size: the video's latent frames, plus one latent frame's worth per
    keyframe image (every image but a frame-0 one in combined mode, which replaces the first latent frame)."""
    per_frame = (r.width // 32) * (r.height // 32)
    video = ((r.num_frames - 1) // 8 + 1) * per_frame
    keyframes = [i for i in r.image_frame_indices if not (i == 0 and r.image_mode == IMAGE_MODES[0])]
    images = len(keyframes) * per_frame
    if video > MAX_VIDEO_TOKENS:
        raise InvalidRequest(
            "num_frames", r.num_frames, f"a clip of at most {MAX_VIDEO_TOKENS} latent tokens (4K x 121 frames, 1920x1088 x 481): "
            f"{r.width}x{r.height} x {r.num_frames} frames is {video}",
        )
    controls = len(r.video_conditioning_paths) + len(r.video_conditioning)
    if controls and video // 4 * (1 + controls) > MAX_VIDEO_TOKENS:  # stage 1 at half size, each reference at most its size
        field = "video_conditioning_paths" if r.video_conditioning_paths else "video_conditioning"
        raise InvalidRequest(field, f"<{controls} control videos>", f"fewer control videos for {r.width}x{r.height} x {r.num_frames} "
                             f"frames: each adds up to {video // 4} tokens to stage 1's {video // 4}, at most {MAX_VIDEO_TOKENS} in all")
    if video + images > MAX_VIDEO_TOKENS:
        field = "image_paths" if r.image_paths else "images"
        raise InvalidRequest(
            field, f"<{len(r.image_paths) or len(r.images)} images>", f"fewer keyframe images for {r.width}x{r.height} x {r.num_frames} "
            f"frames: each adds {per_frame} tokens to the clip's {video}, at most {MAX_VIDEO_TOKENS} in all",
        )


def check_runs_on(spec: PipelineSpec, model_version: str) -> None:
    """A pipeline class asked of a model version it does not run on (the HQ pipeline on LTX-2)."""
    if not spec.runs_on(model_version):
        versions = " or ".join(f"LTX-{v}" for v in spec.defaults)
        raise InvalidRequest("pipeline_class_name", spec.name, f"{spec.name} needs an {versions} checkpoint, this is LTX-{model_version}")


@dataclass(frozen=True)
class LoadOptions:
    """What weights a pipeline is loaded with, for every request it then serves: the user LoRA (a file, a folder
    holding one, or a Hugging Face repo id; `lora_weight_name` picks the file in a folder or repo holding
    several), merged at `lora_scale` into every stage; the transformer's `quantization`. `ltx-triton generate` loads per run, `serve` once."""

    lora_path: str | None = None
    lora_weight_name: str | None = None
    lora_scale: float = 1.0
    quantization: str | None = None  # fp8-cast: the transformer blocks' Linears in fp8 (loading/quantization.py)

    def check(self, as_flags: bool = False) -> LoadOptions:
        """Validate the fields. InvalidRequest names them as fields (lora_path), or as flags (--lora-path)."""

        def name(field_name: str) -> str:
            return f"--{field_name.replace('_', '-')}" if as_flags else field_name

        check_float(name("lora_scale"), self.lora_scale, -10.0, 10.0)
        if self.lora_path is not None:
            if not isinstance(self.lora_path, str) or not self.lora_path.strip():
                raise InvalidRequest(name("lora_path"), self.lora_path, "a LoRA .safetensors file, a folder holding one, or a Hugging Face repo id")
            utf8(name("lora_path"), self.lora_path)
        if self.lora_path is None and self.lora_scale != 1.0:
            raise InvalidRequest(name("lora_scale"), self.lora_scale, f"only with {name('lora_path')} (the scale it is merged at)")
        if self.lora_weight_name is not None:
            if not isinstance(self.lora_weight_name, str):  # a file name: any bytes the file system allows
                raise InvalidRequest(name("lora_weight_name"), self.lora_weight_name, "a text string")
            if self.lora_path is None:
                raise InvalidRequest(
                    name("lora_weight_name"), self.lora_weight_name, f"only with {name('lora_path')} (the file inside that folder or repo)"
                )
        if self.quantization is not None and self.quantization not in QUANTIZATIONS:
            raise InvalidRequest(name("quantization"), self.quantization, f"one of {', '.join(QUANTIZATIONS)}, or none")
        return replace(self, lora_scale=float(self.lora_scale))


_INT_FIELDS = ("seed", "width", "height", "num_frames", "num_inference_steps", "skip_step", "image_crf")
_FLOAT_FIELDS = ("guidance_scale", "stg_scale", "modality_scale", "guidance_rescale", "fps", "audio_start_time", "audio_max_duration",
                 "retake_start", "retake_end")


def _plain_numbers(r: GenerationRequest) -> GenerationRequest:
    """Checked numbers as Python int / float (a numpy scalar passes the checks, but is not what callers expect)."""
    values = {name: getattr(r, name) for name in _INT_FIELDS + _FLOAT_FIELDS}
    return replace(
        r, **{name: None if v is None else (int(v) if name in _INT_FIELDS else float(v)) for name, v in values.items()}
    )


def _resolve_images(r: GenerationRequest) -> GenerationRequest:
    """Validate the conditioning images and fill their frame indices and strengths."""
    if not isinstance(r.image_paths, (tuple, list)):
        raise InvalidRequest("image_paths", r.image_paths, "a list of image file paths")
    if not isinstance(r.images, (tuple, list)):
        raise InvalidRequest("images", f"<{type(r.images).__name__}>", "a list of encoded images (bytes)")
    if r.image_paths and r.images:
        raise InvalidRequest("images", f"<{len(r.images)} images>", "either image_paths or images, not both")
    count = len(r.image_paths) or len(r.images)
    check_int("image_crf", r.image_crf, 0, 51)  # before the images: their size limit depends on it
    if count > MAX_IMAGES:
        raise InvalidRequest("image_paths" if r.image_paths else "images", f"<{count} images>", f"at most {MAX_IMAGES} images")
    sizes, encoded = [], 0
    for path in r.image_paths:
        data = read_media_file("image_paths", path)
        encoded += len(data)
        if encoded > MAX_MEDIA_BYTES:
            raise InvalidRequest("image_paths", path, f"images of at most {MAX_MEDIA_BYTES} bytes in all ({encoded} up to this one)")
        sizes.append(_check_image_data(data, "image_paths", path))
        _check_image_size(sizes[-1], r, "image_paths", path)
    for index, data in enumerate(r.images):
        if not isinstance(data, (bytes, bytearray)) or not data:
            raise InvalidRequest("images", f"<image {index}: {type(data).__name__}>", "non-empty encoded image bytes (PNG, JPEG, ...)")
        encoded += len(data)
        if encoded > MAX_MEDIA_BYTES:
            raise InvalidRequest("images", f"<image {index}: {encoded} bytes with those before it>",
                                 f"images of at most {MAX_MEDIA_BYTES} bytes in all")
        shown = f"<image {index}>"
        sizes.append(_check_image_data(data, "images", shown))
        _check_image_size(sizes[-1], r, "images", shown)
    pixels = sum(w * h for w, h in sizes)
    if pixels > MAX_IMAGE_PIXELS_TOTAL:
        raise InvalidRequest("image_paths" if r.image_paths else "images", f"<{count} images, {pixels} pixels>",
                             f"images of at most {MAX_IMAGE_PIXELS_TOTAL} pixels in all")
    _check_str("image_mode", r.image_mode)
    if r.image_mode not in IMAGE_MODES:
        raise InvalidRequest("image_mode", r.image_mode, f"one of {', '.join(IMAGE_MODES)}")

    last = r.num_frames - 1
    indices = r.image_frame_indices
    if indices is None:
        if count > 2:
            raise InvalidRequest("image_frame_indices", None, f"one frame index per image for more than two images ({count} images)")
        if count == 2 and last == 0:
            raise InvalidRequest("image_paths" if r.image_paths else "images", f"<{count} images>", "at most one image for a one-frame video")
        indices = {0: (), 1: (0,), 2: (0, last)}[count]
    if not isinstance(indices, (tuple, list)):
        raise InvalidRequest("image_frame_indices", indices, "a list of frame indices, one per image")
    if len(indices) != count:
        raise InvalidRequest("image_frame_indices", list(indices), f"one frame index per image ({count} images)")
    for index in indices:
        check_int("image_frame_indices", index, 0, last)
    if len(set(indices)) != len(indices):
        raise InvalidRequest("image_frame_indices", list(indices), "distinct frame indices")
    strengths = (1.0,) * count if r.image_strengths is None else r.image_strengths
    if not isinstance(strengths, (tuple, list)):
        raise InvalidRequest("image_strengths", strengths, "a list of strengths, one per image")
    if len(strengths) != count:
        raise InvalidRequest("image_strengths", list(strengths), f"one strength per image ({count} images)")
    for strength in strengths:
        check_float("image_strengths", strength, 0.0, 1.0)
    return replace(
        r,
        image_paths=tuple(r.image_paths),
        images=tuple(bytes(d) for d in r.images),
        image_frame_indices=tuple(int(i) for i in indices),
        image_strengths=tuple(float(s) for s in strengths),
    )


def read_media_file(name: str, path: Any, what: str = "image") -> bytes:
    """A media file's bytes (image_paths, audio_path), with the checks of a path: InvalidRequest when it cannot be read."""
    if not isinstance(path, str) or not path:
        raise InvalidRequest(name, path, f"a path to an {what} file")
    if not os.path.isfile(path):
        raise InvalidRequest(name, path, f"an existing {what} file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MEDIA_BYTES + 1)
    except OSError as error:
        raise InvalidRequest(name, path, f"a readable {what} file ({error.strerror or error})") from None
    if len(data) > MAX_MEDIA_BYTES:
        raise InvalidRequest(name, path, f"an {what} file of at most {MAX_MEDIA_BYTES} bytes")
    return data


def _media_bytes(name: str, value: Any, what: str, formats: str, shown: Any) -> bytes:
    """A media field's encoded bytes: the file a path field names (read_media_file), or the bytes a request sent."""
    if name.endswith(("_path", "_paths")):
        return read_media_file(name, value, what)
    if not isinstance(value, (bytes, bytearray)) or not value:
        raise InvalidRequest(name, shown, f"non-empty encoded {what} bytes ({formats})")
    return bytes(value)


def _encoded_image_bytes(r: GenerationRequest) -> int:
    """The conditioning images' encoded bytes (resolve() has checked the files): they count against MAX_MEDIA_BYTES."""
    return sum(len(d) for d in r.images) + sum(os.path.getsize(p) for p in r.image_paths)


RETAKE_FIELDS = ("retake_start", "retake_end")
SOURCE_CLIP_SETS = ("width", "height", "num_frames", "fps")  # what a source clip decides


def _take_source_clip(r: GenerationRequest, spec: PipelineSpec) -> GenerationRequest:
    """A retake class's clip: asked for by (and only by) those classes; its header read here (the frames and
    soundtrack are decoded by the pipeline), its size, frames and fps made the request's, the window checked."""
    from ltx_backend.media import VideoInputError, probe_video

    given = [name for name in ("video_path", "video") if getattr(r, name) is not None]
    if not spec.source_video:
        kept_whole = [f for f in ("retake_video", "retake_audio") if not check_bool(f, getattr(r, f))]  # a stream kept
        for name in (*given, *(f for f in RETAKE_FIELDS if getattr(r, f) is not None), *kept_whole):
            shown = _shown_bytes(r, name) if name in ("video_path", "video") else getattr(r, name)
            raise InvalidRequest(name, shown, f"only with {RETAKE} or {DISTILLED_RETAKE} (the classes that edit a clip)")
        return r
    if len(given) != 1:
        raise InvalidRequest("video", None if not given else "<video_path and video>",
                             f"one clip for {spec.name}: its bytes (video; the VIDEO input when served) or a file path (video_path)")
    for name in SOURCE_CLIP_SETS:
        if getattr(r, name) is not None:
            raise InvalidRequest(name, getattr(r, name), f"left out with {spec.name}: the clip's is used")
    if r.image_paths or r.images:
        raise InvalidRequest("image_paths" if r.image_paths else "images", "<images>", f"none with {spec.name}")
    (name,) = given
    data = _media_bytes(name, getattr(r, name), "video", "MP4, MOV, WebM, ...", f"<{type(r.video).__name__}>")
    if len(data) > MAX_MEDIA_BYTES:  # sent bytes (a file over it is refused as it is read)
        raise InvalidRequest("video", f"<{len(data)} bytes>", f"a clip of at most {MAX_MEDIA_BYTES} bytes")
    shown = _shown_bytes(r, name)
    try:
        info = probe_video(data, MAX_FRAMES)
    except VideoInputError as error:
        raise InvalidRequest(name, shown, f"a video (MP4, MOV, WebM, MKV, ...): {error}") from None
    size = f"{info.width}x{info.height}, {info.num_frames} frames at {info.fps:g} fps"
    if not (1 <= info.num_frames <= MAX_FRAMES and (info.num_frames - 1) % 8 == 0):
        raise InvalidRequest(name, shown, f"a clip of 8k+1 frames (1, 9, ..., 97, ..., {MAX_FRAMES}): this one is {size}")
    if info.width % 32 or info.height % 32 or not (32 <= min(info.width, info.height) and max(info.width, info.height) <= MAX_SIDE) \
            or info.width * info.height > MAX_PIXELS_PER_FRAME:
        raise InvalidRequest(name, shown, f"a clip whose width and height are multiples of 32, up to {MAX_SIDE} and "
                             f"{MAX_PIXELS_PER_FRAME} pixels a frame: this one is {size}")
    if not (1.0 <= info.fps <= 120.0) or info.num_frames / info.fps > MAX_SECONDS:
        raise InvalidRequest(name, shown, f"a clip at 1 - 120 fps of at most {MAX_SECONDS:g} s: this one is {size}")
    duration = info.num_frames / info.fps
    for field_name in RETAKE_FIELDS:
        if getattr(r, field_name) is None:
            raise InvalidRequest(field_name, None, f"the {'start' if field_name == 'retake_start' else 'end'} of the window to "
                                 f"regenerate, in seconds (the clip lasts {duration:.4g} s)")
        check_float(field_name, getattr(r, field_name), 0.0, duration)
    if r.retake_start >= r.retake_end:
        raise InvalidRequest("retake_end", r.retake_end, f"after retake_start ({r.retake_start:g} s)")
    for field_name in ("retake_video", "retake_audio"):
        check_bool(field_name, getattr(r, field_name))
    if not (r.retake_video or r.retake_audio):
        raise InvalidRequest("retake_video", False, "true, or retake_audio true: a retake regenerates at least one stream")
    return replace(r, width=info.width, height=info.height, num_frames=info.num_frames, fps=info.fps,
                   video=None if r.video is None else bytes(r.video), retake_start=float(r.retake_start),
                   retake_end=float(r.retake_end), retake_video=bool(r.retake_video), retake_audio=bool(r.retake_audio))


def _shown_bytes(r: GenerationRequest, name: str) -> Any:
    """A media field as an error shows it: the path, or the size of the bytes."""
    value = getattr(r, name)
    if name.endswith("_path") or value is None:
        return value
    return f"<{len(value)} bytes>" if isinstance(value, (bytes, bytearray)) else f"<{type(value).__name__}>"


def _resolve_audio(r: GenerationRequest, spec: PipelineSpec) -> GenerationRequest:
    """The soundtrack: asked for by (and only by) an audio-input class; decoded here once, so that a file that
    is not audio, too short or of an unusual format is refused before any model work."""
    from ltx_backend.media import AudioInputError, read_audio

    given = [name for name in ("audio_path", "audio") if getattr(r, name) is not None]
    if not spec.audio_input:
        only = f"only with {AUDIO_TO_VIDEO} (the class that makes a video for a soundtrack)"
        if given:
            raise InvalidRequest(given[0], _shown_bytes(r, given[0]), only)
        if r.audio_start_time != 0.0:  # where to read a soundtrack from: none is read
            raise InvalidRequest("audio_start_time", r.audio_start_time, only)
        if r.audio_max_duration is not None:
            raise InvalidRequest("audio_max_duration", r.audio_max_duration, only)
        return r
    if len(given) != 1:
        raise InvalidRequest("audio", None if not given else "<audio_path and audio>",
                             f"one soundtrack for {spec.name}: its bytes (audio; the AUDIO input when served) or a file path (audio_path)")
    (name,) = given
    check_float("audio_start_time", r.audio_start_time, 0.0, MAX_AUDIO_START_SECONDS)
    video_seconds = r.num_frames / r.fps
    duration = video_seconds if r.audio_max_duration is None else r.audio_max_duration
    check_float("audio_max_duration", duration, 1.0 / AUDIO_LATENTS_PER_SECOND, MAX_SECONDS)
    # The encoder makes one latent frame per 1/25 s, plus one for the start: the video's latent frames need
    # this much of the soundtrack (ltx-pipelines fails on shorter audio).
    needed = (round(video_seconds * AUDIO_LATENTS_PER_SECOND) - 1) / AUDIO_LATENTS_PER_SECOND
    if duration < needed:
        raise InvalidRequest("audio_max_duration", duration, f"at least {needed:.3g} s for {r.num_frames} frames at {r.fps:g} fps "
                             f"(at most {MAX_SECONDS:g} s)")
    data = _media_bytes(name, getattr(r, name), "audio", "WAV, MP3, FLAC, ...", f"<{type(r.audio).__name__}>")
    if _encoded_image_bytes(r) + len(data) > MAX_MEDIA_BYTES:
        raise InvalidRequest(name, f"<{len(data)} bytes>", f"a soundtrack and images of at most {MAX_MEDIA_BYTES} bytes in all")
    shown = _shown_bytes(r, name)
    try:
        waveform, rate = read_audio(data, float(r.audio_start_time), float(duration))
    except AudioInputError as error:
        raise InvalidRequest(name, shown, f"a soundtrack of mono or stereo audio (WAV, MP3, FLAC, OGG, M4A or a video's audio "
                             f"track): {error}") from None
    seconds = waveform.shape[1] / rate
    if seconds < needed:
        raise InvalidRequest(name, shown, f"a soundtrack lasting at least {needed:.3g} s from audio_start_time {r.audio_start_time:g} s "
                             f"for {r.num_frames} frames at {r.fps:g} fps (it has {seconds:.3g} s)")
    return replace(r, audio=None if r.audio is None else bytes(r.audio), audio_max_duration=float(duration))


def _resolve_control_videos(r: GenerationRequest, spec: PipelineSpec) -> GenerationRequest:
    """The IC-LoRA class's control videos: asked for by (and only by) it; each one's header read here, its frames
    decoded by the pipeline. A clip shorter than the video must itself have 8k+1 frames (the VAE's)."""
    from ltx_backend.media import VideoInputError, probe_video

    field_name = "video_conditioning_paths" if r.video_conditioning_paths else "video_conditioning"
    for name in ("video_conditioning_paths", "video_conditioning"):
        if not isinstance(getattr(r, name), (tuple, list)):
            raise InvalidRequest(name, f"<{type(getattr(r, name)).__name__}>", "a list of control videos")
    count = len(r.video_conditioning_paths) + len(r.video_conditioning)
    check_float("conditioning_attention_strength", r.conditioning_attention_strength, 0.0, 1.0)
    mask_field, mask = attention_mask_source(r)
    if not spec.reference_videos:
        if r.conditioning_attention_strength != 1.0:
            raise InvalidRequest("conditioning_attention_strength", r.conditioning_attention_strength, f"1.0 except with {IC_LORA}")
        if mask is not None:
            raise InvalidRequest(mask_field, "<mask video>", f"only with {IC_LORA} (it weighs the control videos' attention)")
        if count or r.video_conditioning_strengths is not None:
            raise InvalidRequest(field_name if count else "video_conditioning_strengths", f"<{count} control videos>",
                                 f"only with {IC_LORA} (control videos for an IC-LoRA)")
        return r
    if r.video_conditioning_paths and r.video_conditioning:
        raise InvalidRequest("video_conditioning", f"<{len(r.video_conditioning)} videos>", "either video_conditioning_paths or video_conditioning, not both")
    if not 1 <= count <= MAX_CONTROL_VIDEOS:
        raise InvalidRequest(field_name, f"<{count} control videos>", f"1 to {MAX_CONTROL_VIDEOS} control videos for {spec.name}")
    encoded = _encoded_image_bytes(r)

    def frames_read(name: str, source: Any, shown: Any, what: str) -> int:
        """The frames of `source` the pipeline reads (at most num_frames), from its header; its bytes counted."""
        nonlocal encoded
        data = _media_bytes(name, source, "video", "MP4, ...", f"<{shown}: {type(source).__name__}>")
        encoded += len(data)
        if encoded > MAX_MEDIA_BYTES:
            raise InvalidRequest(name, shown, f"control videos, mask and images of at most {MAX_MEDIA_BYTES} bytes in all")
        try:
            info = probe_video(data, MAX_FRAMES)
        except VideoInputError as error:
            raise InvalidRequest(name, shown, f"{what} (MP4, MOV, WebM, MKV, ...): {error}") from None
        if min(info.width, info.height) < 2 or info.width * info.height > 4 * MAX_PIXELS_PER_FRAME:
            raise InvalidRequest(name, shown, f"frames of at least 2x2 and at most {4 * MAX_PIXELS_PER_FRAME} pixels "
                                 f"(this one: {info.width}x{info.height})")
        return min(info.num_frames, r.num_frames)

    if r.conditioning_attention_mask_path is not None and r.conditioning_attention_mask is not None:
        raise InvalidRequest("conditioning_attention_mask", "<mask video>",
                             "either conditioning_attention_mask_path or conditioning_attention_mask, not both")
    latent_frames = []
    for index, source in enumerate(r.video_conditioning_paths or r.video_conditioning):
        shown = source if r.video_conditioning_paths else f"<video {index}>"
        used = frames_read(field_name, source, shown, "a video")
        if (used - 1) % 8:
            raise InvalidRequest(field_name, shown, f"a control video of at least {r.num_frames} frames, or of 8k+1 frames "
                                 f"(this one has {used})")
        latent_frames.append((used - 1) // 8 + 1)
    if mask is not None:
        shown = mask if mask_field.endswith("_path") else "<mask video>"
        used = frames_read(mask_field, mask, shown, "a grayscale mask video")
        for frames in latent_frames:
            check_mask_frames(mask_field, shown, used, frames, r.num_frames)
    strengths = (1.0,) * count if r.video_conditioning_strengths is None else r.video_conditioning_strengths
    if not isinstance(strengths, (tuple, list)) or len(strengths) != count:
        raise InvalidRequest("video_conditioning_strengths", strengths, f"one strength per control video ({count})")
    for strength in strengths:
        check_float("video_conditioning_strengths", strength, 0.0, 1.0)
    return replace(r, video_conditioning_paths=tuple(r.video_conditioning_paths),
                   video_conditioning=tuple(bytes(d) for d in r.video_conditioning),
                   video_conditioning_strengths=tuple(float(s) for s in strengths),
                   conditioning_attention_strength=float(r.conditioning_attention_strength),
                   conditioning_attention_mask=None if r.conditioning_attention_mask is None else bytes(r.conditioning_attention_mask))


def _check_image_data(data: bytes, name: str, shown: Any) -> tuple[int, int]:
    """Decode the image header (the pixels are decoded later, by the pipeline). Returns (width, height)."""
    import io

    from PIL import Image, UnidentifiedImageError

    readable = "a readable image (PNG, JPEG, WebP, AVIF, TIFF, ...)"
    try:
        with Image.open(io.BytesIO(data), formats=image_formats()) as image:
            image.verify()
            return image.size
    except UnidentifiedImageError:
        raise InvalidRequest(name, shown, f"{readable}: not an image format ltx-triton reads") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        raise InvalidRequest(name, shown, f"{readable}: {error}") from None


def _check_image_size(size: tuple[int, int], r: GenerationRequest, name: str, shown: Any) -> None:
    """Pixel count and sides (libx264's limit when the H.264 round trip runs), and the image resized to cover
    the video frame (resize_and_center_crop) within MAX_IMAGE_COVER_PIXELS."""
    width, height = size
    max_side = MAX_IMAGE_SIDE if r.image_crf else None
    if min(width, height) < 2 or width * height > MAX_PIXELS_PER_FRAME * 4 or (max_side and max(width, height) > max_side):
        sides = f", sides at most {max_side} (with image_crf > 0)" if max_side else ""
        raise InvalidRequest(
            name, shown, f"an image of at least 2x2 and at most {MAX_PIXELS_PER_FRAME * 4} pixels{sides} (got {width}x{height})",
        )
    scale = max(r.width / width, r.height / height)
    cover_w, cover_h = math.ceil(width * scale), math.ceil(height * scale)
    if cover_w * cover_h > MAX_IMAGE_COVER_PIXELS:
        raise InvalidRequest(
            name, shown, f"an image whose aspect ratio is closer to the video's {r.width}x{r.height}: this {width}x{height} "
            f"image would be resized to {cover_w}x{cover_h} to cover the frame (at most {MAX_IMAGE_COVER_PIXELS} pixels)",
        )


def _check_str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(name, value, "a text string")
    utf8(name, value)
