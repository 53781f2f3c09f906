"""LTX2DistilledPipeline: the distilled model in two stages, as ltx-pipelines' DistilledPipeline.

The two-stage structure of LTX2TwoStagePipeline on the distilled checkpoint (no LoRA between the stages: the
distilled weights serve both): stage 1 at half size over the 8 distilled sigmas [1.0, 0.99375, 0.9875,
0.98125, 0.975, 0.909375, 0.725, 0.421875, 0], x2 upsampling, stage 2 at full size over [0.909375, 0.725,
0.421875, 0]. Every step is one unguided transformer pass on the prompt alone (no negative prompt), so
the schedule and the guidance are fixed: a request does not choose steps, guidance or a negative prompt.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ltx_backend.latents.shapes import VideoPixelShape
from ltx_backend.pipelines.spec import ModelDefaults, PipelineSpec
from ltx_backend.pipelines.two_stage import LTX2TwoStagePipeline
from ltx_backend.sampling.guidance import UNGUIDED, GuidanceParams
from ltx_backend.sampling.schedule import DISTILLED_SIGMAS, distilled_sigmas
from ltx_backend.types import GuidanceContexts

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest

STEPS = len(DISTILLED_SIGMAS) - 1  # stage 1's; stage 2 adds 3

SPEC = PipelineSpec(
    name="LTX2DistilledPipeline",
    # ltx-pipelines' distilled defaults: the stage-2 size of its 768x512 stage 1
    defaults={version: ModelDefaults(1536, 1024, 121, STEPS, guidance_scale=1.0) for version in ("2", "2.3")},
    guidance={version: UNGUIDED for version in ("2", "2.3")},
    stages=(1, 2),
    distilled=True,
    enhance_prompt_seed=42,  # ltx-pipelines' DistilledPipeline leaves encode_prompts' default
)


class LTX2DistilledPipeline(LTX2TwoStagePipeline):
    spec = SPEC

    def encode_prompts(self, request: GenerationRequest, prompt: str) -> GuidanceContexts:
        (positive,) = self.components.encode_text([prompt])
        return GuidanceContexts(positive=positive)

    def stage1_guidance(self, request: GenerationRequest) -> tuple[GuidanceParams, GuidanceParams]:
        return UNGUIDED

    def stage1_sigmas(self, steps: int, stage1_shape: VideoPixelShape) -> torch.Tensor:
        return distilled_sigmas(stage=1)
