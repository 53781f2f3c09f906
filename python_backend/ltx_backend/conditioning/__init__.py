"""Image conditioning: the reference's image preprocessing and the conditioning items built from it."""
from .images import (
    DEFAULT_IMAGE_CRF,
    IMAGE_MODES,
    ConditioningImage,
    EncodedImage,
    conditioning_items,
    h264_round_trip,
    image_pixels,
    load_conditioning_image,
    resize_and_center_crop,
)

__all__ = [
    "DEFAULT_IMAGE_CRF",
    "IMAGE_MODES",
    "ConditioningImage",
    "EncodedImage",
    "conditioning_items",
    "h264_round_trip",
    "image_pixels",
    "load_conditioning_image",
    "resize_and_center_crop",
]
