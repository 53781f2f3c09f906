"""GenerationTurn (serving/generation_turn.py): the pipeline models' processes take turns to generate where the
denoiser switches weights; a request waiting for its turn stops when cancelled."""
from __future__ import annotations

import threading

import pytest

from ltx_backend.serving.base import RequestCancelled
from ltx_backend.serving.generation_turn import GenerationTurn


def test_one_holder_at_a_time_and_a_cancelled_waiter_gives_up(tmp_path):
    first, second = GenerationTurn.of_repository(tmp_path), GenerationTurn.of_repository(tmp_path)
    assert first.path == second.path and first.path.parent != tmp_path  # not written into the repository
    holding, release = threading.Event(), threading.Event()

    def hold():
        with first.taken(lambda: False):
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=hold)
    thread.start()
    holding.wait(10)
    polls = []
    with pytest.raises(RequestCancelled):
        with second.taken(lambda: polls.append(1) or len(polls) > 3, poll_s=0.01):
            pass
    assert len(polls) == 4  # it waited, then stopped when cancelled
    release.set()
    thread.join(10)
    with second.taken(lambda: False):  # free again
        pass
