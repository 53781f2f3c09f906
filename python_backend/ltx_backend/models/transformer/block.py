"""One audio+video transformer block.

Per stream s in (video, audio), with AdaLN vectors (shift, scale, gate) from the stream's timestep:
    x_s += gate * SelfAttn(norm(x_s) * (1 + scale) + shift)                 (STG may skip it)
    x_s += TextCrossAttn(norm(x_s), context_s)                              LTX-2
    x_s += gate * TextCrossAttn(norm(x_s) * (1 + scale) + shift,            LTX-2.3 (cross-attention AdaLN)
                                context_s * (1 + scale_kv) + shift_kv)
then the two streams exchange information, both reading the norms taken before either update:
    x_video += gate * A2V(norm(x_video) modulated, keys/values norm(x_audio) modulated)
    x_audio += gate * V2A(norm(x_audio) modulated, keys/values norm(x_video) modulated)
and each stream finishes with its feed-forward:
    x_s += gate * FF(norm(x_s) * (1 + scale) + shift)
norm is a weightless RMS norm. The modulations `norm(x) * (1 + scale) + shift` (and the text context's, without
the norm) and the gated residuals `x + gate * y` go through the ltx_kernels dispatch point (adaln_modulate,
modulate, gated_residual).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import nn

from ltx_kernels import adaln_modulate, gated_residual, modulate

from .adaln import BlockVectors, modulation, modulation_count
from .attention import Attention
from .feed_forward import FeedForward
from .inputs import BlockSkips, Skip
from .rope import RopeType
from .stream import StreamArgs

TextKV = tuple[torch.Tensor, torch.Tensor]  # a text cross-attention's (to_k(context), to_v(context))

# Rows of the per-block modulation tables.
SELF_ATTENTION_ROWS = (0, 3)  # shift, scale, gate
FEED_FORWARD_ROWS = (3, 6)  # shift, scale, gate
TEXT_ATTENTION_ROWS = (6, 9)  # shift, scale, gate of the query (cross-attention AdaLN)
# Audio<->video tables: rows 0-3 (scale, shift) for A2V then V2A, row 4 the output gate.
A2V_ROWS = (0, 2)
V2A_ROWS = (2, 4)
CROSS_MODAL_SCALE_SHIFT_ROWS = 4


@dataclass(frozen=True)
class StreamDims:
    dim: int  # heads * head_dim
    heads: int
    head_dim: int
    context_dim: int  # width of the text embeddings


def rms_norm(x: torch.Tensor, eps: float) -> torch.Tensor:
    return nn.functional.rms_norm(x, (x.shape[-1],), eps=eps)


class AVTransformerBlock(nn.Module):
    def __init__(
        self,
        video: StreamDims,
        audio: StreamDims,
        rope_type: RopeType,
        norm_eps: float,
        gated_attention: bool,
        cross_attention_adaln: bool,
    ):
        super().__init__()
        self.norm_eps = norm_eps

        def attn(query: StreamDims, context_dim: int, heads: StreamDims) -> Attention:
            return Attention(query.dim, context_dim, heads.heads, heads.head_dim, norm_eps, rope_type, gated_attention)

        rows = modulation_count(cross_attention_adaln)
        self.attn1 = attn(video, video.dim, video)
        self.attn2 = attn(video, video.context_dim, video)
        self.ff = FeedForward(video.dim)
        self.scale_shift_table = nn.Parameter(torch.empty(rows, video.dim))

        self.audio_attn1 = attn(audio, audio.dim, audio)
        self.audio_attn2 = attn(audio, audio.context_dim, audio)
        self.audio_ff = FeedForward(audio.dim)
        self.audio_scale_shift_table = nn.Parameter(torch.empty(rows, audio.dim))

        # Both cross-modal attentions run at the audio stream's width (heads x head_dim).
        self.audio_to_video_attn = attn(video, audio.dim, audio)  # queries video, keys/values audio
        self.video_to_audio_attn = attn(audio, video.dim, audio)  # queries audio, keys/values video
        self.scale_shift_table_a2v_ca_audio = nn.Parameter(torch.empty(CROSS_MODAL_SCALE_SHIFT_ROWS + 1, audio.dim))
        self.scale_shift_table_a2v_ca_video = nn.Parameter(torch.empty(CROSS_MODAL_SCALE_SHIFT_ROWS + 1, video.dim))

        # LTX-2.3: (shift, scale) offsets of the text context in the text cross-attention.
        self.prompt_scale_shift_table = nn.Parameter(torch.empty(2, video.dim)) if cross_attention_adaln else None
        self.audio_prompt_scale_shift_table = nn.Parameter(torch.empty(2, audio.dim)) if cross_attention_adaln else None

    def tables(self, audio: bool) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """One stream's modulation tables in this block: (main, LTX-2.3's prompt or None, audio<->video)."""
        if audio:
            return self.audio_scale_shift_table, self.audio_prompt_scale_shift_table, self.scale_shift_table_a2v_ca_audio
        return self.scale_shift_table, self.prompt_scale_shift_table, self.scale_shift_table_a2v_ca_video

    def forward(
        self,
        video: StreamArgs | None,
        audio: StreamArgs | None,
        vectors: tuple[BlockVectors | None, BlockVectors | None],
        skips: BlockSkips,
        text_kv: tuple[TextKV | None, TextKV | None] = (None, None),
    ) -> tuple[StreamArgs | None, StreamArgs | None]:
        """vectors: this block's (video, audio) AdaLN vectors, made for every block at once (AVTransformer).
        skips: which batch elements skip which attention in this block (BatchPerturbations.for_block).
        text_kv: this block's (video, audio) text key/value projections when computed once per loop (else None)."""
        vx = video.x if video is not None else None
        ax = audio.x if audio is not None else None
        run_video = video is not None and video.enabled and vx.numel() > 0
        run_audio = audio is not None and audio.enabled and ax.numel() > 0
        run_a2v = run_video and audio is not None and ax.numel() > 0
        run_v2a = run_audio and video is not None and vx.numel() > 0

        vv, av = vectors
        if run_video:
            vx = self._self_attention(vx, video, vv, self.attn1, self.scale_shift_table, skips, Skip.VIDEO_SELF_ATTN)
            vx = self._text_attention(vx, video, vv, self.attn2, self.scale_shift_table, text_kv[0])
        if run_audio:
            ax = self._self_attention(ax, audio, av, self.audio_attn1, self.audio_scale_shift_table, skips, Skip.AUDIO_SELF_ATTN)
            ax = self._text_attention(ax, audio, av, self.audio_attn2, self.audio_scale_shift_table, text_kv[1])

        # both cross-modal attentions read the streams as they are before either update
        v_in, a_in = vx, ax
        if run_a2v and not skips.all(Skip.A2V_CROSS_ATTN):
            vx = self._cross_modal_attention(
                v_in, a_in, (video, vv), (audio, av), self.audio_to_video_attn, A2V_ROWS, skips, Skip.A2V_CROSS_ATTN
            )
        if run_v2a and not skips.all(Skip.V2A_CROSS_ATTN):
            ax = self._cross_modal_attention(
                a_in, v_in, (audio, av), (video, vv), self.video_to_audio_attn, V2A_ROWS, skips, Skip.V2A_CROSS_ATTN
            )

        if run_video:
            vx = self._feed_forward(vx, video, vv, self.ff, self.scale_shift_table)
        if run_audio:
            ax = self._feed_forward(ax, audio, av, self.audio_ff, self.audio_scale_shift_table)

        return (
            replace(video, x=vx) if video is not None else None,
            replace(audio, x=ax) if audio is not None else None,
        )

    @staticmethod
    def _rows(stream: StreamArgs, vectors: BlockVectors, table: torch.Tensor, rows: tuple[int, int]) -> tuple[torch.Tensor, ...]:
        """Rows of the block's main table + the stream's modulation, [B, 1, D] each; [B, L, D] per noise level, read
        through stream.timestep_index; with per-token timesteps [B, T, D], made here."""
        if vectors.main is None:
            return modulation(table, stream.modulation, *rows)
        return vectors.main[:, :, rows[0]:rows[1]].unbind(2)

    def _self_attention(
        self,
        x: torch.Tensor,
        stream: StreamArgs,
        vectors: BlockVectors,
        attn: Attention,
        table: torch.Tensor,
        skips: BlockSkips,
        skip: Skip,
    ) -> torch.Tensor:
        """x + gate * SelfAttn(modulated norm(x))."""
        shift, scale, gate = self._rows(stream, vectors, table, SELF_ATTENTION_ROWS)
        normed = adaln_modulate(x, shift, scale, self.norm_eps, stream.timestep_index)
        values_only = skips.all(skip)
        keep = skips.keep_mask(skip, x) if skips.any(skip) and not values_only else None
        out = attn(normed, mask=stream.self_attention_bias, pe=stream.pe, keep=keep, values_only=values_only)
        return gated_residual(x, out, gate, stream.timestep_index)

    def _text_attention(
        self,
        x: torch.Tensor,
        stream: StreamArgs,
        vectors: BlockVectors,
        attn: Attention,
        table: torch.Tensor,
        kv: TextKV | None,
    ) -> torch.Tensor:
        """x + TextCrossAttn(norm(x)) (LTX-2), x + gate * TextCrossAttn(modulated norm(x), ..) (LTX-2.3)."""
        if vectors.prompt is None:
            return x + attn(rms_norm(x, self.norm_eps), context=stream.context, mask=stream.context_bias, kv=kv)
        shift_q, scale_q, gate = self._rows(stream, vectors, table, TEXT_ATTENTION_ROWS)
        shift_kv, scale_kv = vectors.prompt.unbind(2)
        query = adaln_modulate(x, shift_q, scale_q, self.norm_eps, stream.timestep_index)
        context = modulate(stream.context, shift_kv, scale_kv)
        return gated_residual(x, attn(query, context=context, mask=stream.context_bias), gate, stream.timestep_index)

    def _cross_modal_attention(
        self,
        x: torch.Tensor,
        other: torch.Tensor,
        query_side: tuple[StreamArgs, BlockVectors],
        key_side: tuple[StreamArgs, BlockVectors],
        attn: Attention,
        rows: tuple[int, int],
        skips: BlockSkips,
        skip: Skip,
    ) -> torch.Tensor:
        """x + gate * Attn(modulated norm(x), keys/values modulated norm(other)): one stream's tokens attending to the
        other's. The batch elements that skip it (a perturbation) have their gate zeroed: they keep x."""
        (stream, vectors), (other_stream, other_vectors) = query_side, key_side
        q_scale, q_shift = vectors.cross[:, :, rows[0]:rows[1]].unbind(2)
        kv_scale, kv_shift = other_vectors.cross[:, :, rows[0]:rows[1]].unbind(2)
        gate = vectors.gate[:, :, 0]
        out = attn(
            adaln_modulate(x, q_shift, q_scale, self.norm_eps),
            context=adaln_modulate(other, kv_shift, kv_scale, self.norm_eps),
            pe=stream.cross_pe,
            k_pe=other_stream.cross_pe,
        )
        return gated_residual(x, out, gate * skips.keep_mask(skip, gate) if skips.any(skip) else gate)

    def _feed_forward(
        self, x: torch.Tensor, stream: StreamArgs, vectors: BlockVectors, ff: FeedForward, table: torch.Tensor
    ) -> torch.Tensor:
        """x + gate * FF(modulated norm(x))."""
        shift, scale, gate = self._rows(stream, vectors, table, FEED_FORWARD_ROWS)
        index = stream.timestep_index
        return gated_residual(x, ff(adaln_modulate(x, shift, scale, self.norm_eps, index)), gate, index)
