"""`pipeline` (decoupled) and `pipeline_unary`: the BLS orchestrator.

One request = one generate: parsed and validated once (request_fields + GenerationRequest.resolve) before
any model work, then the engine's pipeline class runs with TritonComponents. The decoupled model streams a
PROGRESS [stage, step, total] response after every denoising step and ends with the result; the unary model
(for KServe v2 /infer clients, which cannot call decoupled models) sends only the result:
    VIDEO_MP4 BYTES [1] (VIDEO_MP4_BASE64 with MP4_BASE64, for JSON transports such as HTTP generate_stream);
    with RETURN_RAW: FRAMES uint8 [F, H, W, 3], AUDIO float32 [C, S], SAMPLE_RATE int32 [1];
    with ENHANCE_PROMPT: ENHANCED_PROMPT BYTES [1], the prompt Gemma rewrote and the video was made from;
    SEED INT64 [1]: the seed the video was made with (the random one a seed of -1 asked for).
A cancelled request stops at the next step and ends with CANCELLED.
"""
from __future__ import annotations

import base64
import logging
import time
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.sources import open_model
from ltx_backend.media import encode_mp4
from ltx_backend.pipelines.registry import PIPELINE_CLASSES
from ltx_backend.serving.base import (
    ModelArgs,
    RequestCancelled,
    cancelled_response,
    error_response,
    log_internal_error,
    request_parameters,
    set_up_stub_process,
)
from ltx_backend.serving.client_disconnects import disconnected, forget
from ltx_backend.serving.generation_turn import GenerationTurn
from ltx_backend.serving.metrics import UNKNOWN_CLASS, PipelineMetrics
from ltx_backend.serving.pipeline_classes import check_served, pipeline_for, served_classes
from ltx_backend.serving.request_fields import ServedRequest, parse_served_request
from ltx_backend.serving.tensors import bytes_array
from ltx_backend.serving.triton_components import ModelNames, TritonComponents
from ltx_backend.types import StepProgress

log = logging.getLogger(__name__)


