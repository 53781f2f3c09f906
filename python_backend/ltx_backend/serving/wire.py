"""The messages between the `pipeline` model and the component models, as named tensors.

Each Components call becomes one Triton request; these functions turn its arguments into a dict of named
torch tensors plus one JSON string (scalars, guidance parameters) and back. They do not touch Triton, so
they are tested without a server, and the round trip is exact (same tensors, same dtypes).

Denoiser step (one guided x0 prediction; the Euler update stays in the pipeline, which is where the
loop, progress and cancellation live):
    VIDEO_LATENT [B, Tv, C]  VIDEO_DENOISE_MASK [B, Tv, 1]  VIDEO_POSITIONS [B, 3, Tv, 2]  VIDEO_CLEAN_LATENT [B, Tv, C]
    (VIDEO_ATTENTION_MASK [B, Tv, Tv]), the same AUDIO_* ([B, 1, Ta, 2] positions),
    SIGMA [1] float32, POSITIVE_VIDEO_CONTEXT [B, S, Dv], POSITIVE_AUDIO_CONTEXT [B, S, Da],
    (NEGATIVE_VIDEO_CONTEXT, NEGATIVE_AUDIO_CONTEXT), (PREVIOUS_VIDEO_X0, PREVIOUS_AUDIO_X0),
    STEP_META (JSON: step_index, stage, video/audio guidance)
  -> VIDEO_X0 [B, Tv, C], AUDIO_X0 [B, Ta, C]
Denoiser prepare (STEP_META alone, JSON {"prepare_stage": stage, "pipeline_class_name": ...}): start switching
to that stage's weights now (the two-stage pipelines' prepare_stage hint, see runtime/stage_weights.py), no
outputs. Every step tensor is optional in the rendered config so that this request is valid; a step request
missing one is that request's INVALID_ARG naming it.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.state import LatentState
from ltx_backend.sampling.guidance import GuidanceParams
from ltx_backend.types import GuidanceContexts, TextContext

Tensors = dict[str, torch.Tensor]
STATE_FIELDS = ("latent", "denoise_mask", "positions", "clean_latent", "attention_mask")


@dataclass(frozen=True)
class DenoiseStep:
    video: LatentState
    audio: LatentState
    sigma: torch.Tensor  # 0-d float32: the schedule's entry for this step
    step_index: int
    contexts: GuidanceContexts
    video_guidance: GuidanceParams
    audio_guidance: GuidanceParams
    previous: tuple[torch.Tensor | None, torch.Tensor | None] | None = None  # last step's guided x0 (skip_step)
    stage: int = 1


def pack_state(prefix: str, state: LatentState) -> Tensors:
    out = {}
    for name in STATE_FIELDS:
        value = getattr(state, name)
        if value is not None:
            out[f"{prefix}_{name.upper()}"] = value
    return out


def unpack_state(prefix: str, tensors: Tensors) -> LatentState:
    return LatentState(**{name: tensors.get(f"{prefix}_{name.upper()}") for name in STATE_FIELDS})


def pack_text(prefix: str, text: TextContext) -> Tensors:
    # The embeddings connectors replace padding with learned registers: contexts never carry a mask.
    if text.video_mask is not None or text.audio_mask is not None:
        raise ValueError("text contexts with masks do not cross the Triton boundary")
    return {f"{prefix}_VIDEO_CONTEXT": text.video, f"{prefix}_AUDIO_CONTEXT": text.audio}


def unpack_text(prefix: str, tensors: Tensors) -> TextContext | None:
    video, audio = tensors.get(f"{prefix}_VIDEO_CONTEXT"), tensors.get(f"{prefix}_AUDIO_CONTEXT")
    if video is None and audio is None:
        return None
    if video is None or audio is None:
        missing = f"{prefix}_VIDEO_CONTEXT" if video is None else f"{prefix}_AUDIO_CONTEXT"
        raise InvalidRequest(missing, None, f"given with {prefix}_{'AUDIO' if video is None else 'VIDEO'}_CONTEXT (both or neither)")
    return TextContext(video=video, audio=audio)


def guidance_to_dict(params: GuidanceParams) -> dict:
    d = asdict(params)
    d["stg_blocks"] = None if params.stg_blocks is None else list(params.stg_blocks)
    return d


def guidance_from_dict(d: dict) -> GuidanceParams:
    known = {f.name for f in fields(GuidanceParams)}
    unknown = set(d) - known
    if unknown:
        raise InvalidRequest("STEP_META", f"<guidance fields {sorted(unknown)}>", f"guidance fields among {', '.join(sorted(known))}")
    blocks = d.get("stg_blocks", ())
    try:
        return GuidanceParams(**{**d, "stg_blocks": None if blocks is None else tuple(int(b) for b in blocks)})
    except (TypeError, ValueError) as error:
        raise InvalidRequest("STEP_META", "<guidance>", f"guidance parameters of the right types ({error})") from None


def parse_meta(meta_json: str) -> dict:
    """A STEP_META JSON object; InvalidRequest when it is not one."""
    try:
        meta = json.loads(meta_json)
    except ValueError as error:
        raise InvalidRequest("STEP_META", meta_json, f"a JSON object ({error})") from None
    if not isinstance(meta, dict):
        raise InvalidRequest("STEP_META", meta_json, "a JSON object")
    return meta


def meta_int(meta: dict, key: str, default: int | None = None) -> int:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidRequest(f"STEP_META.{key}", value, "an integer")
    return value


def pack_step(step: DenoiseStep) -> tuple[Tensors, str]:
    tensors = {**pack_state("VIDEO", step.video), **pack_state("AUDIO", step.audio)}
    tensors["SIGMA"] = step.sigma.reshape(1).to(torch.float32)
    tensors.update(pack_text("POSITIVE", step.contexts.positive))
    if step.contexts.negative is not None:
        tensors.update(pack_text("NEGATIVE", step.contexts.negative))
    if step.previous is not None:
        for name, x0 in zip(("PREVIOUS_VIDEO_X0", "PREVIOUS_AUDIO_X0"), step.previous):
            if x0 is not None:
                tensors[name] = x0
    meta = {
        "step_index": step.step_index,
        "stage": step.stage,
        "video_guidance": guidance_to_dict(step.video_guidance),
        "audio_guidance": guidance_to_dict(step.audio_guidance),
        "has_previous": step.previous is not None,
    }
    return tensors, json.dumps(meta)


def pack_prepare(stage: int, pipeline_class_name: str) -> str:
    """The STEP_META of a prepare request."""
    return json.dumps({"prepare_stage": int(stage), "pipeline_class_name": pipeline_class_name})


def unpack_step(tensors: Tensors, meta: dict) -> DenoiseStep:
    """A denoiser step from its tensors and its parsed STEP_META (parse_meta)."""
    missing = [name for name in REQUIRED_STEP_TENSORS if name not in tensors]
    if missing:
        raise InvalidRequest("inputs", sorted(tensors), f"every input of a denoiser step (missing: {', '.join(missing)})")
    for key in ("video_guidance", "audio_guidance"):
        if not isinstance(meta.get(key), dict):
            raise InvalidRequest(f"STEP_META.{key}", meta.get(key), "a JSON object of guidance parameters")
    if tensors["SIGMA"].numel() != 1:
        raise InvalidRequest("SIGMA", list(tensors["SIGMA"].shape), "one number (shape [1])")
    previous = None
    if meta.get("has_previous"):
        previous = (tensors.get("PREVIOUS_VIDEO_X0"), tensors.get("PREVIOUS_AUDIO_X0"))
    return DenoiseStep(
        video=unpack_state("VIDEO", tensors),
        audio=unpack_state("AUDIO", tensors),
        sigma=tensors["SIGMA"].reshape(()),
        step_index=meta_int(meta, "step_index"),
        contexts=GuidanceContexts(positive=unpack_text("POSITIVE", tensors), negative=unpack_text("NEGATIVE", tensors)),
        video_guidance=guidance_from_dict(meta["video_guidance"]),
        audio_guidance=guidance_from_dict(meta["audio_guidance"]),
        previous=previous,
        stage=meta_int(meta, "stage", 1),
    )


# Every tensor a denoiser step carries: name -> (rank, dtype). "model" tensors are in the model's dtype
# (fp32 on CPU, bf16 on GPU: the rendered config.pbtxt says which); the others are always float32.
STEP_TENSORS: dict[str, tuple[int, str]] = {
    "VIDEO_LATENT": (3, "model"), "VIDEO_DENOISE_MASK": (3, "fp32"), "VIDEO_POSITIONS": (4, "model"),
    "VIDEO_CLEAN_LATENT": (3, "model"), "VIDEO_ATTENTION_MASK": (3, "fp32"),
    "AUDIO_LATENT": (3, "model"), "AUDIO_DENOISE_MASK": (3, "fp32"), "AUDIO_POSITIONS": (4, "fp32"),
    "AUDIO_CLEAN_LATENT": (3, "model"), "AUDIO_ATTENTION_MASK": (3, "fp32"),
    "SIGMA": (1, "fp32"),
    "POSITIVE_VIDEO_CONTEXT": (3, "model"), "POSITIVE_AUDIO_CONTEXT": (3, "model"),
    "NEGATIVE_VIDEO_CONTEXT": (3, "model"), "NEGATIVE_AUDIO_CONTEXT": (3, "model"),
    "PREVIOUS_VIDEO_X0": (3, "model"), "PREVIOUS_AUDIO_X0": (3, "model"),
}
OPTIONAL_STEP_TENSORS = frozenset(
    {"VIDEO_ATTENTION_MASK", "AUDIO_ATTENTION_MASK", "NEGATIVE_VIDEO_CONTEXT", "NEGATIVE_AUDIO_CONTEXT",
     "PREVIOUS_VIDEO_X0", "PREVIOUS_AUDIO_X0"}
)
REQUIRED_STEP_TENSORS = tuple(name for name in STEP_TENSORS if name not in OPTIONAL_STEP_TENSORS)
