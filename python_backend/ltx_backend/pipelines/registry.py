"""The pipeline classes, by name: one registry, built from each class's spec."""
from __future__ import annotations

from collections.abc import Iterable

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.published_files import Needs
from ltx_backend.pipelines.audio_to_video import LTX2AudioToVideoPipeline
from ltx_backend.pipelines.distilled import LTX2DistilledPipeline
from ltx_backend.pipelines.ic_lora import LTX2ICLoraPipeline
from ltx_backend.pipelines.one_stage import LTX2Pipeline
from ltx_backend.pipelines.retake import LTX2DistilledRetakePipeline, LTX2RetakePipeline
from ltx_backend.pipelines.spec import PipelineSpec
from ltx_backend.pipelines.two_stage import LTX2TwoStagePipeline
from ltx_backend.pipelines.two_stage_hq import LTX2TwoStageHQPipeline

PIPELINES: dict[str, type] = {
    cls.spec.name: cls
    for cls in (LTX2Pipeline, LTX2TwoStagePipeline, LTX2TwoStageHQPipeline, LTX2DistilledPipeline, LTX2AudioToVideoPipeline,
                LTX2RetakePipeline, LTX2DistilledRetakePipeline, LTX2ICLoraPipeline)
}
PIPELINE_CLASSES: tuple[str, ...] = tuple(PIPELINES)
ONE_STAGE, TWO_STAGE, TWO_STAGE_HQ, DISTILLED, AUDIO_TO_VIDEO, RETAKE, DISTILLED_RETAKE, IC_LORA = PIPELINE_CLASSES
# The classes of the dev checkpoint: what a server runs when no class is named (the distilled class loads
# another checkpoint, so it is served on its own, when asked for).
DEV_CLASSES: tuple[str, ...] = tuple(name for name, cls in PIPELINES.items() if not cls.spec.distilled)


def spec_of(name: str) -> PipelineSpec:
    """The spec of a known class name (request.resolve has checked it; a KeyError here is a bug)."""
    return PIPELINES[name].spec


def classes_for(model_version: str) -> list[str]:
    """The dev checkpoint's classes that run on a model version, in registry order (a server's default)."""
    return [name for name in DEV_CLASSES if PIPELINES[name].spec.runs_on(model_version)]


def files_needed(class_names: Iterable[str], upsampler_given: bool = False, distilled_lora_given: bool = False) -> Needs:
    """The files the classes need besides the checkpoint (loading/published_files.py): Gemma always, the spatial
    x2 upscaler for two stages, the distilled LoRA for distilled-LoRA stages; less those given by path. The
    distilled class takes the distilled checkpoint, and cannot be loaded with the others."""
    specs = [spec_of(name) for name in class_names]
    distilled = {spec.distilled for spec in specs}
    if len(distilled) > 1:
        names = ", ".join(class_names)
        raise InvalidRequest("pipeline_class_name", names, f"{DISTILLED} on its own: it loads the distilled checkpoint, the other "
                             "classes the dev one (serve them from two servers)")
    return Needs(
        distilled_checkpoint=distilled == {True},
        text_encoder=True,
        spatial_upsampler=any(spec.two_stage for spec in specs) and not upsampler_given,
        distilled_lora=any(bool(spec.distilled_lora_strengths) for spec in specs) and not distilled_lora_given,
    )
