"""The guided denoising step and the Euler loop over a sigma schedule.

One step evaluates the transformer on up to four passes per stream and combines them (sampling/guidance.py):
    cond      positive prompt
    uncond    negative prompt                                 (cfg_scale != 1)
    perturbed positive prompt, self-attention skipped in the STG blocks   (stg_scale != 0)
    isolated  positive prompt, audio<->video attention skipped everywhere (modality_scale != 1)
The passes are concatenated along the batch and run as one transformer call, with one perturbation
set per batch element. As ltx-pipelines' multi_modal_guider_factory_denoising_func (constant params)
+ euler_denoising_loop, which run the passes one call at a time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

from ltx_backend.latents.state import LatentState, post_process_latent, timesteps_from_mask
from ltx_backend.models.transformer.inputs import BatchPerturbations, ModalityInput, Perturbation, ProjectedText, Skip
from ltx_backend.sampling.euler import euler_step
from ltx_backend.sampling.guidance import GuidanceParams, extra_passes
from ltx_backend.types import GuidanceContexts, TextContext

X0 = tuple[torch.Tensor | None, torch.Tensor | None]  # (video, audio) denoised predictions
Denoiser = Callable[[ModalityInput | None, ModalityInput | None, BatchPerturbations], X0]
# The text projections of a denoising loop (see TextCache), per transformer call: which passes, enabled streams.
TextCache = dict[tuple, tuple[ProjectedText | None, ProjectedText | None] | None]
# How the tokens of a denoise mask [B, T, 1] share noise levels (_noise_levels): (levels [1, L], the mask's distinct
# values, and index [B, T], each token's column of them, or None when L = 1); None past MAX_NOISE_LEVELS levels.
Levels = tuple[torch.Tensor, torch.Tensor | None] | None
# A loop's answers of _noise_levels: id(denoise mask) -> (the mask, kept so the id stays its own; the answer).
NoiseLevelCache = dict[int, tuple[torch.Tensor, Levels]]
# Past this many distinct levels in a mask the transformer gets per-token timesteps (AdaLN vectors made per token):
# the blocks' vectors per level are [blocks, B, L, rows, D], and the conditionings a request can combine (an image,
# keyframes and reference videos at their strengths) give a handful of levels.
MAX_NOISE_LEVELS = 8


@dataclass(frozen=True)
class _Pass:
    name: str
    text: TextContext
    perturbations: tuple[Perturbation, ...]
    video_enabled: bool
    audio_enabled: bool


def _passes(
    contexts: GuidanceContexts, video: GuidanceParams, audio: GuidanceParams, skip_video: bool, skip_audio: bool
) -> list[_Pass]:
    """The passes the streams guided at this step need.

    A stream whose skip_step skips this step reuses its last prediction: it is disabled in the passes on
    the positive prompt, and passes only it would need are left out (each batch element is independent, so
    this changes nothing else). The uncond pass runs both streams, as the reference does.
    """
    guided = [params for params, skip in ((video, skip_video), (audio, skip_audio)) if not skip]
    on = (not skip_video, not skip_audio)
    passes = [_Pass("cond", contexts.positive, (), *on)]
    for name in extra_passes(*guided):
        if name == "uncond":
            if contexts.negative is None:
                raise ValueError("Negative context is required for unconditioned denoising")
            passes.append(_Pass("uncond", contexts.negative, (), True, True))
        elif name == "perturbed":
            stg = []
            if not skip_video and video.needs_perturbed():
                stg.append(Perturbation(Skip.VIDEO_SELF_ATTN, _blocks(video.stg_blocks)))
            if not skip_audio and audio.needs_perturbed():
                stg.append(Perturbation(Skip.AUDIO_SELF_ATTN, _blocks(audio.stg_blocks)))
            passes.append(_Pass("perturbed", contexts.positive, tuple(stg), *on))
        else:  # isolated
            isolated = (Perturbation(Skip.A2V_CROSS_ATTN), Perturbation(Skip.V2A_CROSS_ATTN))
            passes.append(_Pass("isolated", contexts.positive, isolated, *on))
    return passes


def _blocks(stg_blocks: tuple[int, ...] | None) -> tuple[int, ...] | None:
    return None if stg_blocks is None else tuple(stg_blocks)


def _stack_contexts(
    contexts: list[torch.Tensor], masks: list[torch.Tensor | None]
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Concatenate along the batch; prompts of different lengths are zero-padded and masked."""
    length = max(c.shape[1] for c in contexts)
    if all(c.shape[1] == length for c in contexts) and all(m is None for m in masks):
        return torch.cat(contexts), None
    padded, padded_masks = [], []
    for c, m in zip(contexts, masks):
        if m is None:
            m = torch.ones(c.shape[:2], device=c.device, dtype=torch.int64)
        pad = length - c.shape[1]
        padded.append(F.pad(c, (0, 0, 0, pad)))
        padded_masks.append(F.pad(m, (0, pad)))
    return torch.cat(padded), torch.cat(padded_masks)


