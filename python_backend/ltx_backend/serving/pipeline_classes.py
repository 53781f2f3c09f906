"""Which engine pipeline serves a resolved request, built on the served components."""
from __future__ import annotations

from ltx_backend.errors import InvalidRequest
from ltx_backend.pipelines.registry import ONE_STAGE, PIPELINES
from ltx_backend.request import GenerationRequest
from ltx_backend.serving.triton_components import TritonComponents


def served_classes(settings: dict[str, str]) -> list[str]:
    """The pipeline model's `pipeline_classes` parameter."""
    return [name.strip() for name in settings.get("pipeline_classes", ONE_STAGE).split(",") if name.strip()]


def check_served(name: str, settings: dict[str, str]) -> None:
    """InvalidRequest unless this server runs pipeline class `name` (checked before the request's other fields, whose
    allowed values depend on the class)."""
    served = served_classes(settings)
    if name not in served:
        raise InvalidRequest("pipeline_class_name", name, f"one this server runs: {', '.join(served)}")


def pipeline_for(request: GenerationRequest, components: TritonComponents, settings: dict[str, str]):
    """A pipeline of the request's class on components that tell the denoiser which weights it needs."""
    check_served(request.pipeline_class_name, settings)
    return PIPELINES[request.pipeline_class_name](replace_components(components, request.pipeline_class_name))


def replace_components(components: TritonComponents, pipeline_class_name: str) -> TritonComponents:
    return TritonComponents(
        components.pb, components.model_version, components.device, components.dtype, components.names, pipeline_class_name,
        components.reference_downscale_factor,
    )
