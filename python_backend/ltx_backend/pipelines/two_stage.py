"""LTX2TwoStagePipeline: two-stage text/image-to-video with audio, as ltx-pipelines' ti2vid_two_stages.

Stage 1 at half the asked width and height: full multimodal guidance over the LTX-2 schedule, images
encoded at that size. Between the stages: the spatial x2 latent upsampler. Stage 2 at the full size
with the stage-2 weights (distilled LoRA merged) and no guidance, over the distilled refinement sigmas
[0.909375, 0.725, 0.421875, 0]: the upsampled video latent and stage 1's audio latent are its starting
latents, re-noised to sigma 0.909375 (conditioned tokens stay clean), images re-encoded at the full
size. One seeded generator drives all noise (stage 1 video, audio; stage 2 video, audio) and the VAE
decoder's noise, in the reference's order. An audio-input class (spec.audio_input: audio_to_video.py) holds its
soundtrack's latents fixed in both stages in place of generating audio.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from ltx_backend.conditioning import ConditioningImage
from ltx_backend.latents.conditioning import ConditioningItem
from ltx_backend.latents.initial import frozen_audio_state, noise_audio_state, noise_video_state
from ltx_backend.latents.shapes import VideoLatentShape, VideoPixelShape
from ltx_backend.pipelines.components import Components
from ltx_backend.pipelines.images import check_pipeline_class, request_images, stage_conditionings
from ltx_backend.pipelines.prompt_enhancement import enhanced_prompt
from ltx_backend.pipelines.soundtrack import Soundtrack, read_soundtrack
from ltx_backend.pipelines.spec import ModelDefaults, PipelineSpec
from ltx_backend.sampling.guidance import DEFAULT_GUIDANCE, GuidanceParams, request_guidance
from ltx_backend.sampling.noise import GaussianNoiser
from ltx_backend.sampling.schedule import distilled_sigmas, ltx2_sigmas
from ltx_backend.types import DenoiseJob, GenerationResult, GuidanceContexts, OnStep

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest

SPEC = PipelineSpec(
    name="LTX2TwoStagePipeline",
    defaults={"2": ModelDefaults(768, 512, 121, 40), "2.3": ModelDefaults(768, 512, 121, 30)},
    guidance=DEFAULT_GUIDANCE,
    stages=(1, 2),
    distilled_lora_strengths={2: 1.0},  # ltx-pipelines' ti2vid_two_stages: --distilled-lora PATH [1.0]
)


class LTX2TwoStagePipeline:
    """The two-stage structure; the class's spec decides its guidance, sampler and stage-1 schedule."""

    spec = SPEC

    def __init__(self, components: Components):
        self.components = components

    @property
    def model_version(self) -> str:
        return self.components.model_version

    def stage1_sigmas(self, steps: int, stage1_shape: VideoPixelShape) -> torch.Tensor:
        """The LTX-2 schedule at the reference's default token count (it passes no latent), or shifted by the
        stage-1 latent's real token count."""
        if not self.spec.token_shifted_schedule:
            return ltx2_sigmas(steps)
        latent = VideoLatentShape.from_pixel_shape(stage1_shape)
        return ltx2_sigmas(steps, num_tokens=math.prod(latent.to_torch_shape()[2:]))

    def encode_prompts(self, request: GenerationRequest, prompt: str) -> GuidanceContexts:
        """`prompt`: the request's, or its enhancement."""
        positive, negative = self.components.encode_text([prompt, request.negative_prompt])
        return GuidanceContexts(positive=positive, negative=negative)

    def stage1_guidance(self, request: GenerationRequest) -> tuple[GuidanceParams, GuidanceParams]:
        return request_guidance(self.spec.guidance[self.components.model_version], request)

    def stage1_conditionings(self, request: GenerationRequest, images: list[ConditioningImage], shape: VideoPixelShape
                             ) -> list[ConditioningItem]:
        return stage_conditionings(self.components, images, shape.height, shape.width, request.image_mode)

    def __call__(self, request: GenerationRequest, on_step: OnStep | None = None) -> GenerationResult:
        """`request` must be resolved (GenerationRequest.resolve) for this model version."""
        check_pipeline_class(self.spec.name, request)
        images = request_images(request)
        c = self.components
        c.prepare_stage(1)  # in case the last request left stage-2 weights: switch during text encoding
        generator = torch.Generator(device=c.device).manual_seed(request.seed)
        noiser = GaussianNoiser(generator)
        prompt = enhanced_prompt(c, self.spec, request)
        contexts = self.encode_prompts(request, prompt)
        soundtrack = read_soundtrack(c, request) if self.spec.audio_input else None  # None: the audio is generated

        # Stage 1: half size, guided.
        shape1 = VideoPixelShape(1, request.num_frames, request.height // 2, request.width // 2, request.fps)
        conditionings = self.stage1_conditionings(request, images, shape1)
        video_state, video_layout = noise_video_state(shape1, noiser, conditionings, c.dtype, c.device)
        if soundtrack is None:
            audio_state, audio_layout = noise_audio_state(shape1, noiser, c.dtype, c.device)
        else:
            audio_state, audio_layout = frozen_audio_state(shape1, noiser, soundtrack.latent, c.dtype, c.device)
        video_guidance, audio_guidance = self.stage1_guidance(request)
        job = DenoiseJob(
            video=video_state,
            audio=audio_state,
            sigmas=self.stage1_sigmas(request.num_inference_steps, shape1).to(dtype=torch.float32, device=c.device),
            contexts=contexts,
            video_guidance=video_guidance,
            audio_guidance=audio_guidance,
            stage=1,
            sampler=self.spec.sampler,
        )
        video_state, audio_state = c.denoise(job, on_step)
        if request.skip_stage_2:  # stage 1's half-size video is the result
            return self._decoded(request, prompt, generator, video_layout.to_latent(video_state), audio_layout.to_latent(audio_state), soundtrack)
        c.prepare_stage(2)  # snapshot mode: a host-snapshot copy overlaps the upsampler and image encoding

        # Between the stages: x2 latent upsampling; stage 1's audio carries over.
        upsampled = c.upsample_video(video_layout.to_latent(video_state))
        stage1_audio = audio_layout.to_latent(audio_state)

        # Stage 2: full size, stage-2 weights, distilled sigmas, no guidance.
        shape2 = VideoPixelShape(1, request.num_frames, request.height, request.width, request.fps)
        expected = VideoLatentShape.from_pixel_shape(shape2).to_torch_shape()
        if upsampled.shape != expected:
            raise RuntimeError(f"the upsampler returned {tuple(upsampled.shape)}, stage 2 needs {tuple(expected)}")
        sigmas = distilled_sigmas(stage=2).to(c.device)
        conditionings = stage_conditionings(c, images, shape2.height, shape2.width, request.image_mode)
        video_state, video_layout = noise_video_state(
            shape2, noiser, conditionings, c.dtype, c.device, noise_scale=sigmas[0], initial_latent=upsampled
        )
        if soundtrack is None:
            audio_state, audio_layout = noise_audio_state(
                shape2, noiser, c.dtype, c.device, noise_scale=sigmas[0], initial_latent=stage1_audio
            )
        else:
            audio_state, audio_layout = frozen_audio_state(shape2, noiser, soundtrack.latent, c.dtype, c.device)
        job = DenoiseJob(
            video=video_state,
            audio=audio_state,
            sigmas=sigmas,
            contexts=GuidanceContexts(positive=contexts.positive),
            video_guidance=GuidanceParams(),
            audio_guidance=GuidanceParams(),
            stage=2,
            sampler=self.spec.sampler,
        )
        video_state, audio_state = c.denoise(job, on_step)
        c.prepare_stage(1)  # the next request's stage-1 weights come back while the VAE decodes
        return self._decoded(request, prompt, generator, video_layout.to_latent(video_state), audio_layout.to_latent(audio_state), soundtrack)

    def _decoded(self, request: GenerationRequest, prompt: str, generator: torch.Generator, video: torch.Tensor,
                 audio: torch.Tensor, soundtrack: Soundtrack | None) -> GenerationResult:
        """The result: `video` [1, C, F', H', W'] decoded; `audio` [1, C, T, M] decoded, or the given soundtrack."""
        c = self.components
        frames = c.decode_video(video, generator)
        enhanced = prompt if request.enhance_prompt else None
        if soundtrack is not None:
            return GenerationResult(frames=frames, audio=soundtrack.waveform, sample_rate=soundtrack.sample_rate, enhanced_prompt=enhanced)
        waveform, sample_rate = c.decode_audio(audio)
        return GenerationResult(frames=frames, audio=waveform, sample_rate=sample_rate, enhanced_prompt=enhanced)