def _batched_input(
    state: LatentState | None,
    sigma: torch.Tensor,
    contexts: list[torch.Tensor],
    masks: list[torch.Tensor | None],
    enabled: bool,
    noise_levels: NoiseLevelCache | None = None,
) -> ModalityInput | None:
    """One stream's input for n passes: the state repeated n times, each copy with its pass's context."""
    if state is None:
        return None
    n, b = len(contexts), state.latent.shape[0]
    context, context_mask = _stack_contexts(contexts, masks)
    levels = _noise_levels(state.denoise_mask, noise_levels)
    index = None
    if levels is None:
        timesteps = timesteps_from_mask(state.denoise_mask, sigma).squeeze(-1)  # [B, T]
    else:  # the model's AdaLN vectors once ([B, 1]) or per level ([B, L] and each token's index)
        values, index = levels
        timesteps = timesteps_from_mask(values, sigma).expand(b, -1)
    return ModalityInput(
        latent=state.latent.repeat(n, 1, 1),
        sigma=sigma.reshape(1).expand(n * b).clone(),
        timesteps=timesteps.repeat(n, 1),
        timestep_index=None if index is None else index.repeat(n, 1),
        positions=state.positions.repeat(n, 1, 1, 1),
        context=context,
        context_mask=context_mask,
        attention_mask=None if state.attention_mask is None else state.attention_mask.repeat(n, 1, 1),
        enabled=enabled,
    )


def _noise_levels(denoise_mask: torch.Tensor, known: NoiseLevelCache | None = None) -> Levels:
    """How the mask's tokens share noise levels (see Levels): text-to-video has one (all 1); an image puts its
    tokens at 0 beside the noisy ones at 1 (two levels). Per-token AdaLN vectors cost each block 18 (LTX-2) to 27
    (LTX-2.3) more passes over a stream's [B, T, D] (offset by the tables, read by the fused kernels) than vectors
    per level. A host sync, once per mask of a loop when `known` keeps the loop's answers (a loop's steps share
    their masks), else per call."""
    if known is not None and id(denoise_mask) in known:
        return known[id(denoise_mask)][1]
    values, index = torch.unique(denoise_mask.squeeze(-1), sorted=True, return_inverse=True)  # [L], [B, T]
    answer = None if values.numel() > MAX_NOISE_LEVELS else (values[None], index if values.numel() > 1 else None)
    if known is not None:
        known[id(denoise_mask)] = (denoise_mask, answer)
    return answer


def _run_passes(
    denoiser: Denoiser,
    passes: list[_Pass],
    video_state: LatentState | None,
    audio_state: LatentState | None,
    sigma: torch.Tensor,
    text_cache: TextCache | None = None,
    noise_levels: NoiseLevelCache | None = None,
) -> dict[str, X0]:
    """Run the passes in as few transformer calls as possible: one per distinct (video, audio) enabled pair.

    text_cache: a dict kept across the steps of one loop (fixed contexts): each call's text projections
    (denoiser.project_text) are computed at its first step and reused after. noise_levels: the same for
    _noise_levels' answers.
    """
    batch = (video_state or audio_state).latent.shape[0]
    groups: dict[tuple[bool, bool], list[_Pass]] = {}
    for p in passes:
        groups.setdefault((p.video_enabled, p.audio_enabled), []).append(p)

    outputs: dict[str, X0] = {}
    for (video_on, audio_on), group in groups.items():
        group, twins = _twins_last(group, batch)
        video_in = _batched_input(
            video_state, sigma, [p.text.video for p in group], [p.text.video_mask for p in group], video_on, noise_levels
        )
        audio_in = _batched_input(
            audio_state, sigma, [p.text.audio for p in group], [p.text.audio_mask for p in group], audio_on, noise_levels
        )
        if text_cache is not None and hasattr(denoiser, "project_text"):
            key = (video_on, audio_on, tuple(p.name for p in group))
            if key not in text_cache:
                text_cache[key] = denoiser.project_text(video_in, audio_in)
            if text_cache[key] is not None:
                video_text, audio_text = text_cache[key]
                video_in = replace(video_in, text=video_text) if video_in is not None else None
                audio_in = replace(audio_in, text=audio_text) if audio_in is not None else None
        perturbations = BatchPerturbations(tuple(p.perturbations for p in group for _ in range(batch)), twins)
        video_x0, audio_x0 = denoiser(video_in, audio_in, perturbations)
        for i, p in enumerate(group):
            rows = slice(i * batch, (i + 1) * batch)
            outputs[p.name] = (
                None if video_x0 is None else video_x0[rows],
                None if audio_x0 is None else audio_x0[rows],
            )
    return outputs


def _first_perturbed_block(p: _Pass) -> float:
    return min((q.first_block() for q in p.perturbations), default=float("inf"))


