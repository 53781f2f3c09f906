"""Which transformer weight sets a denoiser holds, and which of them a (pipeline class, stage) uses.

Each (class, stage) needs the base weights with its LoRAs merged (loading/lora.py, runtime/stage_weights.py):
the user LoRA everywhere, the distilled LoRA in the stages and at the strengths of each class's spec
(pipelines/<class>.py SPEC). A weight set is named by its LoRAs ("base", "style@0.8+distilled@1"), and identical
LoRA sets share one, so `LTX2Pipeline` and stage 1 of `LTX2TwoStagePipeline` use the same weights. In-process
(`generate`) the plan covers one class; a served denoiser's covers every class the server runs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.lora import LoraFile
from ltx_backend.pipelines.registry import spec_of
from ltx_backend.runtime.stage_weights import Loras


@dataclass(frozen=True)
class WeightPlan:
    weights: dict[str, Loras]  # weight-set key -> the LoRAs merged into it (first: what a denoiser loads with)
    route: dict[tuple[str, int], str]  # (pipeline class, stage) -> weight-set key

    def key(self, pipeline_class_name: str, stage: int) -> str:
        if (pipeline_class_name, stage) not in self.route:
            served = sorted({c for c, _ in self.route})
            raise InvalidRequest(
                "pipeline_class_name", pipeline_class_name, f"a class and stage this denoiser holds weights for (stage {stage} asked; serves {', '.join(served)})"
            )
        return self.route[(pipeline_class_name, stage)]

    def for_stages(self, stages: Sequence[int]) -> WeightPlan:
        """The part of the plan a per-stage denoiser model (resident mode) holds."""
        route = {k: v for k, v in self.route.items() if k[1] in stages}
        return WeightPlan({key: self.weights[key] for key in dict.fromkeys(route.values())}, route)


def _set_key(loras: Loras) -> str:
    return "+".join(f"{lora.name}@{scale:g}" for lora, scale in loras) or "base"


def weight_plan(
    model_version: str, pipeline_classes: Sequence[str], distilled_lora: LoraFile | None, user_loras: Loras = ()
) -> WeightPlan:
    """Classes that do not run on the model version (the HQ pipeline on LTX-2) are left out."""
    weights: dict[str, Loras] = {}
    route: dict[tuple[str, int], str] = {}
    for name in pipeline_classes:
        spec = spec_of(name)
        if not spec.runs_on(model_version):
            continue
        for stage, loras in spec.stage_loras(distilled_lora, user_loras).items():
            key = _set_key(list(loras))
            weights[key] = list(loras)
            route[(name, stage)] = key
    if not route:
        raise ValueError(f"none of the pipeline classes {', '.join(pipeline_classes)} runs on LTX-{model_version}")
    return WeightPlan(weights, route)
