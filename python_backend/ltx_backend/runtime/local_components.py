"""LocalComponents: the Components protocol with in-process torch modules (`ltx-triton generate`)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.loading.checkpoint import CheckpointError, default_dtype
from ltx_backend.loading.sources import ModelSource, open_model
from ltx_backend.models.audio_vae import decode_audio
from ltx_backend.models.latent_upsampler import upsample_latents
from ltx_backend.models.transformer.compile import check_compile_mode
from ltx_backend.models.video_vae import decode_video, encode_video
from ltx_backend.request import ONE_STAGE, PIPELINE_CLASSES, TWO_STAGE, TWO_STAGE_HQ
from ltx_backend.runtime.loaders import default_device, load_latent_upsampler, load_transformer
from ltx_backend.runtime.stage_weights import DEFAULT_DEVICE_MODE, DEVICE_MODES, StageLoras, StageWeights
from ltx_backend.sampling.denoise import GuidedStep
from ltx_backend.sampling.stage import run_stage
from ltx_backend.types import DenoiseJob, OnStep, TextContext

log = logging.getLogger(__name__)

# Strengths of the distilled LoRA per stage (ltx-pipelines' defaults: --distilled-lora PATH [1.0] for
# ti2vid_two_stages; --distilled-lora-strength-stage-1 0.25 / -stage-2 0.5 for ti2vid_two_stages_hq).
DISTILLED_LORA_STRENGTHS: dict[str, dict[int, float]] = {TWO_STAGE: {2: 1.0}, TWO_STAGE_HQ: {1: 0.25, 2: 0.5}}


class LocalComponents:
    """All modules on one device, loaded once; the transformer's stage weights managed by a device mode.

    stage_loras: {stage: [(LoraFile, scale), ...]} merged into that stage's transformer weights
    (default: stage 1 only, no LoRA: the one-stage pipeline). upsampler_path: the spatial x2 latent
    upsampler checkpoint (two-stage pipelines). torch_compile_mode: compile the transformer's blocks with
    torch.compile in this mode (models/transformer/compile.py); None: eager.
    """

    def __init__(
        self,
        source: ModelSource,
        device: torch.device,
        dtype: torch.dtype,
        device_mode: str = DEFAULT_DEVICE_MODE,
        upsampler_path: str | Path | None = None,
        stage_loras: StageLoras | None = None,
        torch_compile_mode: str | None = None,
    ):
        self.model_version = source.model_version
        self.device, self.dtype = device, dtype
        self.device_mode = device_mode
        self.text_encoder = source.text_encoder(device, dtype)
        self.stage_weights = StageWeights(
            lambda: load_transformer(source, device, dtype, torch_compile_mode), stage_loras or {1: []}, device_mode
        )
        self.video_encoder = source.load("video_encoder", device, dtype)
        self.video_decoder = source.load("video_decoder", device, dtype)
        self.audio_decoder = source.load("audio_decoder", device, dtype)
        self.vocoder = source.load("vocoder", device, dtype)
        self.upsampler = None if upsampler_path is None else load_latent_upsampler(upsampler_path, device, dtype)

    @property
    def transformer(self) -> torch.nn.Module:
        """The transformer holding the current stage's weights (the first stage's after a failed switch)."""
        weights = self.stage_weights
        return weights.model(weights.stages[0] if weights.current is None else weights.current)

    @torch.inference_mode()
    def encode_text(self, prompts: Sequence[str]) -> list[TextContext]:
        # The connectors replace padding with learned registers: every position is attended (no mask).
        return [TextContext(video=e.video, audio=e.audio) for e in self.text_encoder.encode(list(prompts)).unbind()]

    def prepare_stage(self, stage: int) -> None:
        self.stage_weights.prepare(stage)

    @torch.inference_mode()
    def denoise(self, job: DenoiseJob, on_step: OnStep | None = None) -> tuple[LatentState, LatentState]:
        transformer = self.stage_weights.model(job.stage)
        step = GuidedStep(job.contexts, job.video_guidance, job.audio_guidance)
        return run_stage(transformer, job, step, self.dtype, on_step)

    @torch.inference_mode()
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        # One image at a time, as the reference encodes them (batching could change the numerics).
        return torch.cat([encode_video(p.unsqueeze(0).to(self.device, self.dtype), self.video_encoder) for p in pixels])

    @torch.inference_mode()
    def upsample_video(self, latent: torch.Tensor) -> torch.Tensor:
        if self.upsampler is None:
            raise RuntimeError("no spatial upsampler loaded (load_pipeline loads it for the two-stage pipelines)")
        return upsample_latents(latent, self.upsampler, self.video_encoder)

    @torch.inference_mode()
    def decode_video(self, latent: torch.Tensor, generator: torch.Generator) -> np.ndarray:
        return decode_video(latent, self.video_decoder, generator=generator).cpu().numpy()

    @torch.inference_mode()
    def decode_audio(self, latent: torch.Tensor) -> tuple[np.ndarray, int]:
        waveform, sample_rate = decode_audio(latent, self.audio_decoder, self.vocoder)
        return waveform.float().cpu().numpy(), int(sample_rate)


def stage_loras_for(pipeline_class_name: str, distilled_lora=None, user_loras: Sequence = ()) -> StageLoras:
    """Which LoRAs each stage merges: user LoRAs in every stage, the distilled LoRA at the pipeline's
    strengths. `distilled_lora`: a LoraFile (two-stage classes)."""
    user = list(user_loras)
    if pipeline_class_name == ONE_STAGE:
        return {1: user}
    strengths = DISTILLED_LORA_STRENGTHS[pipeline_class_name]
    return {stage: user + ([(distilled_lora, strengths[stage])] if stage in strengths else []) for stage in (1, 2)}


def load_pipeline(
    model: str | ModelSource,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    pipeline_class_name: str = ONE_STAGE,
    device_mode: str = DEFAULT_DEVICE_MODE,
    upsampler_path: str | Path | None = None,
    distilled_lora_path: str | Path | None = None,
    user_loras: Sequence = (),
    torch_compile_mode: str | None = None,
):
    """`model`: a --model-path, or a model already opened with open_model. The two-stage classes need the
    spatial x2 upsampler and the distilled LoRA: by default the `*spatial-upscaler-x2*.safetensors` and
    `*distilled-lora*.safetensors` files found beside the checkpoint. `user_loras`: [(LoraFile, scale)]
    merged in every stage. `torch_compile_mode`: regional torch.compile of the transformer (None: eager)."""
    from ltx_backend.loading.lora import read_lora
    from ltx_backend.pipelines.one_stage import LTX2Pipeline
    from ltx_backend.pipelines.two_stage import LTX2TwoStagePipeline
    from ltx_backend.pipelines.two_stage_hq import LTX2TwoStageHQPipeline

    if pipeline_class_name not in PIPELINE_CLASSES:
        raise ValueError(f"invalid pipeline_class_name={pipeline_class_name!r}: one of {', '.join(PIPELINE_CLASSES)}")
    if device_mode not in DEVICE_MODES:
        raise ValueError(f"invalid device_mode={device_mode!r}: one of {', '.join(DEVICE_MODES)}")
    check_compile_mode(torch_compile_mode, device_mode)
    source = open_model(model) if isinstance(model, str) else model
    if pipeline_class_name == TWO_STAGE_HQ and source.model_version != "2.3":
        raise ValueError(f"invalid pipeline_class_name={TWO_STAGE_HQ!r}: needs an LTX-2.3 checkpoint, this is LTX-{source.model_version}")
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # Triton kernels launch on the current device (cuda:1 is not cuda:0)
    log.info("loading LTX-%s %s from %s on %s (%s)", source.model_version, pipeline_class_name, source.description, device, dtype)
    if pipeline_class_name == ONE_STAGE:
        components = LocalComponents(
            source, device, dtype, device_mode, stage_loras=stage_loras_for(ONE_STAGE, None, user_loras),
            torch_compile_mode=torch_compile_mode,
        )
        return LTX2Pipeline(components)
    upsampler_path = upsampler_path or source.files.spatial_upsampler
    distilled_lora_path = distilled_lora_path or source.files.distilled_lora
    missing = [what for what, p in (("spatial upsampler (*spatial-upscaler-x2*.safetensors)", upsampler_path),
                                    ("distilled LoRA (*distilled-lora*.safetensors)", distilled_lora_path)) if p is None]
    if missing:
        raise CheckpointError(f"{pipeline_class_name} needs the {' and the '.join(missing)} in {source.files.root} or given explicitly")
    distilled = read_lora(str(distilled_lora_path))
    stage_loras = stage_loras_for(pipeline_class_name, distilled, user_loras)
    components = LocalComponents(source, device, dtype, device_mode, upsampler_path, stage_loras, torch_compile_mode)
    cls = LTX2TwoStageHQPipeline if pipeline_class_name == TWO_STAGE_HQ else LTX2TwoStagePipeline
    return cls(components)
