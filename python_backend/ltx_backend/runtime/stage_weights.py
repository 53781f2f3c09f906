"""The transformer weights of each denoising stage, and how a stage switch gets them (device modes).

A stage's weights are the base checkpoint with that stage's LoRAs merged (W += scale * B @ A, see
loading/lora.py). Two-stage pipelines: stage 1 = base + user LoRAs, stage 2 = base + user LoRAs + the
distilled LoRA (the HQ pipeline also merges the distilled LoRA into stage 1, at a lower strength).

    resident   one transformer per stage, each merged once at load. A switch moves nothing.
               Memory: one transformer per stage on the device.
    snapshot   one transformer on the device. At load, the base values of the tensors any LoRA touches are
               kept as a host snapshot (pinned on CUDA). Switching to a stage that merges LoRAs into the base
               merges them on the device, from the base values (the stage-2 LoRA of a two-stage request
               without user LoRA: its factors cross to the device, ~7 GB for the rank-384 distilled LoRA, instead
               of the ~34.5 GiB of merged weights); switching back restores the base snapshot (prepare() starts
               that copy on a side CUDA stream, so it overlaps the VAE decode / text encoding). When no stage is
               the bare base (a user LoRA, or the HQ pipeline's distilled LoRA in stage 1), each stage's
               values are kept as host snapshots and copied in. Memory: one transformer on the device + the
               host snapshots (one copy of the touched tensors, or one per stage).
    original   ltx-pipelines' model-ledger semantics: one transformer at a time; a switch releases the
               current one, then builds the other stage's from the checkpoint with its LoRAs fused.
               Memory: one transformer; a switch costs a checkpoint load + LoRA fusion.

All three give the same weights bit for bit (the same merge of the same file values on the same device),
hence the same video.
"""
from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Sequence

import torch
from torch import nn

from ltx_backend.loading.lora import LoraFile, WeightSnapshot, apply_loras, check_loras, pin_factors, touched_modules

log = logging.getLogger(__name__)

DEVICE_MODES = ("resident", "snapshot", "original")
DEFAULT_DEVICE_MODE = "snapshot"

StageLoras = dict[int, Sequence[tuple[LoraFile, float]]]


