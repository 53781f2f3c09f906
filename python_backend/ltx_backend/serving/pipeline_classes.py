"""Which engine pipeline serves a resolved request, built on the served components."""
from __future__ import annotations

from ltx_backend.errors import InvalidRequest
from ltx_backend.pipelines.registry import ONE_STAGE, PIPELINES
from ltx_backend.request import GenerationRequest
from ltx_backend.serving.triton_components import TritonComponents


def served_classes(settings: dict[str, str]) -> list[str]:
    """The pipeline model's `pipeline_classes` parameter."""
    return [name.strip() for name in settings.get("pipeline_classes", ONE_STAGE).split(",") if name.strip()]


def pipeline_for(request: GenerationRequest, components: TritonComponents, settings: dict[str, str]):
    """A pipeline of the request's class on components that tell the denoiser which weights it needs."""
    name = request.pipeline_class_name
    served = served_classes(settings)
    if name not in served:
        raise InvalidRequest("pipeline_class_name", name, f"one this server runs: {', '.join(served)}")
    return PIPELINES[name](replace_components(components, name))


def replace_components(components: TritonComponents, pipeline_class_name: str) -> TritonComponents:
    return TritonComponents(
        components.pb, components.model_version, components.device, components.dtype, components.names, pipeline_class_name,
        components.reference_downscale_factor,
    )
