"""Free memory where weights are about to go, and the check that refuses a load that cannot fit.

A device mode that needs more than there is would otherwise fail part way through minutes of loading, with an
allocator's message (or the kernel's OOM killer for host memory); `check_room` refuses it first, naming the mode,
the bytes it needs, the bytes free and what fits instead.
"""
from __future__ import annotations

from pathlib import Path

import torch

from ltx_backend.errors import InvalidRequest

GIB = 2**30
CGROUP = Path("/sys/fs/cgroup")


def module_bytes(module: torch.nn.Module) -> int:
    """The bytes of a module's parameters and buffers, as they are stored."""
    return sum(t.numel() * t.element_size() for t in (*module.parameters(), *module.buffers()))


def host_available_bytes() -> int | None:
    """Host memory a process can still take: /proc/meminfo's MemAvailable, less where a cgroup (v2) limit leaves
    less (a container's: its limit less its usage, its file cache counted as free, as the kernel reclaims it: a
    checkpoint just read fills that cache); None where neither can be read."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = (CGROUP / "memory.max").read_text().strip()
        if limit != "max":
            left = int(limit) - int((CGROUP / "memory.current").read_text()) + _reclaimable_cache_bytes()
            available = left if available is None else min(available, left)
    except (OSError, ValueError):
        pass
    return available


def _reclaimable_cache_bytes() -> int:
    """The cgroup's file cache less its shared memory (tmpfs, /dev/shm: not reclaimable): what the kernel frees
    before it refuses the cgroup memory (counted as free: a false refusal is worse than a missed one)."""
    try:
        stat = {}
        for line in (CGROUP / "memory.stat").read_text().splitlines():
            name, _, value = line.partition(" ")
            stat[name] = value
        return max(0, int(stat.get("file", 0)) - int(stat.get("shmem", 0)))
    except (OSError, ValueError):
        return 0


def free_bytes(device: torch.device) -> int | None:
    """Free memory on `device`: a GPU's (the driver's free memory and what torch's allocator holds unused), the
    host's for the CPU; None if unknown."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    if device.type == "cpu":
        return host_available_bytes()
    return None


def describe(device: torch.device) -> str:
    return torch.cuda.get_device_name(device) if device.type == "cuda" else "this host"


def check_room(mode: str, need: int, free: int | None, what: str, where: str, instead: str) -> None:
    """Refuse device mode `mode` when `need` bytes (for `what`) exceed the `free` bytes `where`."""
    if free is not None and need > free:
        raise InvalidRequest(
            "device_mode", mode,
            f"{what} need {need / GIB:.1f} GiB and {where} has {free / GIB:.1f} GiB free: {instead}",
        )
