"""--enhance-prompt: the request's prompt rewritten by Gemma 3 before it is encoded (ltx-pipelines' encode_prompts with
enhance_first_prompt), with the request's first image for image-to-video, at the seed the reference's class uses."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch

from ltx_backend.conditioning.images import resize_and_center_crop
from ltx_backend.errors import InvalidRequest
from ltx_backend.media import decode_image
from ltx_backend.pipelines.components import Components

if TYPE_CHECKING:
    from ltx_backend.pipelines.spec import PipelineSpec
    from ltx_backend.request import GenerationRequest

log = logging.getLogger(__name__)
IMAGE_LONG_SIDE = 896  # the image Gemma sees (ltx-pipelines' generate_enhanced_prompt)


def enhanced_prompt(components: Components, spec: PipelineSpec, request: GenerationRequest) -> str:
    """The prompt to encode: the request's, or (enhance_prompt) Gemma's rewrite of it."""
    if not request.enhance_prompt:
        return request.prompt
    seed = request.seed if spec.enhance_prompt_seed is None else spec.enhance_prompt_seed
    prompt = components.enhance_prompt(request.prompt, enhancement_image(request), seed)
    log.info("enhanced prompt: %s", prompt)
    return prompt


def enhancement_image(request: GenerationRequest) -> torch.Tensor | None:
    """The first image as read (no H.264 round trip) -> uint8 [h, w, 3], its long side IMAGE_LONG_SIDE (ltx-pipelines'
    resize_aspect_ratio_preserving: truncated sides, the cover-and-crop resize bilinear on the uint8 pixels)."""
    source = request.image_paths[0] if request.image_paths else request.images[0] if request.images else None
    if source is None:
        return None
    try:
        image = decode_image(source)
    except ValueError as error:
        field = "image_paths" if request.image_paths else "images"
        raise InvalidRequest(field, source if request.image_paths else "<image 0>", f"a readable image ({error})") from None
    height, width = image.shape[:2]
    scale = IMAGE_LONG_SIDE / float(max(height, width))
    resized = resize_and_center_crop(torch.as_tensor(image), int(height * scale), int(width * scale), dtype=None)  # [1, 3, 1, h, w]
    return resized[0, :, 0].permute(1, 2, 0).to(torch.uint8)
