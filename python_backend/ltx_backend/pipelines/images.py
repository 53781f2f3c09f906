"""Conditioning images of a request -> conditioning items of one stage (through the Components protocol)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from ltx_backend.conditioning import ConditioningImage, EncodedImage, conditioning_items, image_pixels, load_conditioning_image
from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.conditioning import ConditioningItem
from ltx_backend.pipelines.components import Components

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest


def request_images(request: GenerationRequest) -> list[ConditioningImage]:
    """Decode and preprocess (H.264 round trip) the request's images, with their frame indices and strengths.
    Run before any model work: an image that does not decode is an InvalidRequest naming it."""
    field, sources = ("image_paths", request.image_paths) if request.image_paths else ("images", request.images)
    images = []
    for index, (source, frame, strength) in enumerate(zip(sources, request.image_frame_indices or (), request.image_strengths or ())):
        try:
            image = load_conditioning_image(source, request.image_crf)
        except ValueError as error:
            shown = source if isinstance(source, str) else f"<image {index}>"
            raise InvalidRequest(field, shown, f"a readable image ({error})") from None
        images.append(ConditioningImage(image, frame, strength))
    return images


def stage_conditionings(
    components: Components, images: Sequence[ConditioningImage], height: int, width: int, mode: str
) -> list[ConditioningItem]:
    """Each image resized / cropped to this stage's size, encoded by the VAE, as conditioning items."""
    if not images:
        return []
    c = components
    pixels = torch.cat([image_pixels(i.image, height, width, c.dtype, c.device) for i in images])
    latents = c.encode_images(pixels)
    encoded = [EncodedImage(latent.unsqueeze(0), i.frame_index, i.strength) for latent, i in zip(latents, images)]
    return conditioning_items(encoded, mode)


def check_pipeline_class(pipeline_class_name: str, request: GenerationRequest) -> None:
    if request.pipeline_class_name != pipeline_class_name:
        raise InvalidRequest(
            "pipeline_class_name", request.pipeline_class_name, f"this pipeline was loaded as {pipeline_class_name}; load that class to use it"
        )
