"""GenerationRequest: the fields of one generation, the per-model defaults table, and validation.

Every transport (`ltx-triton generate`, the Triton `pipeline` model) builds a GenerationRequest and calls
`resolve()` once, before any model work. A bad value raises InvalidRequest naming the field, the value
and what is allowed; nothing else in the engine re-validates user input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from typing import Any

ONE_STAGE = "LTX2Pipeline"
TWO_STAGE = "LTX2TwoStagePipeline"
TWO_STAGE_HQ = "LTX2TwoStageHQPipeline"
PIPELINE_CLASSES = (ONE_STAGE, TWO_STAGE, TWO_STAGE_HQ)
AVAILABLE_PIPELINE_CLASSES = (ONE_STAGE,)  # two-stage and HQ land with issue #4

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


@dataclass(frozen=True)
class ModelDefaults:
    """Sampling defaults of one (model version, pipeline class), from the spec's table."""

    width: int
    height: int
    num_frames: int
    num_inference_steps: int
    fps: float = 24.0
    seed: int = 10
    guidance_scale: float = 3.0  # the video CFG scale of ltx-pipelines' defaults


DEFAULTS: dict[tuple[str, str], ModelDefaults] = {
    ("2", ONE_STAGE): ModelDefaults(768, 512, 121, 40),
    ("2", TWO_STAGE): ModelDefaults(768, 512, 121, 40),
    ("2.3", ONE_STAGE): ModelDefaults(768, 512, 121, 30),
    ("2.3", TWO_STAGE): ModelDefaults(768, 512, 121, 30),
    ("2.3", TWO_STAGE_HQ): ModelDefaults(1920, 1088, 121, 15),
}


class InvalidRequest(ValueError):
    """A request field with a value that is not allowed. The message names field, value and what is allowed."""

    def __init__(self, field_name: str, value: Any, allowed: str):
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        super().__init__(f"invalid {field_name}={shown}: {allowed}")
        self.field = field_name
        self.value = value
        self.allowed = allowed


@dataclass(frozen=True)
class GenerationRequest:
    """One generation. None means "the model's default" until resolve() fills it in."""

    prompt: str
    negative_prompt: str | None = None
    pipeline_class_name: str = ONE_STAGE
    seed: int | None = None
    width: int | None = None
    height: int | None = None
    num_frames: int | None = None
    num_inference_steps: int | None = None
    guidance_scale: float | None = None
    fps: float | None = None
    image_paths: tuple[str, ...] = ()
    images: tuple[bytes, ...] = field(default=(), repr=False)  # encoded image bytes (served requests)
    lora_path: str | None = None
    lora_weight_name: str | None = None
    lora_scale: float = 1.0

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def resolve(self, model_version: str) -> GenerationRequest:
        """Validate every field and fill the model's defaults. Raises InvalidRequest."""
        _check_str("pipeline_class_name", self.pipeline_class_name)
        if self.pipeline_class_name not in PIPELINE_CLASSES:
            raise InvalidRequest("pipeline_class_name", self.pipeline_class_name, f"one of {', '.join(PIPELINE_CLASSES)}")
        if self.pipeline_class_name == TWO_STAGE_HQ and model_version != "2.3":
            raise InvalidRequest(
                "pipeline_class_name", self.pipeline_class_name, f"{TWO_STAGE_HQ} needs an LTX-2.3 checkpoint, this is LTX-{model_version}"
            )
        if self.pipeline_class_name not in AVAILABLE_PIPELINE_CLASSES:
            raise InvalidRequest(
                "pipeline_class_name", self.pipeline_class_name, f"not available yet (issue #4); available: {', '.join(AVAILABLE_PIPELINE_CLASSES)}"
            )
        d = DEFAULTS[(model_version, self.pipeline_class_name)]
        two_stage = self.pipeline_class_name != ONE_STAGE
        r = replace(
            self,
            negative_prompt=DEFAULT_NEGATIVE_PROMPT if self.negative_prompt is None else self.negative_prompt,
            seed=d.seed if self.seed is None else self.seed,
            width=d.width if self.width is None else self.width,
            height=d.height if self.height is None else self.height,
            num_frames=d.num_frames if self.num_frames is None else self.num_frames,
            num_inference_steps=d.num_inference_steps if self.num_inference_steps is None else self.num_inference_steps,
            guidance_scale=d.guidance_scale if self.guidance_scale is None else self.guidance_scale,
            fps=d.fps if self.fps is None else self.fps,
        )
        _check_str("prompt", r.prompt)
        if not r.prompt.strip():
            raise InvalidRequest("prompt", r.prompt, "a non-empty text")
        if len(r.prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest("prompt", f"<{len(r.prompt)} characters>", f"at most {MAX_PROMPT_CHARS} characters")
        _check_str("negative_prompt", r.negative_prompt)
        if len(r.negative_prompt) > MAX_PROMPT_CHARS:
            raise InvalidRequest("negative_prompt", f"<{len(r.negative_prompt)} characters>", f"at most {MAX_PROMPT_CHARS} characters")
        _check_int("seed", r.seed, 0, MAX_SEED)
        multiple = 64 if two_stage else 32
        for name in ("width", "height"):
            value = getattr(r, name)
            _check_int(name, value, multiple, MAX_SIDE)
            if value % multiple:
                why = "two-stage pipelines need" if two_stage else "need"
                raise InvalidRequest(name, value, f"a multiple of {multiple} ({why} {multiple}) between {multiple} and {MAX_SIDE}")
        if r.width * r.height > MAX_PIXELS_PER_FRAME:
            raise InvalidRequest("width", r.width, f"width*height at most {MAX_PIXELS_PER_FRAME} (got {r.width}x{r.height})")
        _check_int("num_frames", r.num_frames, 1, MAX_FRAMES)
        if (r.num_frames - 1) % 8:
            raise InvalidRequest("num_frames", r.num_frames, f"8k+1 frames (1, 9, 17, ..., 121, ..., {MAX_FRAMES})")
        _check_int("num_inference_steps", r.num_inference_steps, 1, MAX_STEPS)
        _check_float("guidance_scale", r.guidance_scale, 0.0, 50.0)
        _check_float("fps", r.fps, 1.0, 120.0)
        _check_float("lora_scale", r.lora_scale, -10.0, 10.0)
        if r.image_paths or r.images:
            raise InvalidRequest("image_path", list(r.image_paths) or f"<{len(r.images)} images>", "image conditioning is not available yet (issue #4)")
        if r.lora_path is not None or r.lora_weight_name is not None:
            raise InvalidRequest("lora_path", r.lora_path or r.lora_weight_name, "LoRAs are not available yet (issue #4)")
        return r


def _check_str(name: str, value: Any) -> None:
    if not isinstance(value, str):
        raise InvalidRequest(name, value, "a text string")


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(name, value, f"an integer between {lo} and {hi}")
    if not lo <= value <= hi:
        raise InvalidRequest(name, value, f"an integer between {lo} and {hi}")


def _check_float(name: str, value: Any, lo: float, hi: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(name, value, f"a number between {lo:g} and {hi:g}")
    if not lo <= value <= hi:
        raise InvalidRequest(name, value, f"a number between {lo:g} and {hi:g}")
