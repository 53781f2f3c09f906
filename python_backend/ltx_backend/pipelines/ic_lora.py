"""LTX2ICLoraPipeline: video conditioned on control videos through an IC-LoRA, as ltx-pipelines' ICLoraPipeline.

The distilled two-stage structure (LTX2DistilledPipeline: the distilled checkpoint, 8 + 3 fixed steps, one unguided
pass on the prompt per step) with the user LoRA (an IC-LoRA: Lightricks' depth / pose / canny control LoRAs) merged
into stage 1 only. Stage 1 also takes each control video (request.video_conditioning[_paths], one strength each)
as reference tokens: its first num_frames frames resized to stage 1's size over the IC-LoRA's
reference_downscale_factor (its metadata), encoded, appended with positions in the output's coordinates.
Stage 2 refines without the LoRA and without the references; images condition both stages as in the other
two-stage classes. A mask video (request.conditioning_attention_mask[_path]) weighs the references' attention by
region and time; skip_stage_2 decodes stage 1's half-size video instead.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ltx_backend.conditioning import ConditioningImage
from ltx_backend.latents.conditioning import ConditioningItem
from ltx_backend.latents.shapes import VideoPixelShape
from ltx_backend.pipelines.control_videos import check_reference_size, control_video_conditionings
from ltx_backend.pipelines.distilled import SPEC as DISTILLED_SPEC
from ltx_backend.pipelines.distilled import LTX2DistilledPipeline
from ltx_backend.pipelines.spec import PipelineSpec
from ltx_backend.types import GenerationResult, OnStep

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest

SPEC = PipelineSpec(
    name="LTX2ICLoraPipeline",
    defaults=DISTILLED_SPEC.defaults,  # ltx-pipelines' ic_lora takes the distilled two-stage argument parser
    guidance=DISTILLED_SPEC.guidance,
    stages=(1, 2),
    distilled=True,
    reference_videos=True,
    stage_2_optional=True,
    user_lora_stages=(1,),
)


class LTX2ICLoraPipeline(LTX2DistilledPipeline):
    spec = SPEC

    def __call__(self, request: GenerationRequest, on_step: OnStep | None = None) -> GenerationResult:
        check_reference_size(self.components, request)
        return super().__call__(request, on_step)

    def stage1_conditionings(self, request: GenerationRequest, images: list[ConditioningImage], shape: VideoPixelShape
                             ) -> list[ConditioningItem]:
        items = super().stage1_conditionings(request, images, shape)
        return items + control_video_conditionings(self.components, request, shape.height, shape.width)
