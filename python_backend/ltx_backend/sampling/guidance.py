"""Multi-modal guidance: parameters, per-version defaults, which extra passes a step needs, and the combination.

Per stream (video or audio), from the conditional prediction `cond` and up to three extra passes:
    pred = cond + (cfg - 1) * (cond - uncond)              classifier-free guidance (negative prompt)
                + stg * (cond - perturbed)                 spatio-temporal guidance (self-attention skipped)
                + (modality - 1) * (cond - isolated)       modality guidance (audio<->video attention skipped)
    pred *= rescale * std(cond) / std(pred) + (1 - rescale)    when rescale != 0
As ltx-core's MultiModalGuider; a pass that was not run contributes 0.0 in place of its prediction.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class GuidanceParams:
    cfg_scale: float = 1.0
    stg_scale: float = 0.0
    rescale_scale: float = 0.0
    modality_scale: float = 1.0
    skip_step: int = 0  # > 0: guide only every (skip_step + 1)-th step, reuse the last prediction otherwise
    stg_blocks: tuple[int, ...] | None = ()  # blocks whose self-attention STG skips (None: every block)

    def needs_uncond(self) -> bool:
        return not math.isclose(self.cfg_scale, 1.0)

    def needs_perturbed(self) -> bool:
        return not math.isclose(self.stg_scale, 0.0)

    def needs_isolated(self) -> bool:
        return not math.isclose(self.modality_scale, 1.0)

    def skips(self, step_index: int) -> bool:
        return self.skip_step != 0 and step_index % (self.skip_step + 1) != 0

    def combine(
        self,
        cond: torch.Tensor,
        uncond: torch.Tensor | float = 0.0,
        perturbed: torch.Tensor | float = 0.0,
        isolated: torch.Tensor | float = 0.0,
    ) -> torch.Tensor:
        pred = (
            cond
            + (self.cfg_scale - 1) * (cond - uncond)
            + self.stg_scale * (cond - perturbed)
            + (self.modality_scale - 1) * (cond - isolated)
        )
        if self.rescale_scale != 0:
            factor = cond.std() / pred.std()
            pred = pred * (self.rescale_scale * factor + (1 - self.rescale_scale))
        return pred


# ltx_pipelines.utils.constants: LTX_2_PARAMS, LTX_2_3_PARAMS (video, audio); the HQ pipeline's own
# (LTX_2_3_HQ_PARAMS) are in its spec, pipelines/two_stage_hq.py.
_LTX2_VIDEO = GuidanceParams(cfg_scale=3.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, stg_blocks=(29,))
_LTX2_AUDIO = GuidanceParams(cfg_scale=7.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, stg_blocks=(29,))
# (video, audio) without guidance: one pass on the prompt per step (the distilled model's)
UNGUIDED = (GuidanceParams(), GuidanceParams())
DEFAULT_GUIDANCE: dict[str, tuple[GuidanceParams, GuidanceParams]] = {
    "2": (_LTX2_VIDEO, _LTX2_AUDIO),
    "2.3": (replace(_LTX2_VIDEO, stg_blocks=(28,)), replace(_LTX2_AUDIO, stg_blocks=(28,))),
}


def default_guidance(version: str) -> tuple[GuidanceParams, GuidanceParams]:
    """(video, audio) guidance defaults of a model version ("2" or "2.3")."""
    if version not in DEFAULT_GUIDANCE:
        raise ValueError(f"no guidance defaults for version={version!r}")
    return DEFAULT_GUIDANCE[version]


def request_guidance(defaults: tuple[GuidanceParams, GuidanceParams], request) -> tuple[GuidanceParams, GuidanceParams]:
    """A resolved request's stage-1 guidance from the pipeline's (video, audio) defaults: guidance_scale is
    the video CFG scale (the audio keeps its own); stg_scale, modality_scale, guidance_rescale and
    skip_step, where given, replace both streams' (None keeps each stream's default)."""
    video, audio = defaults
    common = {"stg_scale": request.stg_scale, "modality_scale": request.modality_scale, "rescale_scale": request.guidance_rescale}
    common = {k: float(v) for k, v in common.items() if v is not None}
    if request.skip_step is not None:
        common["skip_step"] = int(request.skip_step)
    return replace(video, cfg_scale=float(request.guidance_scale), **common), replace(audio, **common)


def extra_passes(*guided: GuidanceParams) -> tuple[str, ...]:
    """The passes beside the conditional one that the guided streams need, in the order a step batches them:
    "uncond" (negative prompt), "perturbed" (STG), "isolated" (modality)."""
    needs = (("uncond", GuidanceParams.needs_uncond), ("perturbed", GuidanceParams.needs_perturbed),
             ("isolated", GuidanceParams.needs_isolated))
    return tuple(name for name, need in needs if any(need(g) for g in guided))


def passes_per_step(video: GuidanceParams, audio: GuidanceParams) -> int:
    """Transformer passes a guided step runs (batched into one call): the conditional one and the extra ones."""
    return 1 + len(extra_passes(video, audio))