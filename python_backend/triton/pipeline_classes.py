"""Which engine pipeline serves a resolved request, built on the served components."""
from __future__ import annotations

from ltx_backend.pipelines.components import Components
from ltx_backend.pipelines.one_stage import LTX2Pipeline
from ltx_backend.request import ONE_STAGE, GenerationRequest, InvalidRequest

PIPELINES = {ONE_STAGE: LTX2Pipeline}


def pipeline_for(request: GenerationRequest, components: Components, settings: dict[str, str]):
    """settings: the pipeline model's parameters (e.g. the served pipeline classes)."""
    served = [name.strip() for name in settings.get("pipeline_classes", ONE_STAGE).split(",") if name.strip()]
    name = request.pipeline_class_name
    if name not in served or name not in PIPELINES:
        available = [n for n in served if n in PIPELINES]
        raise InvalidRequest("pipeline_class_name", name, f"one this server runs: {', '.join(available)}")
    return PIPELINES[name](components)
