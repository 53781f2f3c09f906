"""The served denoiser's memory of the text projections of the request it is denoising.

Served, each denoising step is its own `denoiser` request and carries the text contexts again. The transformer
projects them (LTX-2: caption projection and every block's text K/V, AVTransformer.project_text) at a request's
first step; the next steps arrive with equal contexts and the same weights, and reuse them, as the in-process
loop does. One entry: interleaved requests (two pipeline instances generating at once) still get correct results, each
step then projecting again. The entry stays after
its request (LTX-2 768x512 stage 1: 4.5 GiB of K/V for the four guidance passes) until a step with other
contexts or weights replaces it: the memory a request needs anyway, not growing with the requests served.
"""
from __future__ import annotations

import torch

from ltx_backend.sampling.denoise import TextCache
from ltx_backend.types import GuidanceContexts


def _tensors(contexts: GuidanceContexts) -> tuple[torch.Tensor | None, ...]:
    return tuple(
        t for text in (contexts.positive, contexts.negative)
        for t in ((None,) * 4 if text is None else (text.video, text.audio, text.video_mask, text.audio_mask))
    )


def _same(a: torch.Tensor | None, b: torch.Tensor | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.shape == b.shape and a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)


class LastTextProjections:
    def __init__(self):
        self._entry: tuple[object, tuple, TextCache] | None = None

    def cache_for(self, weights: object, contexts: GuidanceContexts) -> TextCache:
        """The text cache of these weights and contexts: the last one when both are the same, else a new one
        (which replaces it)."""
        tensors = _tensors(contexts)
        if self._entry is not None:
            saved_weights, saved, cache = self._entry
            if saved_weights == weights and all(_same(a, b) for a, b in zip(saved, tensors)):
                return cache
        cache: TextCache = {}
        # Copies, not the request's tensors: served inputs can be zero-copy views of memory that a later
        # request's contexts reuse (same address, other prompt), which would then compare equal to themselves.
        self._entry = (weights, tuple(None if t is None else t.clone() for t in tensors), cache)
        return cache
