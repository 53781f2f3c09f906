"""Make Lightricks' reference (ltx-core / ltx-pipelines 1.0.0) importable on this CPU machine.

The reference is the specification our parity tests compare against; it is installed with
``--no-deps`` in the test extra. Two things stand in its way here:

* ``ltx_core.model.audio_vae.ops`` imports ``torchaudio`` at module level, but only uses it for
  audio *encoding* (mel spectrogram of an input waveform, resampling), which no parity test calls.
  No torchaudio wheel loads beside torch 2.13 CPU, so when the real one is missing we register an
  empty module whose attributes raise if anything ever touches them.
* the pipelines call ``torch.cuda.synchronize()``; on CPU that is made a no-op.
"""
from __future__ import annotations

import importlib
import sys
import types

import torch


class _TorchaudioUnavailable(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _TorchaudioUnavailable(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        raise RuntimeError(f"{self.__name__} is not available on this machine (used by reference audio encoding only)")


def _hide_from_find_spec(name: str) -> None:
    import importlib.util

    original = importlib.util.find_spec

    def find_spec(fullname, package=None):
        if fullname == name:
            return None
        return original(fullname, package)

    importlib.util.find_spec = find_spec


def prepare_reference() -> None:
    try:
        importlib.import_module("torchaudio")
    except Exception:  # noqa: BLE001 - missing or ABI-incompatible wheel
        # transformers probes find_spec("torchaudio"): a None spec says "not installed"
        shim = _TorchaudioUnavailable("torchaudio")
        shim.__spec__ = None
        sys.modules["torchaudio"] = shim
        _hide_from_find_spec("torchaudio")
    if not torch.cuda.is_available():
        torch.cuda.synchronize = lambda *a, **k: None  # type: ignore[assignment]
