"""Image conditioning as ltx-pipelines 1.0.0 does it (utils/media_io.py, utils/helpers.py).

    encoded image --decode--> uint8 [H, W, 3] --H.264 round trip at its CRF--> uint8 [H', W', 3]
        (once per image: `load_conditioning_image`)
    --resize to cover (bilinear, ceil), centre crop, /127.5 - 1--> pixels [1, 3, 1, h, w]
        (per stage size: `image_pixels`)
    --video VAE encoder--> latent [1, 128, 1, h/32, w/32]   (Components.encode_images)
    --> conditioning items: an image at frame 0 replaces the first latent frame (LatentIndexCondition);
        an image at any other frame is appended as keyframe tokens at that frame (KeyframeCondition),
        each with its strength (1.0 keeps it exactly). `mode="keyframes"` appends every image, frame 0
        included, as keyframe tokens (ltx-pipelines' KeyframeInterpolationPipeline).
"""
from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ltx_backend.latents.conditioning import ConditioningItem, KeyframeCondition, LatentIndexCondition
from ltx_backend.media import iter_video_frames

DEFAULT_IMAGE_CRF = 33  # ltx-pipelines' H.264 round trip of conditioning images
# "combined": frame 0 replaces the first latent frame, other frames are keyframe tokens (ltx-pipelines' ti2vid
# pipelines); "keyframes": every image is keyframe tokens (its KeyframeInterpolationPipeline).
IMAGE_MODES = ("combined", "keyframes")


@dataclass(frozen=True)
class ConditioningImage:
    """One preprocessed conditioning image (after the H.264 round trip) and where it goes."""

    image: np.ndarray  # uint8 [H, W, 3]
    frame_index: int  # pixel frame, 0 .. num_frames - 1
    strength: float = 1.0  # 1.0: the image is kept exactly; 0.0: it is only a starting point


@dataclass(frozen=True)
class EncodedImage:
    latent: torch.Tensor  # [1, 128, 1, h/32, w/32] normalised VAE latent
    frame_index: int
    strength: float


def h264_round_trip(image: np.ndarray, crf: float = DEFAULT_IMAGE_CRF) -> np.ndarray:
    """uint8 [H, W, 3] -> the first frame of a one-frame H.264 (libx264, preset veryfast, yuv420p) MP4 at
    `crf`, cropped to even sides, as ltx-pipelines' preprocess. crf 0 returns the image unchanged."""
    import av

    if crf == 0:
        return image
    try:
        return _h264_first_frame(image, crf)
    except av.error.FFmpegError as error:  # e.g. a side past libx264's 16384
        raise ValueError(f"the H.264 round trip (crf {crf}) of a {image.shape[1]}x{image.shape[0]} image failed: {error}") from error


def _h264_first_frame(image: np.ndarray, crf: float) -> np.ndarray:
    import av

    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    image = np.ascontiguousarray(image[:height, :width])
    buffer = io.BytesIO()
    container = av.open(buffer, "w", format="mp4")
    try:
        stream = container.add_stream("libx264", rate=1, options={"crf": str(crf), "preset": "veryfast"})
        stream.height, stream.width = height, width
        frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format="yuv420p")
        container.mux(stream.encode(frame))
        container.mux(stream.encode())
    finally:
        container.close()
    container = av.open(io.BytesIO(buffer.getvalue()))
    try:
        video = next(s for s in container.streams if s.type == "video")
        decoded = next(container.decode(video))
    finally:
        container.close()
    return decoded.to_ndarray(format="rgb24")


def load_conditioning_image(data: bytes | str | Path | np.ndarray, crf: float = DEFAULT_IMAGE_CRF) -> np.ndarray:
    """Encoded image bytes, an image path or a uint8 [H, W, 3] array -> the preprocessed uint8 [H', W', 3].
    Raises ValueError on data that is not an image."""
    from ltx_backend.media import decode_image

    image = data if isinstance(data, np.ndarray) else decode_image(data)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a uint8 [H, W, 3] image, got {image.dtype} {list(image.shape)}")
    if min(image.shape[:2]) < 2:
        raise ValueError(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small (at least 2x2)")
    return h264_round_trip(image, crf)


def resize_and_center_crop(image: np.ndarray | torch.Tensor, height: int, width: int,
                           dtype: torch.dtype | None = torch.float32) -> torch.Tensor:
    """[H, W, 3] -> [1, 3, 1, height, width] (values of the input's range) in `dtype` (None: the input's, as uint8 for
    the prompt enhancer's image): bilinear resize to cover the target (sides rounded up), then a centre crop, as
    ltx-pipelines' resize_and_center_crop."""
    tensor = torch.as_tensor(np.asarray(image) if isinstance(image, np.ndarray) else image)
    tensor = (tensor if dtype is None else tensor.to(dtype)).permute(2, 0, 1).unsqueeze(0)  # 1 c h w
    src_h, src_w = tensor.shape[-2:]
    scale = max(height / src_h, width / src_w)
    new_h, new_w = math.ceil(src_h * scale), math.ceil(src_w * scale)
    tensor = torch.nn.functional.interpolate(tensor, size=(new_h, new_w), mode="bilinear", align_corners=False)
    top, left = (new_h - height) // 2, (new_w - width) // 2
    tensor = tensor[:, :, top : top + height, left : left + width]
    return tensor.unsqueeze(2)  # 1 c 1 h w


def image_pixels(image: np.ndarray, height: int, width: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Preprocessed uint8 image -> the encoder's input [1, 3, 1, height, width] in [-1, 1]."""
    pixels = resize_and_center_crop(torch.as_tensor(image, device=device), height, width)
    return (pixels / 127.5 - 1.0).to(device=device, dtype=dtype)


def video_pixels(source: bytes | str | Path, frame_cap: int, height: int, width: int, dtype: torch.dtype,
                 device: torch.device) -> torch.Tensor:
    """A clip's first `frame_cap` frames, each as image_pixels -> the encoder's input [1, 3, F, height, width] in
    [-1, 1] (ltx-pipelines' load_video_conditioning). Raises media.VideoInputError when they do not decode."""
    return torch.cat([image_pixels(frame, height, width, dtype, device) for frame in iter_video_frames(source, frame_cap)], dim=2)


def conditioning_items(images: Sequence[EncodedImage], mode: str = "combined") -> list[ConditioningItem]:
    """The conditioning items of encoded images, in order (ltx-pipelines' combined_image_conditionings, or
    image_conditionings_by_adding_guiding_latent for mode="keyframes")."""
    if mode not in IMAGE_MODES:
        raise ValueError(f"invalid image mode {mode!r}: one of {', '.join(IMAGE_MODES)}")
    items: list[ConditioningItem] = []
    for image in images:
        if image.frame_index == 0 and mode == "combined":
            items.append(LatentIndexCondition(image.latent, image.strength, latent_idx=0))
        else:
            items.append(KeyframeCondition(image.latent, image.frame_index, image.strength))
    return items
