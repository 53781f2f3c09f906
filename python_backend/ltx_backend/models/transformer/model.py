"""The LTX-2 / LTX-2.3 audio+video diffusion transformer.

Per stream: latent tokens -> patchify_proj -> blocks (conditioned on timestep and text, and on the
other stream) -> output norm modulated by the timestep embedding -> proj_out = velocity v.
forward returns the denoised prediction x0 = x - v * t, with t each token's timestep.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch import nn

from ltx_kernels.adaln import per_token

from .adaln import AdaLNSingle, BlockVectors, block_offsets, modulation_count
from .block import CROSS_MODAL_SCALE_SHIFT_ROWS, AVTransformerBlock, StreamDims
from .feed_forward import CaptionProjection
from .inputs import BatchPerturbations, ModalityInput, ProjectedText
from .rope import RopeType, rope_tables
from .stream import StreamArgs, self_attention_bias, text_padding_bias


@dataclass(frozen=True)
class AVTransformerConfig:
    num_attention_heads: int = 32
    attention_head_dim: int = 128
    in_channels: int = 128
    out_channels: int = 128
    num_layers: int = 48
    cross_attention_dim: int = 4096
    norm_eps: float = 1e-6
    positional_embedding_theta: float = 10000.0
    positional_embedding_max_pos: tuple[int, ...] = (20, 2048, 2048)
    timestep_scale_multiplier: float = 1000
    audio_num_attention_heads: int = 32
    audio_attention_head_dim: int = 64
    audio_in_channels: int = 128
    audio_out_channels: int = 128
    audio_cross_attention_dim: int = 2048
    audio_positional_embedding_max_pos: tuple[int, ...] = (20,)
    av_ca_timestep_scale_multiplier: float = 1
    rope_type: RopeType = RopeType.INTERLEAVED
    double_precision_rope: bool = False
    apply_gated_attention: bool = False
    cross_attention_adaln: bool = False
    caption_channels: int | None = None  # LTX-2: width of the text features the caption projections take

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def audio_inner_dim(self) -> int:
        return self.audio_num_attention_heads * self.audio_attention_head_dim

    @property
    def cross_modal_max_pos(self) -> int:
        return max(self.positional_embedding_max_pos[0], self.audio_positional_embedding_max_pos[0])


class _StreamModules(NamedTuple):
    """One stream's input / output modules and settings (video: unprefixed names, audio: audio_*)."""

    patchify_proj: nn.Linear
    caption_projection: CaptionProjection | None
    adaln: AdaLNSingle
    prompt_adaln: AdaLNSingle | None
    cross_scale_shift_adaln: AdaLNSingle
    cross_gate_adaln: AdaLNSingle
    scale_shift_table: nn.Parameter
    norm_out: nn.LayerNorm
    proj_out: nn.Linear
    heads: int
    max_pos: tuple[int, ...]


