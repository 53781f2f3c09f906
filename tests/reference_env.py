"""Make Lightricks' reference (ltx-core / ltx-pipelines 1.0.0) importable on this CPU machine.

The reference is the specification our parity tests compare against; it is installed with
``--no-deps`` in the test extra. Two things stand in its way here:

* ``ltx_core.model.audio_vae.ops`` imports ``torchaudio`` at module level, but only uses it for
  audio *encoding* (mel spectrogram of an input waveform, resampling), which no parity test calls.
  No torchaudio wheel loads beside torch 2.13 CPU, so when the real one is missing we register an
  empty module whose attributes raise if anything ever touches them.
* the pipelines call ``torch.cuda.synchronize()``; on CPU that is made a no-op, and its prompt enhancer's
  ``fork_rng(devices=[cpu])`` forks the CPU generator alone (a CPU build of torch has no CUDA RNG to ask).
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
        _fork_rng_of_cpu_devices()


def _fork_rng_of_cpu_devices() -> None:
    """ltx-core's prompt enhancer calls torch.random.fork_rng(devices=[model.device]): with a CPU device that asks
    the CUDA RNG (a CPU build raises). The CPU generator is forked anyway, so CPU devices are dropped from the list."""
    import contextlib

    original = torch.random.fork_rng
    if getattr(original, "drops_cpu_devices", False):
        return

    @contextlib.contextmanager
    def fork_rng(devices=None, *args, **kwargs):
        if devices is not None:
            devices = [d for d in devices if torch.device(d).type != "cpu"]
        with original(devices, *args, **kwargs):
            yield

    fork_rng.drops_cpu_devices = True
    torch.random.fork_rng = fork_rng


def use_tiny_gemma_config(gemma_root, monkeypatch) -> object:
    """Substitute a tiny checkpoint's Gemma config for the reference's hard-coded Gemma 3 12B config.

    The reference builds its text encoder and feature extractor from GEMMA3_CONFIG_FOR_LTX, imported by
    two modules; both names are patched (pytest's monkeypatch restores them after the test).
    """
    import json
    from pathlib import Path

    from ltx_core.text_encoders.gemma import config as ref_config
    from ltx_core.text_encoders.gemma.encoders import encoder_configurator

    raw = json.loads((Path(gemma_root) / "text_encoder" / "config.json").read_text())
    text = dict(raw["text_config"], rope_scaling=ref_config.Gemma3RopeScaling(**raw["text_config"]["rope_scaling"]))
    tiny = ref_config.Gemma3ConfigData(
        **{k: v for k, v in raw.items() if k not in ("text_config", "vision_config")},
        text_config=ref_config.Gemma3TextConfig(**text),
        vision_config=ref_config.Gemma3VisionConfig(**raw["vision_config"]),
    )
    assert tiny.to_dict() == raw
    monkeypatch.setattr(ref_config, "GEMMA3_CONFIG_FOR_LTX", tiny)
    monkeypatch.setattr(encoder_configurator, "GEMMA3_CONFIG_FOR_LTX", tiny)
    return tiny


class TorchWithDtype(types.ModuleType):
    """`torch`, except that `torch.bfloat16` is another dtype.

    ltx-pipelines hard-codes bf16 inside its pipelines' __call__ (a local `dtype = torch.bfloat16`);
    binding this as the pipeline module's `torch` runs the unchanged reference code in fp32.
    """

    def __init__(self, dtype: torch.dtype):
        super().__init__("torch")
        self._dtype = dtype

    def __getattr__(self, name: str):
        if name == "bfloat16":
            return self._dtype
        return getattr(torch, name)


def run_reference(pipeline, request, params, images=()):
    """Call an ltx-pipelines pipeline with a GenerationRequest's settings -> (frames uint8 [F,H,W,3], waveform, sample rate)."""
    with torch.inference_mode():
        video, audio = pipeline(
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            seed=request.seed,
            height=request.height,
            width=request.width,
            num_frames=request.num_frames,
            frame_rate=request.fps,
            num_inference_steps=request.num_inference_steps,
            video_guider_params=params.video_guider_params,
            audio_guider_params=params.audio_guider_params,
            images=list(images),
        )
        frames = torch.cat(list(video)).numpy()
    return frames, audio.waveform.float().numpy(), audio.sampling_rate


def allow_fp32_lora_fusion(monkeypatch) -> None:
    """Route fp32 base weights through ltx-core's bf16 fusion branch (deltas.add_(weight), same formula)."""
    from ltx_core.loader import fuse_loras

    original = fuse_loras._fuse_deltas

    def fuse(deltas, weight, key, sd, target_dtype, device, is_scaled_fp8, scale_key, model_sd):
        if deltas is not None and weight.dtype == torch.float32:
            return fuse_loras._fuse_delta_with_bfloat16(deltas, weight, key, target_dtype)
        return original(deltas, weight, key, sd, target_dtype, device, is_scaled_fp8, scale_key, model_sd)

    monkeypatch.setattr(fuse_loras, "_fuse_deltas", fuse)


class ScriptPatch:
    """monkeypatch.setattr for the scripts of tests/reference_runs/ (a process of their own: nothing to undo)."""

    def setattr(self, target, name, value):
        setattr(target, name, value)
