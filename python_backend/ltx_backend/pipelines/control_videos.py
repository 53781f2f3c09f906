"""The control videos of an IC-LoRA request as reference conditioning items of stage 1 (ltx-pipelines'
ICLoraPipeline._create_conditionings): each clip's first num_frames frames, resized to cover and centre-cropped
to stage 1's size over the IC-LoRA's reference_downscale_factor, encoded by the video VAE, appended as reference
tokens with the clip's strength (and, below 1, the request's conditioning_attention_strength on their attention)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ltx_backend.conditioning.images import image_pixels
from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.conditioning import ConditioningItem, ReferenceVideoCondition
from ltx_backend.media import iter_video_frames
from ltx_backend.pipelines.components import Components

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest


def check_reference_size(components: Components, request: GenerationRequest) -> None:
    """Stage 1's size must divide by the IC-LoRA's reference scale (before any model work)."""
    scale = components.reference_downscale_factor
    for name in ("width", "height"):
        stage1 = getattr(request, name) // 2
        if stage1 % scale:
            raise InvalidRequest(name, getattr(request, name), f"a size whose half divides by the IC-LoRA's reference_downscale_factor "
                                 f"{scale} (stage 1 runs at half size)")


def control_video_conditionings(components: Components, request: GenerationRequest, height: int, width: int) -> list[ConditioningItem]:
    c = components
    scale = c.reference_downscale_factor
    attention = request.conditioning_attention_strength if request.conditioning_attention_strength < 1.0 else None
    sources = request.video_conditioning_paths or request.video_conditioning
    items: list[ConditioningItem] = []
    for source, strength in zip(sources, request.video_conditioning_strengths):
        frames = [image_pixels(frame, height // scale, width // scale, c.dtype, c.device)
                  for frame in iter_video_frames(source, request.num_frames)]  # resolve() has checked that they decode
        latent = c.encode_video(torch.cat(frames, dim=2))
        items.append(ReferenceVideoCondition(latent, scale, strength, attention))
    return items
