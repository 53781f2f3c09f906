"""One stage's sampling loop, as both Components implementations run it: the job's sampler over its sigmas,
with step progress reported as StepProgress(stage, step, total)."""
from __future__ import annotations

import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.sampling.denoise import Denoiser, StepFn, euler_loop
from ltx_backend.sampling.res2s import res2s_loop
from ltx_backend.types import DenoiseJob, OnStep, StepProgress

SAMPLERS = ("euler", "res2s")


def run_stage(
    denoiser: Denoiser | None, job: DenoiseJob, step_fn: StepFn, model_dtype: torch.dtype, on_step: OnStep | None = None
) -> tuple[LatentState, LatentState]:
    """`step_fn(denoiser, video, audio, sigmas, i)` gives the guided x0 predictions (in-process GuidedStep, or a
    BLS call per step when served, where `denoiser` is None)."""

    def report(index: int, total: int) -> None:
        if on_step is not None:
            on_step(StepProgress(stage=job.stage, step=index + 1, total=total))

    if job.sampler == "res2s":
        return res2s_loop(denoiser, job.sigmas, job.video, job.audio, step_fn, on_step=report, model_dtype=model_dtype)
    if job.sampler != "euler":
        raise ValueError(f"unknown sampler {job.sampler!r}: one of {', '.join(SAMPLERS)}")
    return euler_loop(denoiser, job.sigmas, job.video, job.audio, step_fn, on_step=report)
