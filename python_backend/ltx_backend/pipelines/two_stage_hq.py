"""LTX2TwoStageHQPipeline (LTX-2.3 only): ltx-pipelines' ti2vid_two_stages_hq.

The two-stage structure of LTX2TwoStagePipeline; its spec differs in four things:
- the res_2s second-order sampler (sampling/res2s.py) in both stages instead of Euler;
- the HQ guidance (no STG; video rescale 0.45, audio rescale 1.0: ltx-pipelines' LTX_2_3_HQ_PARAMS);
- a stage-1 schedule shifted by the stage-1 latent's real token count;
- the distilled LoRA in both stages, at strength 0.25 in stage 1 and 0.5 in stage 2
  (--distilled-lora-strength-stage-1 / -stage-2);
and its defaults: 1920x1088, 121 frames, 15 steps.
"""
from __future__ import annotations

from ltx_backend.pipelines.spec import ModelDefaults, PipelineSpec
from ltx_backend.pipelines.two_stage import LTX2TwoStagePipeline
from ltx_backend.sampling.guidance import GuidanceParams

HQ_GUIDANCE = (
    GuidanceParams(cfg_scale=3.0, stg_scale=0.0, rescale_scale=0.45, modality_scale=3.0),
    GuidanceParams(cfg_scale=7.0, stg_scale=0.0, rescale_scale=1.0, modality_scale=3.0),
)

SPEC = PipelineSpec(
    name="LTX2TwoStageHQPipeline",
    defaults={"2.3": ModelDefaults(1920, 1088, 121, 15)},
    guidance={"2.3": HQ_GUIDANCE},
    stages=(1, 2),
    distilled_lora_strengths={1: 0.25, 2: 0.5},
    sampler="res2s",
    token_shifted_schedule=True,
)


class LTX2TwoStageHQPipeline(LTX2TwoStagePipeline):
    spec = SPEC
