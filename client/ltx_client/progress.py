"""Step progress on the terminal: a tqdm bar per stage (an OnStep for `ltx-triton generate`)."""
from __future__ import annotations

from ltx_backend.types import StepProgress


class TqdmProgress:
    """A tqdm bar per stage over the denoising steps, closed at the stage's last step (its time per step is the
    denoising's, not the decoding's after it)."""

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
        if self._bar is None:  # this stage's bar is done
            return
        self._bar.update(progress.step - self._bar.n)
        if progress.step >= progress.total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __exit__(self, *exc) -> None:
        self.close()
