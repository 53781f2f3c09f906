"""ModelAdapter: the shape of every component adapter (text_encoder, denoiser, vae_decoder, ...).

A subclass names its BYTES inputs, loads its module in `load`, and maps input tensors to output tensors in
`run`. Each request of a batch succeeds or fails alone: bad input is that request's INVALID_ARG, anything
else its INTERNAL error; the model keeps serving. Only InvalidRequest is the caller's mistake: any other
exception (a KeyError or ValueError from inside the engine included) is the server's, and logged.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ltx_backend.errors import InvalidRequest
from ltx_backend.serving.base import ModelArgs, error_response, log_internal_error, set_up_stub_process
from ltx_backend.serving.tensors import from_triton, to_triton

Outputs = dict[str, torch.Tensor | np.ndarray]


class ModelAdapter:
    bytes_inputs: frozenset[str] = frozenset()

    def initialize(self, args: dict[str, str]) -> None:
        import triton_python_backend_utils as pb

        set_up_stub_process()
        self.pb = pb
        self.args = ModelArgs.parse(args)
        self.args.use_device()
        self.device, self.dtype = self.args.device, self.args.dtype
        from ltx_kernels import set_attention_backend

        set_attention_backend(self.args.parameters.get("attention_backend", "auto"))
        self.load(self.args)

    def load(self, args: ModelArgs) -> None:
        raise NotImplementedError

    def run(self, inputs: dict[str, Any]) -> Outputs:
        raise NotImplementedError

    def execute(self, requests: list[Any]) -> list[Any]:
        return [self._one(request) for request in requests]

    def _one(self, request: Any) -> Any:
        pb = self.pb
        try:
            inputs = {}
            for tensor in request.inputs():
                name = tensor.name()
                inputs[name] = tensor.as_numpy() if name in self.bytes_inputs else from_triton(tensor)
            with torch.inference_mode():
                outputs = self.run(inputs)
            return pb.InferenceResponse([to_triton(pb, name, value) for name, value in outputs.items()])
        except InvalidRequest as error:
            return error_response(pb, error, invalid_argument=True)
        except Exception as error:  # noqa: BLE001 - one request's failure must not fail the batch
            log_internal_error(self.args.name, error)
            return error_response(pb, error, invalid_argument=False)

    def finalize(self) -> None:
        pass


def require(inputs: dict[str, Any], name: str) -> Any:
    if name not in inputs:
        raise InvalidRequest(name, None, "a required input of this model")
    return inputs[name]
