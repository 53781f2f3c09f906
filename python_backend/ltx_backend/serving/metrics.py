"""Custom Prometheus metrics of the `pipeline` models, served on Triton's metrics endpoint beside its own
per-model request counters and timings:

    ltx_generations_total{model, pipeline_class, outcome}   outcome: success | invalid | cancelled | error
    ltx_generation_seconds_total{model, pipeline_class}     wall time of successful generations
    ltx_denoise_steps_total{model, pipeline_class, stage}   denoising steps completed
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ltx_backend.pipelines.registry import PIPELINES, spec_of

OUTCOMES = ("success", "invalid", "cancelled", "error")
UNKNOWN_CLASS = "unknown"  # the label of a request for a class this server does not run (refused: invalid or error)


class PipelineMetrics:
    """Every series the served classes can move exists from load on, at 0: a dashboard or alert sees 0, not
    "no data", until the first request."""

    def __init__(self, pb: Any, model: str, pipeline_classes: Iterable[str]):
        family = pb.MetricFamily
        self._model = model
        self._generations = family("ltx_generations_total", "Generations by pipeline class and outcome", family.COUNTER)
        self._seconds = family("ltx_generation_seconds_total", "Wall time of successful generations (s)", family.COUNTER)
        self._steps = family("ltx_denoise_steps_total", "Denoising steps completed", family.COUNTER)
        self._metrics: dict[tuple, Any] = {}
        for name in (name for name in pipeline_classes if name in PIPELINES):  # (an unknown one fails its requests)
            for outcome in OUTCOMES:
                self._metric(self._generations, pipeline_class=name, outcome=outcome)
            self._metric(self._seconds, pipeline_class=name)
            for stage in spec_of(name).stages:
                self._metric(self._steps, pipeline_class=name, stage=str(stage))
        for outcome in ("invalid", "error"):
            self._metric(self._generations, pipeline_class=UNKNOWN_CLASS, outcome=outcome)

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
