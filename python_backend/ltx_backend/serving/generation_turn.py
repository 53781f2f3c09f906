"""GenerationTurn: one generation at a time across the pipeline models' processes, by an exclusive lock on a
file (fcntl.flock: released by the kernel if a holder dies). A request waiting for its turn is already
validated, and stops waiting when it is cancelled."""
from __future__ import annotations

import fcntl
import hashlib
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ltx_backend.serving.base import RequestCancelled


class GenerationTurn:
    def __init__(self, path: Path):
        self.path = path

    @classmethod
    def of_repository(cls, repository: Path) -> GenerationTurn:
        """The turn of one served model repository (a temp file named after its path: not in the repository)."""
        digest = hashlib.sha1(str(repository.resolve()).encode()).hexdigest()[:16]
        return cls(Path(tempfile.gettempdir()) / f"ltx-triton-generation-{digest}.lock")

    @contextmanager
    def taken(self, cancelled: Callable[[], bool], poll_s: float = 0.05) -> Iterator[None]:
        with open(self.path, "a") as handle:
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if cancelled():
                        raise RequestCancelled() from None
                    time.sleep(poll_s)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
