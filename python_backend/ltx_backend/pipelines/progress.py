"""Step progress: the callback the denoising loop calls after every step, and its tqdm rendering."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class StepProgress:
    stage: int  # 1 for one-stage and stage 1 of two-stage pipelines, 2 for the refinement stage
    step: int  # 1-based, after the step completed
    total: int  # steps in this stage


class OnStep(Protocol):
    def __call__(self, progress: StepProgress) -> None:
        """Called after each denoising step; raising (e.g. on cancellation) stops the loop."""


class TqdmProgress:
    """A tqdm bar per stage over the denoising steps."""

    def __init__(self) -> None:
        self._bar = None
        self._stage = None

    def __enter__(self) -> TqdmProgress:
        return self

    def __call__(self, progress: StepProgress) -> None:
        from tqdm import tqdm

        if self._stage != progress.stage:
            self.close()
            self._stage = progress.stage
            self._bar = tqdm(total=progress.total, desc=f"stage {progress.stage} denoising", unit="step")
        self._bar.update(progress.step - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __exit__(self, *exc) -> None:
        self.close()
