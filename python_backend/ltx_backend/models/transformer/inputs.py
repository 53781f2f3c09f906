"""What the audio+video transformer is called with: one ModalityInput per stream, and perturbations.

The contract between the denoising loop (sampling/) and the model (models/transformer/). It carries
the same information as ltx-core's ``Modality`` and ``BatchedPerturbationConfig``.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from enum import Enum

import torch

from ltx_kernels.adaln import per_token


@dataclass(frozen=True)
class ProjectedText:
    """One stream's text context as the blocks use it, computed once for a denoising loop by
    AVTransformer.project_text (LTX-2: the context does not change between steps, so neither do these).

    context: [B, S, D]  the context after the caption projection
    kv:      per block, the text cross-attention's key and value projections, each [B, S, inner]
    """

    context: torch.Tensor
    kv: tuple[tuple[torch.Tensor, torch.Tensor], ...]


@dataclass(frozen=True)
class ModalityInput:
    """One stream (video or audio) of one transformer call.

    latent:         [B, T, C]   patchified tokens (noisy tokens, then any keyframe tokens)
    sigma:          [B]         the step's sigma (drives the audio<->video cross-attention AdaLN)
    timesteps:      [B, T]      per-token sigma: sigma * denoise_mask (0 for clean conditioning tokens); [B, 1] when
                               every token of an element is at one noise level (the blocks' AdaLN vectors are then
                               computed and read once per element, not once per token); [B, L] with timestep_index:
                               one per noise level (token_timesteps gives them per token)
    positions:      [B, 3, T, 2] video (time, height, width) / [B, 1, T, 2] audio: each token's
                                [start, end) bounds in seconds / pixels, as ltx-core builds them
    context:        [B, S, D]   text embeddings for this stream
    context_mask:   [B, S]      1 where the text token is real, 0 for padding (None: all real)
    attention_mask: [B, T, T]   optional self-attention weights in [0, 1] (None: full attention)
    enabled:        False runs the model without this stream's output
    text:           the context already projected (AVTransformer.project_text of this input), or None
    timestep_index: [B, T]      int64: the column of timesteps each token is at, or None. Image conditioning puts
                               a few tokens at level 0 beside the noisy ones: the blocks' AdaLN vectors are then made
                               per level (L = 2) and each token reads its level's, not made per token (T)
    """

    latent: torch.Tensor
    sigma: torch.Tensor
    timesteps: torch.Tensor
    positions: torch.Tensor
    context: torch.Tensor
    context_mask: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    enabled: bool = True
    text: ProjectedText | None = None
    timestep_index: torch.Tensor | None = None

    def __post_init__(self):
        batch, tokens = self.latent.shape[:2]
        if self.timesteps.dim() != 2 or self.timesteps.shape[0] != batch:
            raise ValueError(f"timesteps {tuple(self.timesteps.shape)}: [B, T], [B, 1] or [B, L] for latent {tuple(self.latent.shape)}")
        index = self.timestep_index
        if index is not None and (index.shape != (batch, tokens) or index.dtype != torch.int64):
            raise ValueError(f"timestep_index {tuple(index.shape)} {index.dtype}: int64 [B, T] for latent {tuple(self.latent.shape)}")

    def token_timesteps(self) -> torch.Tensor:
        """Each token's timestep: [B, T], or [B, 1] when every token of an element is at one."""
        if self.timestep_index is None:
            return self.timesteps
        return per_token(self.timesteps[..., None], self.timestep_index)[..., 0]


class Skip(Enum):
    """An attention a guidance pass switches off (STG: self-attention; modality guidance: cross-modal)."""

    VIDEO_SELF_ATTN = "skip_video_self_attn"
    AUDIO_SELF_ATTN = "skip_audio_self_attn"
    A2V_CROSS_ATTN = "skip_a2v_cross_attn"  # video stream attending to audio
    V2A_CROSS_ATTN = "skip_v2a_cross_attn"  # audio stream attending to video


@dataclass(frozen=True)
class Perturbation:
    skip: Skip
    blocks: tuple[int, ...] | None = None  # None: every block

    def applies(self, skip: Skip, block: int) -> bool:
        return self.skip == skip and (self.blocks is None or block in self.blocks)

    def first_block(self) -> float:
        """The first block it applies to: 0 for every block, inf for none."""
        return 0 if self.blocks is None else min(self.blocks, default=math.inf)


