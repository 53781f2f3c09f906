"""What the transformer blocks carry for one stream (video or audio), and the attention-mask conversions."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

import torch

from .rope import RopeTables


@dataclass(frozen=True)
class StreamArgs:
    """One stream's hidden state and conditioning, prepared once per transformer call.

    x:                   [B, T, D]        hidden tokens (updated block by block)
    context:             [B, S, D]        text embeddings (after LTX-2's caption projection)
    context_bias:        [B, 1, 1, S]     additive text key-padding bias, or None
    modulation:          [B, T|1|L, n * D] AdaLN vectors of the blocks (n = 6, or 9 with cross-attention AdaLN); one
                                          per element when the timesteps are, one per noise level with timestep_index
    embedded_timestep:   [B, T|1|L, D]    timestep embedding, modulates the output norm
    timestep_index:      [B, T]           int64: the row of modulation / embedded_timestep each token reads, or None
    pe:                  RoPE tables of the self-attention
    self_attention_bias: [B, 1, T, T]     additive self-attention bias, or None
    prompt_modulation:   [B, 1, 2 * D]    LTX-2.3: (shift, scale) of the text context, or None
    cross_pe:            RoPE tables of the audio<->video attentions (time axis only), or None
    cross_modulation:    [B, 1, 4 * D]    audio<->video (scale, shift) pairs, from the other stream's sigma
    cross_gate:          [B, 1, D]        audio<->video output gate, from the other stream's sigma
    enabled:             False: the blocks leave x unchanged (it still serves as the other stream's keys)
    """

    x: torch.Tensor
    context: torch.Tensor
    context_bias: torch.Tensor | None
    modulation: torch.Tensor
    embedded_timestep: torch.Tensor
    timestep_index: torch.Tensor | None
    pe: RopeTables
    self_attention_bias: torch.Tensor | None
    prompt_modulation: torch.Tensor | None
    cross_pe: RopeTables | None
    cross_modulation: torch.Tensor | None
    cross_gate: torch.Tensor | None
    enabled: bool

    def prefix(self, n: int) -> StreamArgs:
        """The batch's first n elements (views; broadcast [1, ...] tensors stay as they are)."""
        def cut(t):
            if t is None:
                return None
            if isinstance(t, tuple):
                return tuple(cut(u) for u in t)
            return t[:n]

        return StreamArgs(**{
            f.name: getattr(self, f.name) if f.name == "enabled" else cut(getattr(self, f.name)) for f in fields(self)
        })

    def join(self, full: StreamArgs, sources: tuple[int, ...]) -> StreamArgs:
        """This (a prefix of `full`) grown by len(sources) elements whose hidden states start as copies of
        the `sources` elements' (twins: same inputs until now); their conditioning comes from `full`."""
        n = self.x.shape[0] + len(sources)
        return replace(full.prefix(n), x=torch.cat([self.x, self.x[list(sources)]]))


def text_padding_bias(mask: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """[B, S] 1 = real token / 0 = padding -> additive bias [B, 1, 1, S]: 0, or -finfo.max for padding."""
    if mask is None:
        return None
    return (mask.to(dtype) - 1).reshape(mask.shape[0], 1, 1, mask.shape[-1]) * torch.finfo(dtype).max


def self_attention_bias(weights: torch.Tensor | None, dtype: torch.dtype) -> torch.Tensor | None:
    """[B, T, T] attention weights in [0, 1] -> additive bias [B, 1, T, T]: log(w), finfo.min where w <= 0."""
    if weights is None:
        return None
    finfo = torch.finfo(dtype)
    log_weights = torch.log(weights.clamp(min=finfo.tiny)).to(dtype)
    bias = torch.where(weights > 0, log_weights, torch.full_like(log_weights, finfo.min))
    return bias.unsqueeze(1)