class StageWeights:
    """The transformer to use for each stage (1, 2, ...) under one device mode.

    load_transformer(): a freshly loaded base transformer (from the checkpoint, on the target device).
    stage_loras: {stage: [(lora, scale), ...]}; every stage the pipeline denoises must have an entry.
    """

    def __init__(self, load_transformer: Callable[[], nn.Module], stage_loras: StageLoras, mode: str = DEFAULT_DEVICE_MODE):
        if mode not in DEVICE_MODES:
            raise ValueError(f"invalid device_mode={mode!r}: one of {', '.join(DEVICE_MODES)}")
        if not stage_loras:
            raise ValueError("stage_loras needs at least one stage")
        self.mode = mode
        self.stage_loras = {s: list(loras) for s, loras in stage_loras.items()}
        self._load = load_transformer
        self.switch_seconds: list[float] = []  # wall time of each stage switch (for benchmarks)
        self._pending: tuple[int, object] | None = None  # snapshot mode: (stage, CUDA event) of a started switch
        first = min(self.stage_loras)
        if mode == "resident":
            self._models = {s: self._build(s) for s in sorted(self.stage_loras)}
            self.current = first
        elif mode == "snapshot":
            self._model = self._load()
            # A stage without LoRAs is the base: the other stages are merged from it on the device.
            self._base_stage = next((s for s in self.stages if not self.stage_loras[s]), None)
            self._snapshots = self._take_snapshots(self._model)
            self.current = self._base_stage  # _take_snapshots leaves the model at base
            if first != self.current:
                self._switch(first)
            self.current = first
        else:
            self._model = self._build(first)
            for stage in self.stages:  # the other stages' LoRAs are merged at switches: check them now
                check_loras(self._model, self._loras(stage))
            self.current = first
        # every transformer is loaded on one device: its streams and synchronize() are this device's
        self.device = next((self._models[first] if mode == "resident" else self._model).parameters()).device

    @property
    def stages(self) -> list[int]:
        return sorted(self.stage_loras)

    def _loras(self, stage: int) -> list[tuple[LoraFile, float]]:
        if stage not in self.stage_loras:
            raise ValueError(f"no weights for stage {stage} (this pipeline has stages {self.stages})")
        return self.stage_loras[stage]

    def _build(self, stage: int) -> nn.Module:
        model = self._load()
        loras = self._loras(stage)
        if loras:
            apply_loras(model, loras)
        return model

    def _take_snapshots(self, model: nn.Module) -> dict[int, WeightSnapshot]:
        """Host copies of every tensor some stage's LoRAs touch: the base values, and each stage's values when
        no stage is the base (then a switch copies them in). Every stage's LoRAs are checked against the model
        here (a LoRA that does not fit fails at load, not at a request). The model is left at base."""
        touched = touched_modules([item for loras in self.stage_loras.values() for item in loras], model)
        base = WeightSnapshot.take(model, touched)
        snapshots = {}
        for stage in self.stages:
            loras = self._loras(stage)
            if not loras:
                snapshots[stage] = base
            elif self._base_stage is None:
                apply_loras(model, loras)
                snapshots[stage] = WeightSnapshot.take(model, touched)
                base.restore(model, non_blocking=False)
            else:  # merged on the device at each switch: checked and reported now; factors pinned on CUDA
                log.info(check_loras(model, loras))
                if next(model.parameters()).device.type == "cuda":
                    pin_factors(loras)
        log.info(
            "snapshot mode: %d tensors per stage, %.1f MiB of host snapshots; stages merged on the device: %s",
            len(touched), sum(s.nbytes for s in {id(s): s for s in snapshots.values()}.values()) / 2**20,
            ", ".join(str(s) for s in self.stages if s not in snapshots) or "none",
        )
        return snapshots

    def _switch(self, stage: int) -> None:
        """Snapshot mode: give the model `stage`'s weights (from self.current's; None: unknown weights)."""
        if stage in self._snapshots:
            self._snapshots[stage].restore(self._model, non_blocking=False)
            return
        if self.current is None or self.stage_loras[self.current]:  # back to the base values first
            self._snapshots[self._base_stage].restore(self._model, non_blocking=False)
        apply_loras(self._model, self._loras(stage), log_coverage=False)  # reported at load already

    def prepare(self, stage: int) -> None:
        """Start switching to `stage` now (snapshot mode on CUDA: an asynchronous copy on a side stream,
        ordered after the work already queued); other modes switch in model()."""
        self._loras(stage)
        if self.mode != "snapshot" or stage == self.current or self._pending is not None or stage not in self._snapshots:
            return  # a merge on the device is quick: model() does it
        device = self.device
        if device.type != "cuda":
            return
        start = time.perf_counter()
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))  # after the last use of the current weights
        with torch.cuda.stream(stream):
            self._snapshots[stage].restore(self._model, non_blocking=True)
            event = stream.record_event()
        self._pending = (stage, event, start)

    def model(self, stage: int) -> nn.Module:
        """The transformer holding `stage`'s weights (switching to them if needed)."""
        self._loras(stage)
        if self.mode == "resident":
            self.current = stage
            return self._models[stage]
        if self._pending is not None:
            pending_stage, event, start = self._pending
            self._pending = None
            torch.cuda.current_stream(self.device).wait_event(event)
            if pending_stage == stage:
                event.synchronize()
                self.switch_seconds.append(time.perf_counter() - start)
                self.current = stage
            else:
                self.current = pending_stage
        if stage == self.current:
            return self._model
        start = time.perf_counter()
        try:
            if self.mode == "snapshot":
                self._switch(stage)
            else:  # original: release, then build the other stage's transformer from the checkpoint
                self._model = None
                gc.collect()
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                self._model = self._build(stage)
        except BaseException:
            # A switch that failed part way (out of memory, say) leaves weights of no stage: the next call
            # switches from scratch (snapshot: base values restored first; original: a fresh build).
            self.current = None
            raise
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.switch_seconds.append(time.perf_counter() - start)
        self.current = stage
        return self._model

    def release(self) -> None:
        """Drop every transformer and snapshot (the object is unusable afterwards)."""
        if self._pending is not None:  # a side-stream copy may still be writing into the weights
            self._pending[1].synchronize()
            self._pending = None
        self._models = self._model = self._snapshots = None
        gc.collect()
