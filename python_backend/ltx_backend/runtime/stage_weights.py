"""The transformer weight sets of a denoiser, and how a switch between them gets them (the device modes).

A weight set is the base checkpoint with some LoRAs merged (W += scale * B @ A, see loading/lora.py), named
by a key (runtime/weight_plan.py): two-stage pipelines use the base + user LoRAs in stage 1 and the base +
user LoRAs + the distilled LoRA in stage 2 (the HQ pipeline merges the distilled LoRA into stage 1 too, at a
lower strength). One class per device mode, one interface (`model(key)`, `prepare(key)`):

    resident   ResidentWeights: one transformer per weight set, each merged once at load. A switch moves
               nothing. Memory: one transformer per weight set on the device.
    snapshot   SnapshotWeights: one transformer on the device. At load, the base values of the tensors any LoRA
               touches are kept as a host snapshot (pinned on CUDA). Switching to a set that merges LoRAs into
               the base merges them on the device, from the base values (the stage-2 LoRA of a two-stage
               request without user LoRA: its factors cross to the device, ~7 GB for the rank-384 distilled
               LoRA, instead of the ~34.5 GiB of merged weights); switching back restores the base snapshot
               (prepare() starts that copy on a side CUDA stream, so it overlaps the VAE decode / text
               encoding). When no set is the bare base (a user LoRA, or the HQ pipeline's distilled LoRA in
               stage 1), each set's values are kept as host snapshots and copied in. Memory: one transformer
               on the device + the host snapshots (one copy of the touched tensors, or one per set).
    original   RebuildWeights: ltx-pipelines' model-ledger semantics: one transformer at a time; a switch
               releases the current one, then builds the other set from the checkpoint with its LoRAs fused.
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

from ltx_backend.errors import InvalidRequest
from ltx_backend.loading.lora import LoraFile, WeightSnapshot, apply_loras, check_loras, pin_factors, touched_modules
from ltx_backend.runtime.device_memory import check_room, describe, free_bytes, host_available_bytes, module_bytes

log = logging.getLogger(__name__)

Loras = Sequence[tuple[LoraFile, float]]
WeightSets = dict[str, Loras]  # weight-set key -> the LoRAs merged into the base (insertion order: the first loads)


class StageWeights:
    """The transformer holding each weight set, under one device mode (a subclass per mode).

    load_transformer(): a freshly loaded base transformer (from the checkpoint, on the target device).
    weight_sets: {key: [(lora, scale), ...]}; the first is the one the transformer holds after loading.
    """

    mode: str

    def __init__(self, load_transformer: Callable[[], nn.Module], weight_sets: WeightSets):
        if not weight_sets:
            raise ValueError("weight_sets needs at least one weight set")
        self.weight_sets = {key: list(loras) for key, loras in weight_sets.items()}
        self._load = load_transformer
        self.switch_seconds: list[float] = []  # wall time of each switch (for benchmarks)
        self.current: str | None = None  # the key whose weights the transformer holds (None: none, after a failed switch)
        self._reported: set[str] = set()  # LoRA coverage lines logged

    @property
    def keys(self) -> list[str]:
        return list(self.weight_sets)

    @property
    def device(self) -> torch.device:
        """Where every transformer of this object lives: its streams and synchronize() are this device's."""
        return self._device

    def loras(self, key: str) -> list[tuple[LoraFile, float]]:
        if key not in self.weight_sets:
            raise ValueError(f"no weight set {key!r} (this denoiser holds {', '.join(self.keys)})")
        return self.weight_sets[key]

    def prepare(self, key: str) -> None:
        """A hint: the next model() is for `key`. Modes that can start the switch early do (SnapshotWeights)."""
        self.loras(key)

    def model(self, key: str) -> nn.Module:
        """The transformer holding `key`'s weights (switching to them if needed)."""
        raise NotImplementedError

    def held(self) -> nn.Module:
        """The transformer as it is now (the first weight set's after a failed switch)."""
        return self.model(self.keys[0] if self.current is None else self.current)

    def _build(self, key: str) -> nn.Module:
        model = self._load()
        loras = self.loras(key)
        if loras:
            self._report(apply_loras(model, loras, log_coverage=False).summary())
        return model

    def _report(self, summary: str) -> None:
        """Each LoRA's coverage line, once (stage 2's weight set repeats the user LoRA of stage 1's)."""
        for line in summary.splitlines():
            if line not in self._reported:
                self._reported.add(line)
                log.info(line)

    def _timed_switch(self, key: str, switch: Callable[[], None]) -> None:
        """Run a switch to `key`, timed; a switch that fails part way (out of memory, say) leaves weights of no
        set: current is None and the next switch starts from scratch."""
        start = time.perf_counter()
        try:
            switch()
        except BaseException:
            self.current = None
            raise
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.switch_seconds.append(time.perf_counter() - start)
        self.current = key


