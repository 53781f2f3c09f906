"""The res_2s sampler of ltx-pipelines' HQ pipeline (utils/samplers.py res2s_audio_video_denoising_loop,
utils/res2s.py, ltx-core's Res2sDiffusionStep), in its default settings (legacy_mode, bong iteration).

Per step, from sigma to sigma_next (h = log(sigma / sigma_next)):
    x0_1 = D(x, sigma)                                    first evaluation
    x_mid = x + h a21 (x0_1 - x), then SDE-noised towards sub_sigma = sqrt(sigma sigma_next)
    x0_2 = D(x_mid, sub_sigma)                            second evaluation, at the substep
    x_next = x + h (b1 (x0_1 - x) + b2 (x0_2 - x)), then SDE-noised towards sigma_next
with the Runge-Kutta coefficients a21, b1, b2 from the phi functions. A final sigma of 0 is replaced by
[0.0011, 0] and the last prediction at 0.0011 is the result. The SDE noise comes from two generators of
fixed seeds (-1 for the steps, 9999 for the substeps), as the reference's defaults: it does not depend on
the request's seed. Latents are rounded to `model_dtype` between steps (the reference's bfloat16
default; fp32 on CPU here).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import torch

from ltx_backend.latents.state import LatentState, post_process_latent
from ltx_backend.sampling.denoise import Denoiser, StepFn

STEP_NOISE_SEED = -1
SUBSTEP_NOISE_SEED = STEP_NOISE_SEED + 10000
FINAL_SIGMA = 0.0011
C2 = 0.5  # the substep's position (midpoint in log-sigma)


def phi(j: int, neg_h: float) -> float:
    """phi_j(z) = (e^z - sum_{k<j} z^k / k!) / z^j, with phi_j(0) = 1 / j!."""
    if abs(neg_h) < 1e-10:
        return 1.0 / math.factorial(j)
    remainder = sum(neg_h**k / math.factorial(k) for k in range(j))
    return (math.exp(neg_h) - remainder) / (neg_h**j)


def res2s_coefficients(h: float, c2: float = C2) -> tuple[float, float, float]:
    """(a21, b1, b2) of the two-stage exponential Runge-Kutta step of size h."""
    a21 = c2 * phi(1, -h * c2)
    b2 = phi(2, -h) / c2
    b1 = phi(1, -h) - b2
    return a21, b1, b2


def sde_step(sample: torch.Tensor, denoised: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Move `sample` at sigma to sigma_next along `denoised`, re-injecting noise with sigma_up = sigma_next / 2
    (variance preserving); returns `denoised` itself when sigma_next is 0. As Res2sDiffusionStep.step."""
    sigma_up = (sigma_next * 0.5).clamp(max=sigma_next * 0.9999)
    sigma_residual = (sigma_next**2 - sigma_up**2).clamp(min=0) ** 0.5
    alpha_ratio = (torch.ones_like(sigma_next) - sigma_next) + sigma_residual
    sigma_down = sigma_residual / alpha_ratio
    sigma_up = torch.nan_to_num(sigma_up, 0.0)
    sigma_down = torch.where(torch.isnan(sigma_down), sigma_next.to(sigma_down.dtype), sigma_down)
    alpha_ratio = torch.nan_to_num(alpha_ratio, 1.0)
    if torch.any(sigma_up == 0) or torch.any(sigma_next == 0):
        return denoised
    eps_next = (sample - denoised) / (sigma - sigma_next)
    denoised_next = sample - sigma * eps_next
    x = alpha_ratio * (denoised_next + sigma_down * eps_next) + sigma_up * noise
    return x.to(denoised.dtype)


