"""Sigma schedules: the LTX-2 token-shifted schedule and the distilled models' fixed schedules."""
from __future__ import annotations

import math

import torch

# Noise levels the distilled model was trained for (ltx_pipelines DISTILLED_SIGMA_VALUES).
DISTILLED_SIGMAS = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
# Refinement (stage 2) schedule: the tail of the distilled one.
STAGE2_DISTILLED_SIGMAS = (0.909375, 0.725, 0.421875, 0.0)

BASE_SHIFT_TOKENS = 1024
MAX_SHIFT_TOKENS = 4096


def ltx2_sigmas(
    steps: int,
    num_tokens: int | None = None,
    max_shift: float = 2.05,
    base_shift: float = 0.95,
    stretch: bool = True,
    terminal: float = 0.1,
    default_num_tokens: int = MAX_SHIFT_TOKENS,
) -> torch.Tensor:
    """[steps + 1] float32 sigmas from 1 to 0, as ltx-core's LTX2Scheduler.

    The time shift grows linearly with the token count (base_shift at 1024 tokens, max_shift at 4096);
    the pipelines pass no latent, so the default count of 4096 applies. With `stretch`, the last
    non-zero sigma is moved to `terminal` by scaling (1 - sigma).
    """
    tokens = default_num_tokens if num_tokens is None else num_tokens
    t = torch.linspace(1.0, 0.0, steps + 1)

    slope = (max_shift - base_shift) / (MAX_SHIFT_TOKENS - BASE_SHIFT_TOKENS)
    shift = tokens * slope + (base_shift - slope * BASE_SHIFT_TOKENS)
    e = math.exp(shift)
    sigmas = torch.where(t != 0, e / (e + (1 / t - 1)), 0)  # exp(shift) / (exp(shift) + 1/t - 1)

    if stretch:
        nonzero = sigmas != 0
        one_minus = 1.0 - sigmas[nonzero]
        scale = one_minus[-1] / (1.0 - terminal)
        sigmas[nonzero] = 1.0 - one_minus / scale

    return sigmas.to(torch.float32)


def distilled_sigmas(stage: int = 1) -> torch.Tensor:
    """The distilled schedule (stage 1) or its refinement tail (stage 2), float32."""
    values = DISTILLED_SIGMAS if stage == 1 else STAGE2_DISTILLED_SIGMAS
    return torch.tensor(values, dtype=torch.float32)
