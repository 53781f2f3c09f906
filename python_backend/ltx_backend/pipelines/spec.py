"""PipelineSpec: what one pipeline class is, as data: the model versions it runs on with the sampling
defaults of each, its stages, the guidance it starts from, its sampler and stage-1 schedule, and the strength
of the distilled LoRA in each stage. Each pipeline module declares its own; pipelines/registry.py lists them.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ltx_backend.sampling.guidance import GuidanceParams


@dataclass(frozen=True)
class ModelDefaults:
    """Sampling defaults of one (model version, pipeline class), from the spec's table. A class that edits a given
    clip (spec.source_video) has no size, frame count or fps of its own: the clip's are taken (None here)."""

    width: int | None
    height: int | None
    num_frames: int | None
    num_inference_steps: int
    fps: float = 24.0
    seed: int = 10
    guidance_scale: float = 3.0  # the video CFG scale of ltx-pipelines' defaults
    negative_prompt: str | None = None  # None: the reference's DEFAULT_NEGATIVE_PROMPT (request.py)


@dataclass(frozen=True)
class PipelineSpec:
    name: str  # the class name users ask for (pipeline_class_name)
    defaults: Mapping[str, ModelDefaults]  # model version ("2", "2.3") -> defaults; the versions it runs on
    guidance: Mapping[str, tuple[GuidanceParams, GuidanceParams]]  # model version -> stage-1 (video, audio) guidance
    stages: tuple[int, ...] = (1,)  # 1: one stage at the output size; (1, 2): half size, x2 upsampling, refinement
    # Strength of the distilled LoRA merged into each stage's weights (ltx-pipelines' --distilled-lora PATH
    # STRENGTH, or --distilled-lora-strength-stage-1 / -stage-2); stages not named run without it.
    distilled_lora_strengths: Mapping[int, float] = field(default_factory=dict)
    sampler: str = "euler"  # "euler" (first order) or "res2s" (second order with SDE noise)
    # The stage-1 sigma schedule: the LTX-2 schedule at the reference's default token count, or shifted by
    # the stage-1 latent's real token count (the HQ pipeline's).
    token_shifted_schedule: bool = False
    # The distilled model (ltx-pipelines' DistilledPipeline): the distilled checkpoint, its fixed schedule (stage 1
    # on the 8 distilled sigmas), one unguided pass per step; steps, guidance and negative prompt are not asked.
    distilled: bool = False
    # The class makes a video for a given soundtrack (ltx-pipelines' A2VidPipelineTwoStage): the request's audio is
    # encoded and its latents held fixed while the video is denoised; the output carries the soundtrack itself.
    audio_input: bool = False
    # The class regenerates a time window of a given clip (ltx-pipelines' RetakePipeline): the request's video is
    # encoded as the starting latents, kept outside the window; size, frames and fps are the clip's.
    source_video: bool = False
    # The class conditions stage 1 on control videos (ltx-pipelines' ICLoraPipeline: depth / pose / edges for an
    # IC-LoRA): each encoded and appended as reference tokens.
    reference_videos: bool = False
    # A request may stop after stage 1 and decode its half-size video (skip_stage_2: ltx-pipelines' ICLoraPipeline).
    stage_2_optional: bool = False
    # The stages the user LoRA is merged into (None: every stage; the IC-LoRA class: stage 1 only).
    user_lora_stages: tuple[int, ...] | None = None
    # The seed of --enhance-prompt's sampling: None: the request's; ltx-pipelines' audio-to-video and distilled
    # pipelines do not pass theirs, so Gemma samples at its encode_prompts default, 42.
    enhance_prompt_seed: int | None = None

    def runs_on(self, model_version: str) -> bool:
        return model_version in self.defaults

    @property
    def two_stage(self) -> bool:
        return len(self.stages) > 1

    @property
    def encodes_audio(self) -> bool:
        """Whether the class runs the audio VAE encoder (on a soundtrack, or on a source clip's sound)."""
        return self.audio_input or self.source_video

    @property
    def size_multiple(self) -> int:
        """Width and height must be multiples of this: 32 (the VAE's), 64 when stage 1 runs at half size."""
        return 64 if self.two_stage else 32

    @property
    def has_stg(self) -> bool:
        """Whether the guidance perturbs any block (a request's stg_scale has nothing to scale otherwise)."""
        return any(v.stg_blocks != () for video_audio in self.guidance.values() for v in video_audio)

    def stage_loras(self, distilled_lora, user_loras: Sequence = ()) -> dict[int, list]:
        """Which LoRAs each stage merges: [(LoraFile, scale)] per stage; user LoRAs in user_lora_stages (default every
        stage), the distilled LoRA at this class's strengths. `distilled_lora`: a LoraFile (needed when any stage
        merges it)."""
        if self.distilled_lora_strengths and distilled_lora is None:
            raise ValueError(f"{self.name} needs the distilled LoRA (*distilled-lora*.safetensors beside the checkpoint)")
        user_stages = self.stages if self.user_lora_stages is None else self.user_lora_stages
        return {
            stage: [*(user_loras if stage in user_stages else []),
                    *([(distilled_lora, self.distilled_lora_strengths[stage])] if stage in self.distilled_lora_strengths else [])]
            for stage in self.stages
        }