class AVTransformer(nn.Module):
    def __init__(self, config: AVTransformerConfig):
        super().__init__()
        self.config = config
        c = config
        dim, audio_dim = c.inner_dim, c.audio_inner_dim
        rows = modulation_count(c.cross_attention_adaln)

        self.patchify_proj = nn.Linear(c.in_channels, dim)
        self.audio_patchify_proj = nn.Linear(c.audio_in_channels, audio_dim)
        if c.caption_channels is not None:
            self.caption_projection = CaptionProjection(c.caption_channels, dim)
            self.audio_caption_projection = CaptionProjection(c.caption_channels, audio_dim)
        else:
            self.caption_projection = self.audio_caption_projection = None

        self.adaln_single = AdaLNSingle(dim, rows)
        self.audio_adaln_single = AdaLNSingle(audio_dim, rows)
        if c.cross_attention_adaln:
            self.prompt_adaln_single = AdaLNSingle(dim, 2)
            self.audio_prompt_adaln_single = AdaLNSingle(audio_dim, 2)
        else:
            self.prompt_adaln_single = self.audio_prompt_adaln_single = None
        self.av_ca_video_scale_shift_adaln_single = AdaLNSingle(dim, CROSS_MODAL_SCALE_SHIFT_ROWS)
        self.av_ca_audio_scale_shift_adaln_single = AdaLNSingle(audio_dim, CROSS_MODAL_SCALE_SHIFT_ROWS)
        self.av_ca_a2v_gate_adaln_single = AdaLNSingle(dim, 1)
        self.av_ca_v2a_gate_adaln_single = AdaLNSingle(audio_dim, 1)

        video = StreamDims(dim, c.num_attention_heads, c.attention_head_dim, c.cross_attention_dim)
        audio = StreamDims(
            audio_dim, c.audio_num_attention_heads, c.audio_attention_head_dim, c.audio_cross_attention_dim
        )
        self.transformer_blocks = nn.ModuleList(
            AVTransformerBlock(video, audio, c.rope_type, c.norm_eps, c.apply_gated_attention, c.cross_attention_adaln)
            for _ in range(c.num_layers)
        )

        self.scale_shift_table = nn.Parameter(torch.empty(2, dim))
        self.norm_out = nn.LayerNorm(dim, elementwise_affine=False, eps=c.norm_eps)
        self.proj_out = nn.Linear(dim, c.out_channels)
        self.audio_scale_shift_table = nn.Parameter(torch.empty(2, audio_dim))
        self.audio_norm_out = nn.LayerNorm(audio_dim, elementwise_affine=False, eps=c.norm_eps)
        self.audio_proj_out = nn.Linear(audio_dim, c.audio_out_channels)

    def forward(
        self, video: ModalityInput | None, audio: ModalityInput | None, perturbations: BatchPerturbations
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Denoised (x0) predictions [B, T, C] of both streams (None for a stream not given)."""
        video_v, audio_v = self.velocity(video, audio, perturbations)
        return (
            to_denoised(video.latent, video_v, video.token_timesteps()) if video_v is not None else None,
            to_denoised(audio.latent, audio_v, audio.token_timesteps()) if audio_v is not None else None,
        )

    def velocity(
        self, video: ModalityInput | None, audio: ModalityInput | None, perturbations: BatchPerturbations
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The raw velocity predictions [B, T, C] (ltx-core's LTXModel output).

        A stream with enabled=False is not updated by the blocks, but its tokens still condition
        the other stream and its (unconditioned) output is returned, as in the reference.
        """
        if video is None and audio is None:
            raise ValueError("at least one of video or audio must be given")
        video_parts, audio_parts = self._stream_modules(audio=False), self._stream_modules(audio=True)
        full_v = self._prepare(video_parts, video, audio) if video is not None else None
        full_a = self._prepare(audio_parts, audio, video) if audio is not None else None
        video_kv = video.text.kv if video is not None and video.text is not None else None
        audio_kv = audio.text.kv if audio is not None and audio.text is not None else None
        # Twins (see BatchPerturbations) join the batch at their first perturbed block.
        joins = dict(perturbations.joins(len(self.transformer_blocks)))
        size = len(perturbations.per_sample)
        n = size - len(perturbations.twins)
        v = full_v.prefix(n) if full_v is not None and perturbations.twins else full_v
        a = full_a.prefix(n) if full_a is not None and perturbations.twins else full_a
        video_vectors = self._block_vectors(full_v, audio=False) if full_v is not None else None
        audio_vectors = self._block_vectors(full_a, audio=True) if full_a is not None else None
        for index, block in enumerate(self.transformer_blocks):
            if index in joins:
                v, a = _join(v, full_v, joins[index]), _join(a, full_a, joins[index])
                n += len(joins[index])
            text_kv = (
                _kv_prefix(video_kv[index], n) if video_kv else None,
                _kv_prefix(audio_kv[index], n) if audio_kv else None,
            )
            vectors = tuple(
                None if vs is None else vs[index] if n == size else vs[index].prefix(n) for vs in (video_vectors, audio_vectors)
            )
            v, a = block(v, a, vectors, perturbations.for_block(index).prefix(n), text_kv)
        if len(self.transformer_blocks) in joins:  # twins no block perturbs: their source's output
            end = joins[len(self.transformer_blocks)]
            v, a = _join(v, full_v, end), _join(a, full_a, end)
        return (
            self._output(video_parts, v) if v is not None else None,
            self._output(audio_parts, a) if a is not None else None,
        )

    @torch.no_grad()
    def project_text(
        self, video: ModalityInput | None, audio: ModalityInput | None
    ) -> tuple[ProjectedText | None, ProjectedText | None] | None:
        """The inputs' text contexts as the blocks use them: caption projection and every block's text K/V
        projections, for a denoising loop to compute once and pass back in ModalityInput.text at each step
        (SGLang's "prompt K/V projected once per loop"). None for LTX-2.3, whose cross-attention AdaLN
        modulates the context with each step's sigma."""
        if self.config.cross_attention_adaln:
            return None
        video_parts, audio_parts = self._stream_modules(audio=False), self._stream_modules(audio=True)

        def project(m: _StreamModules, stream: ModalityInput | None, attention: str) -> ProjectedText | None:
            if stream is None:
                return None
            context = self._context(m, stream)
            kv = tuple(
                (getattr(block, attention).to_k(context), getattr(block, attention).to_v(context))
                for block in self.transformer_blocks
            )
            return ProjectedText(context, kv)

        return project(video_parts, video, "attn2"), project(audio_parts, audio, "audio_attn2")

    def _block_vectors(self, stream: StreamArgs, audio: bool) -> list[BlockVectors]:
        """Every block's AdaLN vectors for one stream, each kind in one add for all blocks (adaln.block_offsets):
        a block's tables + the stream's modulations. The main rows only with one timestep per element or per noise
        level: per-token ones would be [B, T, rows, D] per block, made by the block per use instead."""
        tables = [block.tables(audio) for block in self.transformer_blocks]
        per_level = stream.modulation.shape[1] == 1 or stream.timestep_index is not None  # not per token
        main = block_offsets([t[0] for t in tables], stream.modulation) if per_level else None
        prompt = None if stream.prompt_modulation is None else block_offsets([t[1] for t in tables], stream.prompt_modulation)
        cross = gate = None
        if stream.cross_modulation is not None:
            cross = block_offsets([t[2][:CROSS_MODAL_SCALE_SHIFT_ROWS] for t in tables], stream.cross_modulation)
            gate = block_offsets([t[2][CROSS_MODAL_SCALE_SHIFT_ROWS:] for t in tables], stream.cross_gate)
        per_block = [None if t is None else t.unbind(0) for t in (main, prompt, cross, gate)]  # L views each
        return [BlockVectors(*(None if p is None else p[index] for p in per_block)) for index in range(len(tables))]

    def _context(self, m: _StreamModules, stream: ModalityInput) -> torch.Tensor:
        """[B, S, D] text context of the stream for the blocks (LTX-2 projects the captions here)."""
        if stream.text is not None:
            return stream.text.context
        context = stream.context if m.caption_projection is None else m.caption_projection(stream.context)
        return context.reshape(stream.latent.shape[0], -1, m.patchify_proj.out_features)

    def _stream_modules(self, audio: bool) -> _StreamModules:
        c = self.config
        if audio:
            return _StreamModules(
                self.audio_patchify_proj, self.audio_caption_projection, self.audio_adaln_single,
                self.audio_prompt_adaln_single, self.av_ca_audio_scale_shift_adaln_single,
                self.av_ca_v2a_gate_adaln_single, self.audio_scale_shift_table, self.audio_norm_out,
                self.audio_proj_out, c.audio_num_attention_heads, c.audio_positional_embedding_max_pos,
            )
        return _StreamModules(
            self.patchify_proj, self.caption_projection, self.adaln_single, self.prompt_adaln_single,
            self.av_ca_video_scale_shift_adaln_single, self.av_ca_a2v_gate_adaln_single, self.scale_shift_table,
            self.norm_out, self.proj_out, c.num_attention_heads, c.positional_embedding_max_pos,
        )

    def _prepare(self, m: _StreamModules, stream: ModalityInput, other: ModalityInput | None) -> StreamArgs:
        """Embed one stream's tokens and conditioning for the blocks."""
        c = self.config
        dtype = stream.latent.dtype
        batch = stream.latent.shape[0]
        x = m.patchify_proj(stream.latent)
        dim = x.shape[-1]

        def embed(adaln: AdaLNSingle, timesteps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            mod, emb = adaln(timesteps.flatten(), dtype)
            return mod.view(batch, -1, mod.shape[-1]), emb.view(batch, -1, emb.shape[-1])

        def rope(positions: torch.Tensor, width: int, max_pos: tuple[int, ...]):
            return rope_tables(
                positions, width, m.heads, list(max_pos), c.positional_embedding_theta, c.rope_type,
                c.double_precision_rope, dtype,
            )

        scale = c.timestep_scale_multiplier
        modulation, embedded_timestep = embed(m.adaln, stream.timesteps * scale)
        context = self._context(m, stream)
        prompt_modulation = None
        if m.prompt_adaln is not None:  # LTX-2.3: modulates the text context, from the step's sigma
            prompt_modulation = embed(m.prompt_adaln, _per_sample(stream.sigma, batch) * scale)[0]

        cross_pe = cross_modulation = cross_gate = None
        if other is not None:
            # The audio<->video attentions see the time axis only, and the other stream's noise level.
            cross_pe = rope(stream.positions[:, 0:1], c.audio_cross_attention_dim, (c.cross_modal_max_pos,))
            other_t = _per_sample(other.sigma, batch) * scale
            cross_modulation = embed(m.cross_scale_shift_adaln, other_t)[0]
            cross_gate = embed(m.cross_gate_adaln, other_t * (c.av_ca_timestep_scale_multiplier / scale))[0]

        return StreamArgs(
            x=x,
            context=context,
            context_bias=text_padding_bias(stream.context_mask, dtype),
            modulation=modulation,
            embedded_timestep=embedded_timestep,
            timestep_index=stream.timestep_index,
            pe=rope(stream.positions, dim, m.max_pos),
            self_attention_bias=self_attention_bias(stream.attention_mask, dtype),
            prompt_modulation=prompt_modulation,
            cross_pe=cross_pe,
            cross_modulation=cross_modulation,
            cross_gate=cross_gate,
            enabled=stream.enabled,
        )

    @staticmethod
    def _output(m: _StreamModules, stream: StreamArgs) -> torch.Tensor:
        x = stream.x
        embedded = per_token(stream.embedded_timestep, stream.timestep_index)  # [B, T|1, D]
        shift, scale = (m.scale_shift_table[None, None].to(x) + embedded[:, :, None]).unbind(2)
        return m.proj_out(m.norm_out(x) * (1 + scale) + shift)


def _join(stream: StreamArgs | None, full: StreamArgs | None, sources: tuple[int, ...]) -> StreamArgs | None:
    """A stream's batch grown by twins of `sources` (see StreamArgs.join); None for a stream not given."""
    return None if stream is None else stream.join(full, sources)


def _kv_prefix(kv: tuple[torch.Tensor, torch.Tensor], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A block's text K/V [B, S, inner] for the batch's first n elements (views)."""
    return kv[0][:n], kv[1][:n]


def _per_sample(sigma: torch.Tensor, batch: int) -> torch.Tensor:
    """A stream's sigma as [B] (one value per batch element)."""
    sigma = sigma.reshape(-1)
    return sigma.expand(batch) if sigma.numel() == 1 else sigma


def to_denoised(latent: torch.Tensor, velocity: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    """x0 = x - v * t in float32, t [B, T], [B, 1] or [B] broadcast over tokens and channels; returned in latent's
    dtype."""
    t = timesteps.float()
    t = t.reshape(*t.shape, *([1] * (latent.dim() - t.dim())))
    return (latent.float() - velocity.float() * t).to(latent.dtype)