def new_noise(like: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """float64 Gaussian noise of like's shape, standardised globally, then over the last two axes."""
    noise = torch.randn(like.shape, generator=generator, dtype=torch.float64, device=generator.device)
    noise = (noise - noise.mean()) / noise.std()
    return noise.sub_(noise.mean(dim=(-2, -1), keepdim=True)).div_(noise.std(dim=(-2, -1), keepdim=True))


def _inject(state: LatentState, sample: torch.Tensor, target: torch.Tensor, sigma, sigma_next, generator) -> torch.Tensor:
    x = sde_step(sample, target, sigma, sigma_next, new_noise(state.latent, generator))
    return post_process_latent(x, state.denoise_mask, state.clean_latent)


def res2s_loop(
    denoiser: Denoiser,
    sigmas: torch.Tensor,
    video_state: LatentState,
    audio_state: LatentState,
    step_fn: StepFn,
    on_step: Callable[[int, int], None] | None = None,
    model_dtype: torch.dtype | None = None,
) -> tuple[LatentState, LatentState]:
    """Denoise over `sigmas` ([steps + 1], float32) with res_2s; 2 model evaluations per step (+1 at the end
    when the schedule ends at 0). `on_step(step_index, steps)` after each step."""
    model_dtype = video_state.latent.dtype if model_dtype is None else model_dtype
    device = video_state.latent.device
    step_generator = torch.Generator(device=device).manual_seed(STEP_NOISE_SEED)
    substep_generator = torch.Generator(device=device).manual_seed(SUBSTEP_NOISE_SEED)

    total = len(sigmas) - 1
    if sigmas[-1] == 0:
        sigmas = torch.cat([sigmas[:-1], torch.tensor([FINAL_SIGMA, 0.0], device=sigmas.device)], dim=0)
    hs = -torch.log(sigmas[1:].double().cpu() / sigmas[:-1].double().cpu())

    def clean(x0: tuple, states: tuple[LatentState, LatentState]) -> list[torch.Tensor]:
        return [post_process_latent(x, s.denoise_mask, s.clean_latent) for x, s in zip(x0, states)]

    for i in range(total):
        sigma, sigma_next = sigmas[i].double(), sigmas[i + 1].double()
        states = (video_state, audio_state)
        anchors = [s.latent.clone().double() for s in states]
        x0_1 = clean(step_fn(denoiser, video_state, audio_state, sigmas, i), states)

        h = hs[i].item()
        a21, b1, b2 = res2s_coefficients(h)
        sub_sigma = torch.sqrt(sigma * sigma_next)
        eps_1 = [x.double() - a for x, a in zip(x0_1, anchors)]
        mids = [a.double() + h * a21 * e for a, e in zip(anchors, eps_1)]
        mids = [_inject(s, a, m, sigma, sub_sigma, substep_generator) for s, a, m in zip(states, anchors, mids)]
        if h < 0.5 and sigma > 0.03:  # bong iteration: move the anchor to agree with the noised midpoint
            for _ in range(100):
                anchors = [m - h * a21 * e for m, e in zip(mids, eps_1)]
                eps_1 = [x.double() - a for x, a in zip(x0_1, anchors)]

        mid_states = [replace(s, latent=m.to(model_dtype)) for s, m in zip(states, mids)]
        x0_2 = clean(step_fn(denoiser, *mid_states, torch.stack([sub_sigma]).to(sigmas.device), 0), states)
        eps_2 = [x.double() - a for x, a in zip(x0_2, anchors)]
        nexts = [a + h * (b1 * e1 + b2 * e2) for a, e1, e2 in zip(anchors, eps_1, eps_2)]
        nexts = [_inject(s, a, n, sigmas[i], sigmas[i + 1], step_generator) for s, a, n in zip(states, anchors, nexts)]
        video_state, audio_state = (replace(s, latent=n.to(model_dtype)) for s, n in zip(states, nexts))
        if on_step is not None:
            on_step(i, total)

    if sigmas[-1] == 0:
        states = (video_state, audio_state)
        x0 = clean(step_fn(denoiser, video_state, audio_state, sigmas, total), states)
        video_state, audio_state = (replace(s, latent=x.to(model_dtype)) for s, x in zip(states, x0))
    return video_state, audio_state
