"""Torch's CPU thread count, set explicitly in every process that generates (generate, each served model)."""
from __future__ import annotations

import logging
import os

import torch

log = logging.getLogger(__name__)


def use_environment_thread_count() -> None:
    """Set torch's CPU thread count explicitly: what OMP_NUM_THREADS names (else torch's default). Explicitly,
    because torch.set_num_threads also turns MKL's dynamic thread choice off (ATen: mkl_set_dynamic(false)); left
    on, MKL may run a GEMM on fewer threads than asked, and a CPU GEMM's sums split by thread (1 vs 2 threads: one
    pixel in ~10^4 of a tiny two-stage video one level apart). `generate` and a server give the same video only at
    equal thread counts."""
    threads = os.environ.get("OMP_NUM_THREADS", "")
    torch.set_num_threads(int(threads) if threads.isdigit() and int(threads) > 0 else torch.get_num_threads())
    log.info("torch CPU threads: %d", torch.get_num_threads())
