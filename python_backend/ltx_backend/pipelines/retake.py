"""LTX2RetakePipeline: regenerate a time window of a given clip, as ltx-pipelines' RetakePipeline; and
LTX2DistilledRetakePipeline, its `distilled=True` mode on the distilled checkpoint.

One stage at the clip's own size, frame count and fps. The clip's frames and soundtrack are encoded and are the
starting latents; a temporal mask regenerates the tokens overlapping [retake_start, retake_end) seconds and keeps
the others (request.retake_video / retake_audio: whether the window is regenerated in each stream; off keeps that
stream whole). A clip without sound gets all of its audio generated. The window is then denoised as a one-stage
generation: multimodal guidance over the LTX-2 schedule (the reference's 40 steps by default), or, distilled, one
unguided pass per step on the 8 distilled sigmas. Both streams are decoded: the kept parts come back through the
VAEs, not as the original pixels and samples.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ltx_backend.latents.conditioning import TemporalRegionMask
from ltx_backend.latents.initial import noise_audio_state, noise_video_state
from ltx_backend.pipelines.components import Components
from ltx_backend.pipelines.images import check_pipeline_class
from ltx_backend.pipelines.prompt_enhancement import enhanced_prompt
from ltx_backend.pipelines.source_clip import encode_source_clip
from ltx_backend.pipelines.spec import ModelDefaults, PipelineSpec
from ltx_backend.sampling.guidance import DEFAULT_GUIDANCE, UNGUIDED, GuidanceParams, request_guidance
from ltx_backend.sampling.noise import GaussianNoiser
from ltx_backend.sampling.schedule import DISTILLED_SIGMAS, distilled_sigmas, ltx2_sigmas
from ltx_backend.types import DenoiseJob, GenerationResult, GuidanceContexts, OnStep

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest

# ltx-pipelines' retake: 40 steps whatever the version and an empty negative prompt (its __call__ defaults), seed
# 42 (its CLI's)
SPEC = PipelineSpec(
    name="LTX2RetakePipeline",
    defaults={version: ModelDefaults(None, None, None, 40, seed=42, negative_prompt="") for version in ("2", "2.3")},
    guidance=DEFAULT_GUIDANCE,
    source_video=True,
)
DISTILLED_SPEC = PipelineSpec(
    name="LTX2DistilledRetakePipeline",
    defaults={version: ModelDefaults(None, None, None, len(DISTILLED_SIGMAS) - 1, seed=42, guidance_scale=1.0) for version in ("2", "2.3")},
    guidance={version: UNGUIDED for version in ("2", "2.3")},
    distilled=True,
    source_video=True,
)


class LTX2RetakePipeline:
    spec = SPEC

    def __init__(self, components: Components):
        self.components = components

    @property
    def model_version(self) -> str:
        return self.components.model_version

    def encode_prompts(self, request: GenerationRequest, prompt: str) -> GuidanceContexts:
        positive, negative = self.components.encode_text([prompt, request.negative_prompt])
        return GuidanceContexts(positive=positive, negative=negative)

    def guidance(self, request: GenerationRequest) -> tuple[GuidanceParams, GuidanceParams]:
        return request_guidance(self.spec.guidance[self.components.model_version], request)

    def sigmas(self, request: GenerationRequest) -> torch.Tensor:
        return ltx2_sigmas(request.num_inference_steps)

    def __call__(self, request: GenerationRequest, on_step: OnStep | None = None) -> GenerationResult:
        """`request` must be resolved (GenerationRequest.resolve) for this model version."""
        check_pipeline_class(self.spec.name, request)
        c = self.components
        clip = encode_source_clip(c, request)
        generator = torch.Generator(device=c.device).manual_seed(request.seed)
        noiser = GaussianNoiser(generator)
        prompt = enhanced_prompt(c, self.spec, request)
        contexts = self.encode_prompts(request, prompt)

        window = (request.retake_start, request.retake_end)
        kept = (0.0, 0.0)  # overlaps no token: the stream is kept whole
        video_mask = TemporalRegionMask(*(window if request.retake_video else kept))
        video_state, video_layout = noise_video_state(clip.shape, noiser, [video_mask], c.dtype, c.device, initial_latent=clip.video)
        if clip.audio is None:
            audio_state, audio_layout = noise_audio_state(clip.shape, noiser, c.dtype, c.device)
        else:
            audio_mask = TemporalRegionMask(*(window if request.retake_audio else kept))
            audio_state, audio_layout = noise_audio_state(clip.shape, noiser, c.dtype, c.device, initial_latent=clip.audio,
                                                          conditionings=[audio_mask])
        video_guidance, audio_guidance = self.guidance(request)
        job = DenoiseJob(
            video=video_state,
            audio=audio_state,
            sigmas=self.sigmas(request).to(dtype=torch.float32, device=c.device),
            contexts=contexts,
            video_guidance=video_guidance,
            audio_guidance=audio_guidance,
        )
        video_state, audio_state = c.denoise(job, on_step)

        frames = c.decode_video(video_layout.to_latent(video_state), generator)
        waveform, sample_rate = c.decode_audio(audio_layout.to_latent(audio_state))
        return GenerationResult(frames=frames, audio=waveform, sample_rate=sample_rate,
                                enhanced_prompt=prompt if request.enhance_prompt else None)


class LTX2DistilledRetakePipeline(LTX2RetakePipeline):
    spec = DISTILLED_SPEC

    def encode_prompts(self, request: GenerationRequest, prompt: str) -> GuidanceContexts:
        (positive,) = self.components.encode_text([prompt])
        return GuidanceContexts(positive=positive)

    def guidance(self, request: GenerationRequest) -> tuple[GuidanceParams, GuidanceParams]:
        return UNGUIDED

    def sigmas(self, request: GenerationRequest) -> torch.Tensor:
        return distilled_sigmas(stage=1)
