"""What every python-backend model of this repository shares: reading its `initialize` args (placement,
parameters, the model path), and turning one request's failure into that request's error response.

A model.py in model_repository/ is only `from ltx_backend.serving.adapters.X import TritonPythonModel`.
"""
from __future__ import annotations

import json
import locale
import logging
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ltx_backend.errors import CANCELLED_MESSAGE, INTERNAL_PREFIX
from ltx_backend.loading.checkpoint import default_dtype
from ltx_backend.loading.published_files import Needs
from ltx_backend.runtime.cpu_threads import use_environment_thread_count

log = logging.getLogger("ltx_backend.serving")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class RequestCancelled(Exception):
    """The client cancelled the request; raised from the step callback to stop the denoising loop."""


class ComponentError(RuntimeError):
    """A component model answered a BLS request with an error."""

    def __init__(self, model: str, message: str, invalid_argument: bool = False):
        super().__init__(f"{model}: {message}")
        self.invalid_argument = invalid_argument


def use_utf8_locale() -> None:
    """Make open() default to UTF-8 in this stub process. The python backend's stub embeds Python without
    the locale coercion the `python` command does, so under a C locale text files default to ASCII; torch.compile's
    inductor reads its UTF-8 code templates that way and fails (seen with tritonserver 2.51)."""
    os.environ.setdefault("PYTHONUTF8", "1")  # for the processes it starts (inductor's compile workers)
    if locale.getpreferredencoding(False).lower().replace("-", "") != "utf8":
        for name in ("C.UTF-8", "C.utf8", "en_US.UTF-8"):
            try:
                locale.setlocale(locale.LC_CTYPE, name)
                return
            except locale.Error:
                continue


def set_up_stub_process() -> None:
    """What each model's initialize does first: logging, a UTF-8 locale, the thread count."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    use_utf8_locale()
    use_environment_thread_count()


@dataclass(frozen=True)
class ModelArgs:
    """A python-backend model's `initialize(args)`, parsed."""

    name: str
    config: dict
    parameters: dict[str, str]
    device: torch.device
    dtype: torch.dtype
    repository: Path  # the model repository folder (relative model paths are resolved against its parent)

    @classmethod
    def parse(cls, args: dict[str, str]) -> ModelArgs:
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        kind = args.get("model_instance_kind", "CPU")
        if kind == "GPU":
            device = torch.device("cuda", int(args.get("model_instance_device_id", 0)))
        elif kind == "MODEL":  # the model places itself
            device = torch.device(parameters.get("device") or ("cuda" if torch.cuda.is_available() else "cpu"))
        else:
            device = torch.device("cpu")
        dtype_name = parameters.get("dtype", "auto")
        if dtype_name not in ("auto", *DTYPES):
            raise ValueError(f"model {args['model_name']}: parameter dtype={dtype_name!r} is not one of auto, {', '.join(DTYPES)}")
        dtype = default_dtype(device) if dtype_name == "auto" else DTYPES[dtype_name]
        repository = Path(args["model_repository"]).resolve().parent
        return cls(args["model_name"], config, parameters, device, dtype, repository)

    def use_device(self) -> None:
        """Make this instance's GPU the process's current CUDA device (one stub process per instance): Triton
        kernel launches, default streams and synchronize() then go to it, not to GPU 0."""
        if self.device.type == "cuda" and self.device.index is not None:
            torch.cuda.set_device(self.device)

    def needs(self, **files: bool) -> Needs:
        """The files this model asks the resolver for; the checkpoint is the distilled one where the server runs
        the distilled class (the `checkpoint` parameter, rendered on every model)."""
        return Needs(**files, distilled_checkpoint=self.parameters.get("checkpoint") == "distilled")

    def model_path(self) -> str:
        """The `model_path` parameter: a HF repo id, an absolute path, or a path relative to the project root
        (the model repository's parent). The environment variable LTX_MODEL_PATH overrides it."""
        value = os.environ.get("LTX_MODEL_PATH") or self.parameters.get("model_path")
        if not value:
            raise ValueError(f"model {self.name}: set parameters {{ key: \"model_path\" ... }} or LTX_MODEL_PATH")
        path = Path(value)
        if not path.is_absolute() and (self.repository.parent / path).exists():
            return str((self.repository.parent / path).resolve())
        return value


def error_response(pb: Any, error: BaseException, invalid_argument: bool) -> Any:
    """INVALID_ARG with the error's message (InvalidRequest: "invalid <field>=..."), or INTERNAL with it after
    INTERNAL_PREFIX (a gRPC stream carries no status: its client tells the two apart by the words)."""
    if invalid_argument:
        return pb.InferenceResponse(error=pb.TritonError(str(error), pb.TritonError.INVALID_ARG))
    return pb.InferenceResponse(error=pb.TritonError(f"{INTERNAL_PREFIX}{error}", pb.TritonError.INTERNAL))


def cancelled_response(pb: Any) -> Any:
    return pb.InferenceResponse(error=pb.TritonError(CANCELLED_MESSAGE, pb.TritonError.CANCELLED))


def log_internal_error(model: str, error: BaseException) -> None:
    log.error("%s: %s\n%s", model, error, "".join(traceback.format_exception(error)))


def request_parameters(request: Any) -> dict[str, Any]:
    raw = request.parameters()
    return json.loads(raw) if raw else {}
