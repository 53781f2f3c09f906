"""Custom Prometheus metrics of the `pipeline` models, served on Triton's metrics endpoint beside its own
per-model request counters and timings:

    ltx_generations_total{model, pipeline_class, outcome}   outcome: success | invalid | cancelled | error
    ltx_generation_seconds_total{model, pipeline_class}     wall time of successful generations
    ltx_denoise_steps_total{model, pipeline_class, stage}   denoising steps completed
"""
from __future__ import annotations

from typing import Any


class PipelineMetrics:
    def __init__(self, pb: Any, model: str):
        family = pb.MetricFamily
        self._model = model
        self._generations = family("ltx_generations_total", "Generations by pipeline class and outcome", family.COUNTER)
        self._seconds = family("ltx_generation_seconds_total", "Wall time of successful generations (s)", family.COUNTER)
        self._steps = family("ltx_denoise_steps_total", "Denoising steps completed", family.COUNTER)
        self._metrics: dict[tuple, Any] = {}

    def _metric(self, family: Any, **labels: str) -> Any:
        key = (id(family), *sorted(labels.items()))
        if key not in self._metrics:
            self._metrics[key] = family.Metric(labels={"model": self._model, **labels})
        return self._metrics[key]

    def generation(self, pipeline_class: str, outcome: str, seconds: float | None = None) -> None:
        self._metric(self._generations, pipeline_class=pipeline_class, outcome=outcome).increment(1)
        if seconds is not None:
            self._metric(self._seconds, pipeline_class=pipeline_class).increment(seconds)

    def step(self, pipeline_class: str, stage: int) -> None:
        self._metric(self._steps, pipeline_class=pipeline_class, stage=str(stage)).increment(1)