class ResidentWeights(StageWeights):
    mode = "resident"

    def __init__(self, load_transformer: Callable[[], nn.Module], weight_sets: WeightSets):
        super().__init__(load_transformer, weight_sets)
        first, *others = self.keys
        self._models = {first: self._build(first)}
        self._device = next(self._models[first].parameters()).device
        if others:  # each other set is as big again: refused now if it cannot fit, not part way through loading it
            held = self._models[first]
            fp8 = "" if any(t.element_size() == 1 for t in held.parameters()) else "; fp8 weights (--quantization fp8-cast) take half as much"
            check_room(self.mode, len(others) * module_bytes(held), free_bytes(self._device),
                       f"the transformers of weight sets {', '.join(others)} (one each, beside {first}'s)", describe(self._device),
                       "snapshot mode holds one transformer and merges the other stage's LoRA at switches" + fp8)
            self._models.update((key, self._build(key)) for key in others)
        self.current = first

    def model(self, key: str) -> nn.Module:
        self.loras(key)
        self.current = key
        return self._models[key]


class SnapshotWeights(StageWeights):
    mode = "snapshot"

    def __init__(self, load_transformer: Callable[[], nn.Module], weight_sets: WeightSets):
        super().__init__(load_transformer, weight_sets)
        self._model = self._load()
        self._device = next(self._model.parameters()).device
        self._pending: tuple[str, object, float] | None = None  # (key, CUDA event, start) of a started switch
        # A set without LoRAs is the base: the others are merged from it on the device.
        self._base_key = next((key for key in self.keys if not self.weight_sets[key]), None)
        self._snapshots = self._take_snapshots(self._model)
        self.current = self._base_key  # _take_snapshots leaves the model at base
        first = self.keys[0]
        if first != self.current:
            self._switch(first)
        self.current = first

    def _take_snapshots(self, model: nn.Module) -> dict[str, WeightSnapshot]:
        """Host copies of every tensor some set's LoRAs touch: the base values, and each set's values when no
        set is the base (then a switch copies them in). Every set's LoRAs are checked against the model here (a
        LoRA that does not fit fails at load, not at a request). The model is left at base."""
        touched = touched_modules([item for loras in self.weight_sets.values() for item in loras], model)
        copies = 1 if self._base_key is not None else 1 + len(self.keys)  # the base, and each set's when none is it
        # (the LoRAs' factors are in host memory already: pinning them replaces them, layer by layer)
        check_room(self.mode, copies * WeightSnapshot.bytes_to_take(model, touched), host_available_bytes(),
                   f"host copies of the {len(touched)} weights the LoRAs touch ({copies} of each)", "this host",
                   "original mode keeps no copy (it rebuilds the transformer from the checkpoint at switches)")
        base = WeightSnapshot.take(model, touched)
        snapshots = {}
        for key in self.keys:
            loras = self.loras(key)
            if not loras:
                snapshots[key] = base
            elif self._base_key is None:
                self._report(apply_loras(model, loras, log_coverage=False).summary())
                snapshots[key] = WeightSnapshot.take(model, touched)
                base.restore(model, non_blocking=False)
            else:  # merged on the device at each switch: checked and reported now; factors pinned on CUDA
                self._report(check_loras(model, loras))
                if self._device.type == "cuda":
                    pin_factors(loras)
        if touched:
            log.info(
                "snapshot mode: %d tensors per weight set, %.1f MiB of host snapshots; merged on the device: %s",
                len(touched), sum(s.nbytes for s in {id(s): s for s in snapshots.values()}.values()) / 2**20,
                ", ".join(key for key in self.keys if key not in snapshots) or "none",
            )
        return snapshots

    def _switch(self, key: str) -> None:
        """Give the model `key`'s weights (from self.current's; None: unknown weights)."""
        if key in self._snapshots:
            self._snapshots[key].restore(self._model, non_blocking=False)
            return
        if self.current is None or self.weight_sets[self.current]:  # back to the base values first
            self._snapshots[self._base_key].restore(self._model, non_blocking=False)
        apply_loras(self._model, self.loras(key), log_coverage=False)  # reported at load already

    def prepare(self, key: str) -> None:
        """Start switching to `key` now: on CUDA, an asynchronous copy on a side stream, ordered after the work
        already queued (a merge on the device is quick: model() does it)."""
        self.loras(key)
        if key == self.current or self._pending is not None or key not in self._snapshots or self.device.type != "cuda":
            return
        start = time.perf_counter()
        stream = torch.cuda.Stream(self.device)
        stream.wait_stream(torch.cuda.current_stream(self.device))  # after the last use of the current weights
        with torch.cuda.stream(stream):
            self._snapshots[key].restore(self._model, non_blocking=True)
            event = stream.record_event()
        self._pending = (key, event, start)

    def model(self, key: str) -> nn.Module:
        self.loras(key)
        if self._pending is not None:
            pending_key, event, start = self._pending
            self._pending = None
            torch.cuda.current_stream(self.device).wait_event(event)
            if pending_key == key:
                event.synchronize()
                self.switch_seconds.append(time.perf_counter() - start)
            self.current = pending_key
        if key != self.current:
            self._timed_switch(key, lambda: self._switch(key))
        return self._model


