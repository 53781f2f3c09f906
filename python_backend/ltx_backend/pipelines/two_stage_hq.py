"""LTX2TwoStageHQPipeline (LTX-2.3 only): ltx-pipelines' ti2vid_two_stages_hq.

The two-stage structure of LTX2TwoStagePipeline with three differences:
- the res_2s second-order sampler (sampling/res2s.py) in both stages instead of Euler;
- the HQ guidance (no STG; video rescale 0.45, audio rescale 1.0) and a stage-1 schedule shifted by the
  stage-1 latent's real token count;
- the distilled LoRA in both stages, at strength 0.25 in stage 1 and 0.5 in stage 2 (load_pipeline sets
  the stage weights; runtime/local_components.py DISTILLED_LORA_STRENGTHS).
Defaults (request.py): 1920x1088, 121 frames, 15 steps.
"""
from __future__ import annotations

import math

import torch

from ltx_backend.latents.shapes import VideoLatentShape, VideoPixelShape
from ltx_backend.pipelines.components import Components
from ltx_backend.pipelines.two_stage import LTX2TwoStagePipeline
from ltx_backend.request import TWO_STAGE_HQ
from ltx_backend.sampling.guidance import GuidanceParams, default_guidance
from ltx_backend.sampling.schedule import ltx2_sigmas


class LTX2TwoStageHQPipeline(LTX2TwoStagePipeline):
    pipeline_class_name = TWO_STAGE_HQ
    sampler = "res2s"

    def __init__(self, components: Components):
        if components.model_version != "2.3":
            raise ValueError(f"invalid pipeline_class_name={TWO_STAGE_HQ!r}: needs an LTX-2.3 checkpoint, this is LTX-{components.model_version}")
        super().__init__(components)

    def guidance(self) -> tuple[GuidanceParams, GuidanceParams]:
        return default_guidance(self.model_version, hq=True)

    def stage1_sigmas(self, steps: int, stage1_shape: VideoPixelShape) -> torch.Tensor:
        latent = VideoLatentShape.from_pixel_shape(stage1_shape)
        return ltx2_sigmas(steps, num_tokens=math.prod(latent.to_torch_shape()[2:]))
