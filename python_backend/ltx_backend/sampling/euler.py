"""Velocity <-> denoised conversions and the first-order Euler step of rectified flow."""
from __future__ import annotations

import torch


def to_velocity(sample: torch.Tensor, sigma: float | torch.Tensor, denoised: torch.Tensor) -> torch.Tensor:
    """v = (x_t - x0) / sigma, computed in float32, returned in sample's dtype. A tensor sigma stays on its
    device (ltx-core takes .item(): the same float32 divisor, but a stream sync per call on a GPU); a float
    sigma of 0 is an error, as there."""
    if isinstance(sigma, torch.Tensor):
        sigma = sigma.to(torch.float32)
    elif sigma == 0:
        raise ValueError("Sigma can't be 0.0")
    return ((sample.float() - denoised.float()) / sigma).to(sample.dtype)


def to_denoised(sample: torch.Tensor, velocity: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """x0 = x_t - v * sigma (sigma may be per token), computed in float32, returned in sample's dtype."""
    if isinstance(sigma, torch.Tensor):
        sigma = sigma.to(torch.float32)
    return (sample.float() - velocity.float() * sigma).to(sample.dtype)


def euler_step(sample: torch.Tensor, denoised: torch.Tensor, sigmas: torch.Tensor, step_index: int) -> torch.Tensor:
    """x_{next} = x_t + v * (sigma_next - sigma)."""
    sigma, sigma_next = sigmas[step_index], sigmas[step_index + 1]
    velocity = to_velocity(sample, sigma, denoised)
    return (sample.float() + velocity.float() * (sigma_next - sigma)).to(sample.dtype)