class TritonPythonModel:
    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb

        set_up_stub_process()
        self.pb = pb
        self.args = ModelArgs.parse(args)
        self.args.use_device()
        self.decoupled = pb.using_decoupled_model_transaction_policy(self.args.config)
        source = open_model(self.args.model_path(), self.args.needs())  # metadata only: the weights live in the component models
        self.settings = dict(self.args.parameters)
        names = ModelNames.parse(self.settings.get("stage_denoisers", ""))
        self.components = TritonComponents(pb, source.model_version, self.args.device, self.args.dtype, names,
                                           reference_downscale_factor=self._reference_downscale_factor())
        self.metrics = PipelineMetrics(pb, self.args.name, served_classes(self.settings))
        # Every instance of both pipeline models validates at once; where the denoiser switches weights between
        # stages, they take turns to generate (a lock file named after the repository, shared by their processes).
        serialize = self.settings.get("one_generation_at_a_time") == "true"
        self.turn = GenerationTurn.of_repository(self.args.repository) if serialize else None

    def _reference_downscale_factor(self) -> int:
        """The user LoRA's IC-LoRA reference scale (its metadata), where the repository gives the LoRA to this model
        (it serves the IC-LoRA class); 1 otherwise."""
        path = self.args.parameters.get("lora_path")
        if not path:
            return 1
        from ltx_backend.loading.lora import read_reference_downscale_factor

        return read_reference_downscale_factor(path, self.args.parameters.get("lora_weight_name") or None)

    def execute(self, requests: list[Any]) -> list[Any] | None:
        if self.decoupled:
            for request in requests:
                sender = request.get_response_sender()
                response = self._generate(request, lambda p, s=sender: s.send(self._progress(p)))
                sender.send(response, flags=self.pb.TRITONSERVER_RESPONSE_COMPLETE_FINAL)
            return None
        return [self._generate(request, None) for request in requests]

    def _progress(self, progress: StepProgress) -> Any:
        value = np.array([progress.stage, progress.step, progress.total], dtype=np.int32)
        return self.pb.InferenceResponse([self.pb.Tensor("PROGRESS", value)])

    def _generate(self, request: Any, send_progress) -> Any:
        pb = self.pb
        class_name = UNKNOWN_CLASS
        try:
            served = self._parse(request)
            name = served.request.pipeline_class_name
            if isinstance(name, str) and name in PIPELINE_CLASSES:
                check_served(name, self.settings)
                class_name = name  # a metric label: only the served names (the series made at load)
            resolved = served.request.resolve(self.components.model_version)
            pipeline = pipeline_for(resolved, self.components, self.settings)
            mp4_base64 = served.mp4_as_base64()
        except InvalidRequest as error:
            self.metrics.generation(class_name, "invalid")
            return error_response(pb, error, invalid_argument=True)
        except Exception as error:  # noqa: BLE001 - nothing a request holds may escape execute()
            log_internal_error(self.args.name, error)
            self.metrics.generation(class_name, "error")
            return error_response(pb, error, invalid_argument=False)

        def cancelled() -> bool:  # by the client (gRPC cancel, SSE disconnect) or for it (HTTP unary disconnect)
            return request.is_cancelled() or disconnected(served.disconnect_token)

        def on_step(progress: StepProgress) -> None:
            self.metrics.step(class_name, progress.stage)
            if cancelled():
                raise RequestCancelled()
            if send_progress is not None:
                send_progress(progress)

        started = time.perf_counter()
        try:
            if cancelled():
                raise RequestCancelled()
            with self.turn.taken(cancelled) if self.turn else nullcontext():
                result = pipeline(resolved, on_step=on_step)
            mp4 = encode_mp4(result.frames, resolved.fps, result.audio, result.sample_rate)
        except RequestCancelled:
            log.info("request cancelled")
            forget(served.disconnect_token)
            self.metrics.generation(class_name, "cancelled")
            return cancelled_response(pb)
        except InvalidRequest as error:  # found while decoding the images' pixels
            self.metrics.generation(class_name, "invalid")
            return error_response(pb, error, invalid_argument=True)
        except Exception as error:  # noqa: BLE001 - the server keeps serving
            # (a ComponentError too: the request was validated before the first component call, so a
            # component's error is the server's)
            log_internal_error(self.args.name, error)
            self.metrics.generation(class_name, "error")
            return error_response(pb, error, invalid_argument=False)
        finally:
            if self.components.device.type == "cuda":
                torch.cuda.empty_cache()
        seconds = time.perf_counter() - started
        self.metrics.generation(class_name, "success", seconds)
        log.info(
            "%s %dx%dx%d, %d steps: %.2f s",
            resolved.pipeline_class_name, resolved.width, resolved.height, resolved.num_frames, resolved.num_inference_steps, seconds,
        )
        if mp4_base64:
            outputs = [pb.Tensor("VIDEO_MP4_BASE64", bytes_array([base64.b64encode(mp4)]))]
        else:
            outputs = [pb.Tensor("VIDEO_MP4", bytes_array([mp4]))]
        outputs.append(pb.Tensor("SEED", np.array([resolved.seed], dtype=np.int64)))  # the one drawn for seed -1 too
        if served.return_raw:
            outputs += [
                pb.Tensor("FRAMES", np.ascontiguousarray(result.frames)),
                pb.Tensor("AUDIO", np.ascontiguousarray(result.audio, dtype=np.float32)),
                pb.Tensor("SAMPLE_RATE", np.array([result.sample_rate], dtype=np.int32)),
            ]
        if result.enhanced_prompt is not None:
            outputs.append(pb.Tensor("ENHANCED_PROMPT", bytes_array([result.enhanced_prompt])))
        return pb.InferenceResponse(outputs)

    def _parse(self, request: Any) -> ServedRequest:
        inputs = {}
        for tensor in request.inputs():
            inputs[tensor.name()] = tensor.as_numpy()
        try:
            parameters = request_parameters(request)
        except ValueError as error:
            raise InvalidRequest("parameters", request.parameters(), f"a JSON object ({error})") from None
        return parse_served_request(inputs, parameters, request.requested_output_names())

    def finalize(self) -> None:
        pass
