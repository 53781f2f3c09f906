"""LTX2Pipeline: one-stage text/image-to-video with audio, as ltx-pipelines' ti2vid_one_stage does it.

prompt, negative prompt -> text contexts; conditioning images (if any) encoded at the output size;
seeded noise for video then audio; the LTX-2 sigma schedule; multimodal guidance (CFG, STG, rescale,
audio<->video modality) for `num_inference_steps` Euler steps; VAE decode (the same generator drives the
decoder's noise) and audio decode + vocoder.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ltx_backend.latents.initial import noise_audio_state, noise_video_state
from ltx_backend.latents.shapes import VideoPixelShape
from ltx_backend.pipelines.components import Components
from ltx_backend.pipelines.images import check_pipeline_class, request_images, stage_conditionings
from ltx_backend.pipelines.prompt_enhancement import enhanced_prompt
from ltx_backend.pipelines.spec import ModelDefaults, PipelineSpec
from ltx_backend.sampling.guidance import DEFAULT_GUIDANCE, request_guidance
from ltx_backend.sampling.noise import GaussianNoiser
from ltx_backend.sampling.schedule import ltx2_sigmas
from ltx_backend.types import DenoiseJob, GenerationResult, GuidanceContexts, OnStep

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest

SPEC = PipelineSpec(
    name="LTX2Pipeline",
    defaults={"2": ModelDefaults(768, 512, 121, 40), "2.3": ModelDefaults(768, 512, 121, 30)},
    guidance=DEFAULT_GUIDANCE,
)


class LTX2Pipeline:
    spec = SPEC

    def __init__(self, components: Components):
        self.components = components

    @property
    def model_version(self) -> str:
        return self.components.model_version

    def __call__(self, request: GenerationRequest, on_step: OnStep | None = None) -> GenerationResult:
        """`request` must be resolved (GenerationRequest.resolve) for this model version."""
        check_pipeline_class(self.spec.name, request)
        images = request_images(request)
        c = self.components
        generator = torch.Generator(device=c.device).manual_seed(request.seed)
        noiser = GaussianNoiser(generator)
        prompt = enhanced_prompt(c, self.spec, request)
        positive, negative = c.encode_text([prompt, request.negative_prompt])

        shape = VideoPixelShape(batch=1, frames=request.num_frames, height=request.height, width=request.width, fps=request.fps)
        conditionings = stage_conditionings(c, images, shape.height, shape.width, request.image_mode)
        video_state, video_layout = noise_video_state(shape, noiser, conditionings, c.dtype, c.device)
        audio_state, audio_layout = noise_audio_state(shape, noiser, c.dtype, c.device)

        video_guidance, audio_guidance = request_guidance(self.spec.guidance[c.model_version], request)
        job = DenoiseJob(
            video=video_state,
            audio=audio_state,
            sigmas=ltx2_sigmas(request.num_inference_steps).to(dtype=torch.float32, device=c.device),
            contexts=GuidanceContexts(positive=positive, negative=negative),
            video_guidance=video_guidance,
            audio_guidance=audio_guidance,
        )
        video_state, audio_state = c.denoise(job, on_step)

        frames = c.decode_video(video_layout.to_latent(video_state), generator)
        waveform, sample_rate = c.decode_audio(audio_layout.to_latent(audio_state))
        return GenerationResult(frames=frames, audio=waveform, sample_rate=sample_rate,
                                enhanced_prompt=prompt if request.enhance_prompt else None)
