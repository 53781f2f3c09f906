"""LocalComponents: the Components protocol with in-process torch modules (`ltx-triton generate`)."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.state import LatentState
from ltx_backend.loading.checkpoint import CheckpointError, default_dtype
from ltx_backend.loading.quantization import check_runs_on as check_quantization_runs_on
from ltx_backend.loading.sources import ModelSource, open_model
from ltx_backend.models.audio_vae import decode_audio, encode_audio
from ltx_backend.models.latent_upsampler import upsample_latents
from ltx_backend.models.transformer.compile import check_compile_mode
from ltx_backend.models.video_vae import decode_video, encode_video
from ltx_backend.pipelines.registry import ONE_STAGE, PIPELINES, files_needed
from ltx_backend.request import LoadOptions, check_runs_on
from ltx_backend.runtime.loaders import check_upsampler_file, default_device, load_latent_upsampler, load_transformer
from ltx_backend.runtime.stage_weights import DEFAULT_DEVICE_MODE, check_device_mode, stage_weights
from ltx_backend.runtime.weight_plan import WeightPlan, weight_plan
from ltx_backend.sampling.denoise import GuidedStep
from ltx_backend.sampling.stage import run_stage
from ltx_backend.types import DenoiseJob, OnStep, TextContext

log = logging.getLogger(__name__)


class LocalComponents:
    """All modules on one device, loaded once; the transformer's weight sets held under a device mode.

    pipeline_class_name: the class these components serve; plan: the weight set of each of its stages
    (default: the class's stages without any LoRA; runtime/weight_plan.py). upsampler_path: the spatial x2
    latent upsampler checkpoint (two-stage pipelines). torch_compile_mode: compile the transformer's blocks
    with torch.compile in this mode (models/transformer/compile.py); None: eager. quantization: the transformer's
    (loading/quantization.py); a file's fp8 weights stay fp8 without it. reference_downscale_factor: the user
    IC-LoRA's (loading/lora.py), for the control videos of the IC-LoRA class.
    """

    def __init__(
        self,
        source: ModelSource,
        device: torch.device,
        dtype: torch.dtype,
        pipeline_class_name: str = ONE_STAGE,
        plan: WeightPlan | None = None,
        device_mode: str = DEFAULT_DEVICE_MODE,
        upsampler_path: str | Path | None = None,
        torch_compile_mode: str | None = None,
        quantization: str | None = None,
        reference_downscale_factor: int = 1,
    ):
        self.model_version = source.model_version
        self.reference_downscale_factor = reference_downscale_factor
        self.device, self.dtype = device, dtype
        self.pipeline_class_name = pipeline_class_name
        self.plan = plan or weight_plan(source.model_version, [pipeline_class_name], None)
        self.text_encoder = source.text_encoder(device, dtype)
        self.stage_weights = stage_weights(
            lambda: load_transformer(source, device, dtype, torch_compile_mode, quantization), self.plan.weights, device_mode
        )
        self.video_encoder = source.load("video_encoder", device, dtype)
        self.video_decoder = source.load("video_decoder", device, dtype)
        self.audio_decoder = source.load("audio_decoder", device, dtype)
        self.vocoder = source.load("vocoder", device, dtype)
        encodes_audio = PIPELINES[pipeline_class_name].spec.encodes_audio
        self.audio_encoder = source.load("audio_encoder", device, dtype) if encodes_audio else None
        self.upsampler = None if upsampler_path is None else load_latent_upsampler(upsampler_path, device, dtype)

    @property
    def transformer(self) -> torch.nn.Module:
        """The transformer holding the current stage's weights (the first stage's after a failed switch)."""
        return self.stage_weights.held()

    @torch.inference_mode()
    def encode_text(self, prompts: Sequence[str]) -> list[TextContext]:
        # The connectors replace padding with learned registers: every position is attended (no mask).
        return [TextContext(video=e.video, audio=e.audio) for e in self.text_encoder.encode(list(prompts)).unbind()]

    def enhance_prompt(self, prompt: str, image: torch.Tensor | None, seed: int) -> str:
        return self.text_encoder.enhance(prompt, image, seed)

    def prepare_stage(self, stage: int) -> None:
        self.stage_weights.prepare(self.plan.key(self.pipeline_class_name, stage))

    @torch.inference_mode()
    def denoise(self, job: DenoiseJob, on_step: OnStep | None = None) -> tuple[LatentState, LatentState]:
        transformer = self.stage_weights.model(self.plan.key(self.pipeline_class_name, job.stage))
        step = GuidedStep(job.contexts, job.video_guidance, job.audio_guidance)
        return run_stage(transformer, job, step, self.dtype, on_step)

    @torch.inference_mode()
    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        # One image at a time, as the reference encodes them (batching could change the numerics).
        return torch.cat([encode_video(p.unsqueeze(0).to(self.device, self.dtype), self.video_encoder) for p in pixels])

    @torch.inference_mode()
    def encode_video(self, pixels: torch.Tensor) -> torch.Tensor:
        return encode_video(pixels.to(self.device, self.dtype), self.video_encoder)

    @torch.inference_mode()
    def encode_audio(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        if self.audio_encoder is None:
            raise RuntimeError(f"no audio encoder loaded ({self.pipeline_class_name} encodes no audio)")
        return encode_audio(waveform, sample_rate, self.audio_encoder)

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


def open_model_for(
    model_path: str,
    pipeline_class_name: str,
    text_encoder_path: str | None = None,
    upsampler_path: str | Path | None = None,
    distilled_lora_path: str | Path | None = None,
) -> ModelSource:
    """open_model with the files the class needs, less those given by path: all of them fetched (downloaded, or
    checked in the cache offline) before any weight is read."""
    if pipeline_class_name not in PIPELINES:
        raise InvalidRequest("pipeline_class_name", pipeline_class_name, f"one of {', '.join(PIPELINES)}")
    needs = files_needed([pipeline_class_name], upsampler_path is not None, distilled_lora_path is not None)
    return open_model(model_path, needs, text_encoder_path)


def load_pipeline(
    model: str | ModelSource,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
    pipeline_class_name: str = ONE_STAGE,
    device_mode: str = DEFAULT_DEVICE_MODE,
    upsampler_path: str | Path | None = None,
    distilled_lora_path: str | Path | None = None,
    options: LoadOptions = LoadOptions(),
    torch_compile_mode: str | None = None,
    text_encoder_path: str | None = None,
):
    """`model`: a --model-path, or a model opened with open_model_for. The two-stage classes need the spatial x2
    upsampler and the distilled LoRA: by default the files the resolver chooses (loading/published_files.py).
    `text_encoder_path`: Gemma 3 from there (default: beside the checkpoint, else its own repo). `options`: the
    user LoRA, merged in every stage. `torch_compile_mode`: regional torch.compile of the transformer (None: eager)."""
    from ltx_backend.loading.lora import common_reference_downscale_factor, read_lora

    if pipeline_class_name not in PIPELINES:
        raise InvalidRequest("pipeline_class_name", pipeline_class_name, f"one of {', '.join(PIPELINES)}")
    check_device_mode(device_mode)  # before any weights load
    options = options.check()
    check_compile_mode(torch_compile_mode, device_mode)
    cls = PIPELINES[pipeline_class_name]
    spec = cls.spec
    if not isinstance(model, (str, Path)) and text_encoder_path is not None:
        raise ValueError("text_encoder_path goes to open_model_for with the model path, not with an opened model")
    source = model if not isinstance(model, (str, Path)) else open_model_for(
        str(model), pipeline_class_name, text_encoder_path, upsampler_path, distilled_lora_path
    )
    check_runs_on(spec, source.model_version)
    device = device or default_device()
    dtype = dtype or default_dtype(device)
    check_quantization_runs_on(options.quantization, device)  # before any weight is read
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)  # Triton kernels launch on the current device (cuda:1 is not cuda:0)
    log.info("loading LTX-%s %s from %s on %s (%s)", source.model_version, spec.name, source.description, device, dtype)
    user_loras = [] if options.lora_path is None else [(read_lora(options.lora_path, options.lora_weight_name), options.lora_scale)]
    if spec.two_stage and upsampler_path is not None:
        check_upsampler_file(upsampler_path)
    upsampler_path = (upsampler_path or source.files.spatial_upsampler) if spec.two_stage else None
    distilled_lora_path = (distilled_lora_path or source.files.distilled_lora) if spec.distilled_lora_strengths else None
    missing = [what for what, needed, path in (
        ("spatial upsampler (*spatial-upscaler-x2*.safetensors)", spec.two_stage, upsampler_path),
        ("distilled LoRA (*distilled-lora*.safetensors)", bool(spec.distilled_lora_strengths), distilled_lora_path),
        ("text encoder", True, source.files.gemma),
    ) if needed and path is None]
    if missing:
        raise CheckpointError(f"{spec.name} needs the {' and the '.join(missing)}: open the model with open_model_for")
    distilled = None if distilled_lora_path is None else read_lora(str(distilled_lora_path), field="distilled_lora_path")
    plan = weight_plan(source.model_version, [spec.name], distilled, user_loras)
    components = LocalComponents(source, device, dtype, spec.name, plan, device_mode, upsampler_path, torch_compile_mode,
                                 options.quantization, common_reference_downscale_factor([lora for lora, _ in user_loras]))
    return cls(components)