def _twins_last(group: list[_Pass], batch: int) -> tuple[list[_Pass], tuple[tuple[int, int], ...]]:
    """The group reordered so that passes which are a plain pass of the group up to some block (same text
    and streams, perturbed from block k > 0 on: STG) come last, by k; and their (row, source row) twin pairs
    for BatchPerturbations (the model then runs such a pass from block k only)."""
    def source_of(p: _Pass) -> int | None:
        if not 0 < _first_perturbed_block(p) < float("inf"):
            return None
        return next((i for i, q in enumerate(group) if not q.perturbations and q.text is p.text), None)

    sources = [source_of(p) for p in group]
    twins = sorted((i for i, src in enumerate(sources) if src is not None), key=lambda i: _first_perturbed_block(group[i]))
    order = [i for i in range(len(group)) if sources[i] is None] + twins
    position = {i: k for k, i in enumerate(order)}
    pairs = tuple((position[i] * batch + e, position[sources[i]] * batch + e) for i in twins for e in range(batch))
    return [group[i] for i in order], pairs


def guided_denoise(
    denoiser: Denoiser,
    video_state: LatentState | None,
    audio_state: LatentState | None,
    sigma: torch.Tensor | float,
    contexts: GuidanceContexts,
    video_params: GuidanceParams,
    audio_params: GuidanceParams,
    step_index: int,
    previous: X0 | None = None,
    text_cache: TextCache | None = None,
    noise_levels: NoiseLevelCache | None = None,
) -> X0:
    """Guided x0 predictions (video, audio) at noise level `sigma` (0-d tensor: the schedule's entry).

    `previous`: the predictions this function returned at the last step, reused by a stream whose
    skip_step skips this step. `text_cache`, `noise_levels`: see _run_passes (kept across one loop's steps).
    """
    sigma = torch.as_tensor(sigma, dtype=torch.float32)
    skip_video, skip_audio = video_params.skips(step_index), audio_params.skips(step_index)
    if skip_video and skip_audio:
        return previous
    passes = _passes(contexts, video_params, audio_params, skip_video, skip_audio)
    out = _run_passes(denoiser, passes, video_state, audio_state, sigma, text_cache, noise_levels)

    def guided(stream: int, params: GuidanceParams, skip: bool) -> torch.Tensor | None:
        if skip:
            return previous[stream]
        cond = out["cond"][stream]
        if cond is None:
            return None
        extra = {name: out[name][stream] if name in out else 0.0 for name in ("uncond", "perturbed", "isolated")}
        return params.combine(cond, extra["uncond"], extra["perturbed"], extra["isolated"])

    return guided(0, video_params, skip_video), guided(1, audio_params, skip_audio)


StepFn = Callable[[Denoiser, LatentState, LatentState, torch.Tensor, int], X0]


class GuidedStep:
    """A StepFn for euler_loop: guided_denoise with fixed contexts and params, remembering its last
    predictions for skip_step and the text projections of its transformer calls (computed at the first
    step, as the contexts are fixed). Default params (no guidance) make it a single plain pass per step."""

    def __init__(
        self,
        contexts: GuidanceContexts,
        video_params: GuidanceParams = GuidanceParams(),
        audio_params: GuidanceParams | None = None,
    ):
        self.contexts = contexts
        self.video_params = video_params
        self.audio_params = video_params if audio_params is None else audio_params
        self._previous: X0 | None = None
        self._text_cache: TextCache = {}
        self._noise_levels: NoiseLevelCache = {}

    def __call__(
        self,
        denoiser: Denoiser,
        video_state: LatentState,
        audio_state: LatentState,
        sigmas: torch.Tensor,
        step_index: int,
    ) -> X0:
        self._previous = guided_denoise(
            denoiser,
            video_state,
            audio_state,
            sigmas[step_index],
            self.contexts,
            self.video_params,
            self.audio_params,
            step_index,
            self._previous,
            self._text_cache,
            self._noise_levels,
        )
        return self._previous


def euler_loop(
    denoiser: Denoiser,
    sigmas: torch.Tensor,
    video_state: LatentState | None,
    audio_state: LatentState | None,
    step_fn: StepFn,
    on_step: Callable[[int, int], None] | None = None,
) -> tuple[LatentState | None, LatentState | None]:
    """Denoise over `sigmas` ([steps + 1], ending at 0). Each step: x0 predictions from step_fn, blended with
    the clean conditioning by the denoise mask, then one Euler step. `on_step(step_index, total)` is called
    after each step (0-based index of the step just done); an exception from it stops the loop."""
    total = len(sigmas) - 1
    for i in range(total):
        video_x0, audio_x0 = step_fn(denoiser, video_state, audio_state, sigmas, i)
        video_state = _advance(video_state, video_x0, sigmas, i)
        audio_state = _advance(audio_state, audio_x0, sigmas, i)
        if on_step is not None:
            on_step(i, total)
    return video_state, audio_state


def _advance(state: LatentState | None, x0: torch.Tensor | None, sigmas: torch.Tensor, i: int) -> LatentState | None:
    if state is None:
        return None
    x0 = post_process_latent(x0, state.denoise_mask, state.clean_latent)
    return replace(state, latent=euler_step(state.latent, x0, sigmas, i))
