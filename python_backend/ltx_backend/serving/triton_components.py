"""TritonComponents: the Components protocol over BLS calls to the component models.

The `pipeline` model runs the same pipeline classes as `ltx-triton generate`, with these components in
place of LocalComponents. The denoising loop stays here (one `denoiser` request per step, see wire.py) so
that step progress is reported and a cancelled request stops at the next step.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ltx_backend.latents.state import LatentState
from ltx_backend.pipelines.registry import ONE_STAGE
from ltx_backend.sampling.stage import run_stage
from ltx_backend.serving.base import ComponentError
from ltx_backend.serving.tensors import as_strings, bytes_array, from_triton, to_triton
from ltx_backend.serving.wire import DenoiseStep, pack_prepare, pack_step
from ltx_backend.types import DenoiseJob, OnStep, TextContext

TEXT_OUTPUTS = frozenset({"ENHANCED_PROMPT"})  # BYTES outputs of the component models


@dataclass(frozen=True)
class ModelNames:
    text_encoder: str = "text_encoder"
    denoiser: str = "denoiser"  # snapshot / original device modes: one model for every stage
    stage_denoisers: tuple[tuple[int, str], ...] = ()  # resident: ((1, "denoiser_stage1"), (2, "denoiser_stage2"))
    vae_decoder: str = "vae_decoder"
    audio_decoder: str = "audio_decoder"
    vae_encoder: str = "vae_encoder"
    latent_upsampler: str = "latent_upsampler"

    def denoiser_for(self, stage: int) -> str:
        return dict(self.stage_denoisers).get(stage, self.denoiser)

    @classmethod
    def parse(cls, stage_denoisers: str) -> ModelNames:
        """'1:denoiser_stage1,2:denoiser_stage2' (the pipeline model's `stage_denoisers` parameter) or ''."""
        pairs = [item.split(":") for item in stage_denoisers.split(",") if item.strip()]
        return cls(stage_denoisers=tuple((int(stage), name.strip()) for stage, name in pairs))


class TritonComponents:
    def __init__(
        self, pb: Any, model_version: str, device: torch.device, dtype: torch.dtype,
        names: ModelNames = ModelNames(), pipeline_class_name: str = ONE_STAGE, reference_downscale_factor: int = 1,
    ):
        self.pb = pb
        self.reference_downscale_factor = reference_downscale_factor
        self.model_version = model_version
        self.device, self.dtype = device, dtype
        self.names = names
        self.pipeline_class_name = pipeline_class_name  # the denoiser picks the weights of (class, stage)

    def infer(self, model: str, inputs: dict[str, torch.Tensor | np.ndarray], outputs: Sequence[str]) -> dict[str, torch.Tensor | np.ndarray]:
        pb = self.pb
        request = pb.InferenceRequest(
            model_name=model,
            inputs=[to_triton(pb, name, value) for name, value in inputs.items()],
            requested_output_names=list(outputs),
        )
        response = request.exec()
        if response.has_error():
            error = response.error()
            raise ComponentError(model, error.message(), invalid_argument=error.code() == pb.TritonError.INVALID_ARG)
        # No copy: the DLPack capsule keeps the output tensor's memory (shared memory or CUDA) alive. BYTES outputs
        # (text) are not torch tensors: they come as numpy object arrays.
        tensors = {name: pb.get_output_tensor_by_name(response, name) for name in outputs}
        return {name: t.as_numpy() if name in TEXT_OUTPUTS else from_triton(t) for name, t in tensors.items()}

    def encode_text(self, prompts: Sequence[str]) -> list[TextContext]:
        out = self.infer(self.names.text_encoder, {"PROMPTS": bytes_array(list(prompts))}, ("VIDEO_CONTEXT", "AUDIO_CONTEXT"))
        # The text encoder may run elsewhere in another dtype (Gemma on CPU in fp32 beside a bf16 GPU denoiser).
        video, audio = (out[name].to(self.device, self.dtype) for name in ("VIDEO_CONTEXT", "AUDIO_CONTEXT"))
        return [TextContext(video=video[i : i + 1], audio=audio[i : i + 1]) for i in range(len(prompts))]

    def enhance_prompt(self, prompt: str, image: torch.Tensor | None, seed: int) -> str:
        inputs = {"PROMPTS": bytes_array([prompt]), "ENHANCE_SEED": np.array([seed], dtype=np.int64)}
        if image is not None:
            inputs["ENHANCE_IMAGE"] = image.cpu().numpy()
        out = self.infer(self.names.text_encoder, inputs, ("ENHANCED_PROMPT",))
        (text,) = as_strings(out["ENHANCED_PROMPT"])
        return text

    def prepare_stage(self, stage: int) -> None:
        """Ask the shared denoiser to start switching to `stage`'s weights (wire.py's prepare request: it returns
        at once, the copy overlaps what this pipeline does next). Resident mode has one denoiser per stage."""
        if self.names.stage_denoisers:
            return
        meta = pack_prepare(stage, self.pipeline_class_name)
        self.infer(self.names.denoiser, {"STEP_META": bytes_array([meta])}, ())

    def denoise(self, job: DenoiseJob, on_step: OnStep | None = None) -> tuple[LatentState, LatentState]:
        return run_stage(None, job, RemoteGuidedStep(self, job), self.dtype, on_step)

    def encode_images(self, pixels: torch.Tensor) -> torch.Tensor:
        """[N, 3, 1, H, W] in [-1, 1] -> [N, 128, 1, H/32, W/32]."""
        out = self.infer(self.names.vae_encoder, {"PIXELS": pixels.to(self.dtype)}, ("LATENTS",))
        return out["LATENTS"].to(self.device)

    def encode_video(self, pixels: torch.Tensor) -> torch.Tensor:
        """[1, 3, F, H, W] in [-1, 1] -> [1, 128, F', H/32, W/32] (the vae_encoder takes clips as it takes images)."""
        return self.encode_images(pixels)

    def encode_audio(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """[1, 2, S] float32 at sample_rate -> [1, 8, T, 16]."""
        inputs = {"WAVEFORM": waveform.float(), "SAMPLE_RATE": np.array([sample_rate], dtype=np.int32)}
        return self.infer(self.names.vae_encoder, inputs, ("AUDIO_LATENTS",))["AUDIO_LATENTS"].to(self.device, self.dtype)

    def upsample_video(self, latent: torch.Tensor) -> torch.Tensor:
        out = self.infer(self.names.latent_upsampler, {"LATENT": latent.to(self.dtype)}, ("LATENT",))
        return out["LATENT"].to(self.device)

    def decode_video(self, latent: torch.Tensor, generator: torch.Generator) -> np.ndarray:
        inputs = {"LATENT": latent, "GENERATOR_STATE": generator.get_state()}
        return self.infer(self.names.vae_decoder, inputs, ("FRAMES",))["FRAMES"].cpu().numpy()

    def decode_audio(self, latent: torch.Tensor) -> tuple[np.ndarray, int]:
        out = self.infer(self.names.audio_decoder, {"LATENT": latent}, ("WAVEFORM", "SAMPLE_RATE"))
        return out["WAVEFORM"].cpu().numpy(), int(out["SAMPLE_RATE"].reshape(-1)[0])


class RemoteGuidedStep:
    """A StepFn for euler_loop that asks the `denoiser` model for each step's guided x0 predictions,
    remembering the last ones for the guidance's skip_step (as sampling.denoise.GuidedStep does in-process)."""

    def __init__(self, components: TritonComponents, job: DenoiseJob):
        self.components, self.job = components, job
        self._previous: tuple[torch.Tensor | None, torch.Tensor | None] | None = None
        self._needs_previous = job.video_guidance.skip_step != 0 or job.audio_guidance.skip_step != 0

    def __call__(self, _denoiser: Callable | None, video: LatentState, audio: LatentState, sigmas: torch.Tensor, step_index: int):
        job = self.job
        tensors, meta = pack_step(
            DenoiseStep(
                video=video, audio=audio, sigma=sigmas[step_index], step_index=step_index, contexts=job.contexts,
                video_guidance=job.video_guidance, audio_guidance=job.audio_guidance, previous=self._previous if self._needs_previous else None, stage=job.stage,
            )
        )
        meta = json.dumps({**json.loads(meta), "pipeline_class_name": self.components.pipeline_class_name})
        tensors["STEP_META"] = bytes_array([meta])
        model = self.components.names.denoiser_for(job.stage)
        out = self.components.infer(model, tensors, ("VIDEO_X0", "AUDIO_X0"))
        self._previous = (out["VIDEO_X0"].to(video.latent.device), out["AUDIO_X0"].to(audio.latent.device))
        return self._previous
