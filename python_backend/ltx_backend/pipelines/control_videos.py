"""The control videos of an IC-LoRA request as reference conditioning items of stage 1 (ltx-pipelines'
ICLoraPipeline._create_conditionings): each clip's first num_frames frames, resized to cover and centre-cropped
to stage 1's size over the IC-LoRA's reference_downscale_factor, encoded by the video VAE, appended as reference
tokens with the clip's strength, their attention weighed by the request's conditioning_attention_strength (below 1)
or by its mask video times that strength."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from ltx_backend.conditioning.images import video_pixels
from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.conditioning import ConditioningItem, ReferenceVideoCondition
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


def check_mask_frames(field_name: str, shown: Any, mask_frames: int, latent_frames: int, num_frames: int) -> None:
    """A control video's latent frames take the attention mask's first frame, then equal runs of the rest (the
    reference's causal temporal downsampling): the runs must divide evenly."""
    if latent_frames > 1 and (mask_frames == 1 or (mask_frames - 1) % (latent_frames - 1)):
        raise InvalidRequest(field_name, shown, f"a mask video of 1 + a multiple of {latent_frames - 1} frames (up to num_frames "
                             f"{num_frames}): a control video here has {latent_frames} latent frames (the mask has {mask_frames})")


def attention_mask_source(request: GenerationRequest) -> tuple[str, str | bytes | None]:
    """(the field, the mask video): its path (generate) or its bytes (served); None without one."""
    if request.conditioning_attention_mask_path is not None:
        return "conditioning_attention_mask_path", request.conditioning_attention_mask_path
    return "conditioning_attention_mask", request.conditioning_attention_mask


def control_video_conditionings(components: Components, request: GenerationRequest, height: int, width: int) -> list[ConditioningItem]:
    c = components
    scale = c.reference_downscale_factor
    mask = attention_mask_video(c, request, height, width)
    strength = request.conditioning_attention_strength
    sources = request.video_conditioning_paths or request.video_conditioning
    items: list[ConditioningItem] = []
    for source, video_strength in zip(sources, request.video_conditioning_strengths):
        # resolve() has checked that they decode
        latent = c.encode_video(video_pixels(source, request.num_frames, height // scale, width // scale, c.dtype, c.device))
        if mask is not None:
            # resolve() checked the frame counts the headers state; a clip may decode to others
            check_mask_frames(attention_mask_source(request)[0], "<mask video>", mask.shape[2], latent.shape[2], request.num_frames)
            attention = latent_token_weights(mask, latent.shape[2:]) * strength
        else:
            attention = strength if strength < 1.0 else None
        items.append(ReferenceVideoCondition(latent, scale, video_strength, attention))
    return items


def attention_mask_video(components: Components, request: GenerationRequest, height: int, width: int) -> torch.Tensor | None:
    """The request's attention mask video at stage 1's size: its first num_frames frames read as the control videos
    are, their channel mean mapped from [-1, 1] to [0, 1] -> [1, 1, F, height, width]; None without one."""
    _, source = attention_mask_source(request)
    if source is None:
        return None
    c = components
    pixels = video_pixels(source, request.num_frames, height, width, c.dtype, c.device)
    return ((pixels.mean(dim=1, keepdim=True) + 1.0) / 2.0).clamp(0.0, 1.0)


def latent_token_weights(mask: torch.Tensor, latent_size: torch.Size) -> torch.Tensor:
    """A pixel mask [B, 1, F, H, W] -> one weight per token of a latent of `latent_size` (F', H', W') [B, F'*H'*W'],
    in the patchifier's (f, h, w) order (ltx-pipelines' ICLoraPipeline._downsample_mask_to_latent): each frame
    area-averaged to H' x W'; the first frame alone (the causal VAE encodes it alone), the rest in equal runs
    averaged, one per later latent frame."""
    frames, height, width = latent_size
    b, _, f = mask.shape[:3]
    spatial = torch.nn.functional.interpolate(mask.transpose(1, 2).reshape(b * f, 1, *mask.shape[3:]), size=(height, width), mode="area")
    spatial = spatial.reshape(b, f, 1, height, width).transpose(1, 2)  # [B, 1, F, H', W']
    per_latent_frame = spatial[:, :, :1]  # the first frame alone
    if f > 1 and frames > 1:
        run = (f - 1) // (frames - 1)  # check_mask_frames: the runs divide evenly
        rest = spatial[:, :, 1:].reshape(b, 1, frames - 1, run, height, width).mean(dim=3)
        per_latent_frame = torch.cat([per_latent_frame, rest], dim=2)  # [B, 1, F', H', W']
    return per_latent_frame.reshape(b, -1)