@dataclass(frozen=True)
class BatchPerturbations:
    """Per batch element, the perturbations of that guidance pass (empty tuple: a plain pass).

    twins: (element, source) pairs: `element` has the same inputs as `source` (latent, sigma, context,
    positions, masks, enabled) and differs only by its perturbations, so up to its first perturbed block
    its hidden states are source's. The model computes it from that block on, starting from a copy of
    source's hidden states (an STG pass perturbing block 29 of 48 costs 19 blocks, not 48). Twins must be
    the batch's last elements, in the order of their first perturbed blocks; sources come before them.
    """

    per_sample: tuple[tuple[Perturbation, ...], ...]
    twins: tuple[tuple[int, int], ...] = ()

    @staticmethod
    def none(batch_size: int) -> BatchPerturbations:
        return BatchPerturbations(tuple(() for _ in range(batch_size)))

    def first_perturbed_block(self, element: int, num_blocks: int) -> int:
        """The first block that skips something for `element` (num_blocks: none does)."""
        return min([num_blocks, *(p.first_block() for p in self.per_sample[element])])

    def joins(self, num_blocks: int) -> tuple[tuple[int, tuple[int, ...]], ...]:
        """When the twins enter the batch: (block, their sources' indices), in block order; the batch
        before the first join is the first len(per_sample) - len(twins) elements. Raises ValueError
        when the twins are not laid out as the class says."""
        size = len(self.per_sample)
        live = size - len(self.twins)
        starts = []
        for i, (element, source) in enumerate(self.twins):
            if element != live + i or not 0 <= source < element:
                raise ValueError(
                    f"twins {self.twins}: twin elements must be the batch's last ({live}..{size - 1}, in order), "
                    "each after its source"
                )
            starts.append(self.first_perturbed_block(element, num_blocks))
        if starts != sorted(starts):
            raise ValueError(f"twins {self.twins}: must be ordered by first perturbed block (got blocks {starts})")
        joins: dict[int, list[int]] = {}
        for (_, source), block in zip(self.twins, starts):
            joins.setdefault(block, []).append(source)
        return tuple((block, tuple(sources)) for block, sources in joins.items())

    def for_block(self, block: int) -> BlockSkips:
        """What block `block` skips, per batch element (resolved here, outside the block: a compiled block's
        graph then depends on the skip pattern only, so blocks with the same pattern share one compilation)."""
        return BlockSkips(tuple(
            (skip, tuple(any(p.applies(skip, block) for p in sample) for sample in self.per_sample)) for skip in Skip
        ))


@dataclass(frozen=True)
class BlockSkips:
    """For one block: per Skip, one bool per batch element (True: that element skips the attention)."""

    per_skip: tuple[tuple[Skip, tuple[bool, ...]], ...]

    def skipped(self, skip: Skip) -> tuple[bool, ...]:
        for s, flags in self.per_skip:
            if s == skip:
                return flags
        raise KeyError(skip)

    def any(self, skip: Skip) -> bool:
        return any(self.skipped(skip))

    def all(self, skip: Skip) -> bool:
        return all(self.skipped(skip))

    def prefix(self, n: int) -> BlockSkips:
        """The flags of the batch's first n elements (the elements a block runs before twins join)."""
        return BlockSkips(tuple((skip, flags[:n]) for skip, flags in self.per_skip))

    def keep_mask(self, skip: Skip, like: torch.Tensor) -> torch.Tensor:
        """[B, 1, ..., 1] in like's dtype/device: 0 where the attention is skipped, 1 where kept.

        Eager inference makes each pattern's mask once and every block reuses it (a `ones` and a fill per skipping
        element were launched per block and attention before); a compiled block makes it in its graph, and a call
        recording gradients makes its own (a tensor kept from an inference_mode call cannot be saved for backward).
        The kept mask is shared by every block: never modify it in place."""
        flags = self.skipped(skip)
        if torch.compiler.is_compiling() or torch.is_grad_enabled():
            keep = _keep_values(flags, like.dtype, like.device)
        else:
            stream = torch.cuda.current_stream(like.device).cuda_stream if like.device.type == "cuda" else 0
            keep = _kept_keep_values(flags, like.dtype, like.device, stream)
        return keep.view(-1, *([1] * (like.dim() - 1)))


def _keep_values(flags: tuple[bool, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """[B]: 0.0 where flags is True, else 1.0."""
    keep = torch.ones(len(flags), device=device, dtype=dtype)
    for i, skipped in enumerate(flags):
        if skipped:
            keep[i] = 0.0  # a fill on the device (torch.tensor(list, device=cuda) copies from pageable memory: a sync)
    return keep


@functools.lru_cache(maxsize=64)
def _kept_keep_values(flags: tuple[bool, ...], dtype: torch.dtype, device: torch.device, stream: int) -> torch.Tensor:
    """_keep_values, kept per CUDA stream too: its fill is ordered before the kernels of the stream that made it
    only."""
    return _keep_values(flags, dtype, device)