class RebuildWeights(StageWeights):
    mode = "original"

    def __init__(self, load_transformer: Callable[[], nn.Module], weight_sets: WeightSets):
        super().__init__(load_transformer, weight_sets)
        first = self.keys[0]
        self._model = self._build(first)
        self._device = next(self._model.parameters()).device
        for key in self.keys:  # the other sets' LoRAs are merged at switches: check them now
            check_loras(self._model, self.loras(key))
        self.current = first

    def model(self, key: str) -> nn.Module:
        self.loras(key)
        if key != self.current:
            self._timed_switch(key, lambda: self._rebuild(key))
        return self._model

    def _rebuild(self, key: str) -> None:
        """Release the current transformer, then build `key`'s from the checkpoint."""
        self._model = None
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        self._model = self._build(key)


WEIGHT_CLASSES: dict[str, type[StageWeights]] = {cls.mode: cls for cls in (ResidentWeights, SnapshotWeights, RebuildWeights)}
DEVICE_MODES: tuple[str, ...] = tuple(WEIGHT_CLASSES)
DEFAULT_DEVICE_MODE = SnapshotWeights.mode


def check_device_mode(mode: str) -> None:
    if mode not in WEIGHT_CLASSES:
        raise InvalidRequest("device_mode", mode, f"one of {', '.join(DEVICE_MODES)}")


def stage_weights(load_transformer: Callable[[], nn.Module], weight_sets: WeightSets, mode: str = DEFAULT_DEVICE_MODE) -> StageWeights:
    """The weight sets held under device mode `mode` (resident, snapshot, original)."""
    check_device_mode(mode)
    return WEIGHT_CLASSES[mode](load_transformer, weight_sets)
