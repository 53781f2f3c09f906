"""LTX2AudioToVideoPipeline: a video made for a given soundtrack, as ltx-pipelines' A2VidPipelineTwoStage.

The two-stage structure of LTX2TwoStagePipeline with the audio given instead of generated: the soundtrack
(WAV / MP3 / FLAC / a video's audio track: request.audio_path or audio) is read from audio_start_time for
audio_max_duration seconds, resampled to 16 kHz, turned into a log-mel spectrogram and encoded by the audio
VAE encoder; its latents (cut to the video's length) are held fixed in both stages (mask 0, timestep 0),
so the transformer denoises the video alone, listening to them through its audio-to-video attention. Stage 1
guides the video as the two-stage class does (its modality term is the audio-to-video one); the audio
stream is not guided, and keeps the prompt's context in the negative pass. The output carries the soundtrack as it was read, not a decoding of its latents.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ltx_backend.pipelines.spec import PipelineSpec
from ltx_backend.pipelines.two_stage import SPEC as TWO_STAGE_SPEC
from ltx_backend.pipelines.two_stage import LTX2TwoStagePipeline
from ltx_backend.sampling.guidance import DEFAULT_GUIDANCE, GuidanceParams, request_guidance
from ltx_backend.types import GuidanceContexts, TextContext

if TYPE_CHECKING:
    from ltx_backend.request import GenerationRequest

SPEC = PipelineSpec(
    name="LTX2AudioToVideoPipeline",
    defaults=TWO_STAGE_SPEC.defaults,  # ltx-pipelines' a2vid_two_stage takes the two-stage argument parser
    guidance={version: (video, GuidanceParams()) for version, (video, _) in DEFAULT_GUIDANCE.items()},
    stages=(1, 2),
    distilled_lora_strengths={2: 1.0},
    audio_input=True,
    enhance_prompt_seed=42,  # ltx-pipelines' A2VidPipelineTwoStage leaves encode_prompts' default
)


class LTX2AudioToVideoPipeline(LTX2TwoStagePipeline):
    spec = SPEC

    def encode_prompts(self, request: GenerationRequest, prompt: str) -> GuidanceContexts:
        """The negative pass (the video's CFG) sees the negative prompt in the video stream only: the unguided
        audio stream keeps the prompt's context there (the reference's audio guider has no negative context)."""
        positive, negative = self.components.encode_text([prompt, request.negative_prompt])
        return GuidanceContexts(positive=positive, negative=TextContext(video=negative.video, audio=positive.audio))

    def stage1_guidance(self, request: GenerationRequest) -> tuple[GuidanceParams, GuidanceParams]:
        video, _ = request_guidance(self.spec.guidance[self.components.model_version], request)
        return video, GuidanceParams()  # the held soundtrack is not denoised: nothing to guide
