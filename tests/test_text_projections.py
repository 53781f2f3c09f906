"""The served denoiser's memory of text projections (serving/text_projections.py): a step with the same weights
and equal contexts (new tensors, as each served step brings them) reuses the last cache; anything else starts a
new one."""
from __future__ import annotations

import torch

from ltx_backend.serving.text_projections import LastTextProjections
from ltx_backend.types import GuidanceContexts, TextContext


def _contexts(seed: int, negative: bool = True) -> GuidanceContexts:
    g = torch.Generator().manual_seed(seed)
    pos = TextContext(torch.randn(1, 5, 8, generator=g), torch.randn(1, 5, 4, generator=g))
    neg = TextContext(torch.randn(1, 5, 8, generator=g), torch.randn(1, 5, 4, generator=g)) if negative else None
    return GuidanceContexts(pos, neg)


def test_equal_contexts_and_weights_reuse_the_cache():
    memo = LastTextProjections()
    first = memo.cache_for("stage1", _contexts(0))
    first["projected"] = "k/v"
    assert memo.cache_for("stage1", _contexts(0)) is first  # equal values in new tensors: the next step
    assert memo.cache_for("stage2", _contexts(0)) is not first  # other weights
    second = memo.cache_for("stage1", _contexts(1))  # another prompt
    assert second == {} and second is not first
    assert memo.cache_for("stage1", _contexts(1, negative=False)) is not second  # no negative prompt
    changed = _contexts(1)
    changed.positive.video[0, 0, 0] += 1e-3
    assert memo.cache_for("stage1", changed) is not memo.cache_for("stage1", _contexts(1))


def test_a_later_request_in_the_same_memory_is_not_taken_for_the_last_one():
    """Served inputs may be zero-copy views: the next request's contexts can arrive in the very buffers of the
    last one's, overwritten with another prompt. The memo compares against its own copies."""
    memo = LastTextProjections()
    contexts = _contexts(0)
    first = memo.cache_for("stage1", contexts)
    first["projected"] = "k/v of prompt 0"
    other = _contexts(1)
    for mine, theirs in ((contexts.positive, other.positive), (contexts.negative, other.negative)):
        mine.video.copy_(theirs.video)  # same tensors, another prompt's values
        mine.audio.copy_(theirs.audio)
    assert memo.cache_for("stage1", contexts) is not first
