"""Sampling vs ltx-core / ltx-pipelines: schedules, guidance math, Euler step, noise, and the guided loop."""
from __future__ import annotations

import itertools
import math

import pytest
import torch
from ltx_core.components.diffusion_steps import EulerDiffusionStep
from ltx_core.components.guiders import MultiModalGuider, MultiModalGuiderParams, create_multimodal_guider_factory
from ltx_core.components.noisers import GaussianNoiser as RefNoiser
from ltx_core.components.schedulers import LTX2Scheduler
from ltx_core.conditioning import VideoConditionByKeyframeIndex, VideoConditionByLatentIndex
from ltx_core.guidance.perturbations import BatchedPerturbationConfig, PerturbationConfig, PerturbationType
from ltx_core.guidance.perturbations import Perturbation as RefPerturbation
from ltx_core.model.transformer import Modality, X0Model
from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
from ltx_core.types import LatentState as RefState
from ltx_core.types import VideoPixelShape as RefPixelShape
from ltx_core.utils import to_denoised as ref_to_denoised
from ltx_core.utils import to_velocity as ref_to_velocity
from ltx_pipelines.utils import constants as ref_constants
from ltx_pipelines.utils.helpers import denoise_audio_video, multi_modal_guider_factory_denoising_func
from ltx_pipelines.utils.samplers import euler_denoising_loop
from ltx_pipelines.utils.types import PipelineComponents

from ltx_backend.latents.conditioning import KeyframeCondition, LatentIndexCondition
from ltx_backend.latents.initial import noise_audio_state, noise_video_state
from ltx_backend.latents.layout import AudioLatentLayout, VideoLatentLayout
from ltx_backend.latents.shapes import AudioLatentShape, VideoLatentShape, VideoPixelShape
from ltx_backend.latents.state import LatentState
from ltx_backend.models.transformer.inputs import BatchPerturbations, ModalityInput
from ltx_backend.pipelines.registry import ONE_STAGE, TWO_STAGE, TWO_STAGE_HQ, spec_of
from ltx_backend.sampling.denoise import GuidedStep, euler_loop, guided_denoise
from ltx_backend.sampling.euler import euler_step, to_denoised, to_velocity
from ltx_backend.sampling.guidance import GuidanceParams, default_guidance
from ltx_backend.sampling.noise import GaussianNoiser
from ltx_backend.sampling.schedule import (
    DISTILLED_SIGMAS,
    STAGE2_DISTILLED_SIGMAS,
    distilled_sigmas,
    ltx2_sigmas,
)
from ltx_backend.types import GuidanceContexts, TextContext

# --------------------------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("steps", [1, 2, 3, 8, 15, 30, 40])
@pytest.mark.parametrize("tokens", [None, 18, 1024, 3000, 4096, 24576])
def test_ltx2_sigmas_match_reference(steps, tokens):
    latent = None if tokens is None else torch.zeros(1, 1, tokens, 1, 1)
    ref = LTX2Scheduler().execute(steps=steps, latent=latent)
    ours = ltx2_sigmas(steps, num_tokens=tokens)
    assert ours.dtype == torch.float32 and ours.shape == (steps + 1,)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0, equal_nan=True)  # steps=1 can be 0/0 in both
    assert ours[-1] == 0.0
    if steps > 1:
        assert math.isclose(ours[0].item(), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(stretch=False), dict(terminal=0.05), dict(max_shift=1.5, base_shift=0.5)])
def test_ltx2_sigmas_options_match_reference(kwargs):
    for steps in (4, 20):
        assert torch.equal(ltx2_sigmas(steps, **kwargs), LTX2Scheduler().execute(steps=steps, **kwargs))


def test_default_schedule_ends_at_terminal():
    sigmas = ltx2_sigmas(30)
    assert math.isclose(sigmas[-2].item(), 0.1, rel_tol=1e-5)
    assert bool((sigmas[1:] < sigmas[:-1]).all())


def test_distilled_sigmas_match_reference():
    assert list(DISTILLED_SIGMAS) == ref_constants.DISTILLED_SIGMA_VALUES
    assert list(STAGE2_DISTILLED_SIGMAS) == ref_constants.STAGE_2_DISTILLED_SIGMA_VALUES
    assert torch.equal(distilled_sigmas(1), torch.tensor(ref_constants.DISTILLED_SIGMA_VALUES))
    assert torch.equal(distilled_sigmas(2), torch.tensor(ref_constants.STAGE_2_DISTILLED_SIGMA_VALUES))


# --------------------------------------------------------------------------------------------- guidance

PARAM_GRID = [
    dict(cfg_scale=c, stg_scale=s, rescale_scale=r, modality_scale=m)
    for c, s, r, m in itertools.product((1.0, 3.0), (0.0, 1.0), (0.0, 0.7, 1.0), (1.0, 3.0))
]


@pytest.mark.parametrize("kwargs", PARAM_GRID)
def test_guidance_combination_matches_reference(kwargs):
    ours = GuidanceParams(**kwargs)
    ref = MultiModalGuider(MultiModalGuiderParams(**kwargs))
    cond, uncond, ptb, mod = (torch.randn(2, 11, 128) for _ in range(4))
    # a pass that does not run contributes 0.0, as in the reference
    uncond = uncond if ours.needs_uncond() else 0.0
    ptb = ptb if ours.needs_perturbed() else 0.0
    mod = mod if ours.needs_isolated() else 0.0
    assert torch.equal(ours.combine(cond, uncond, ptb, mod), ref.calculate(cond, uncond, ptb, mod))
    assert ours.needs_uncond() == ref.do_unconditional_generation()
    assert ours.needs_perturbed() == ref.do_perturbed_generation()
    assert ours.needs_isolated() == ref.do_isolated_modality_generation()


@pytest.mark.parametrize("skip_step", [0, 1, 2, 3])
def test_skip_step_matches_reference(skip_step):
    ours = GuidanceParams(skip_step=skip_step)
    ref = MultiModalGuider(MultiModalGuiderParams(skip_step=skip_step))
    assert [ours.skips(i) for i in range(12)] == [ref.should_skip_step(i) for i in range(12)]


def _as_ref(p: GuidanceParams) -> MultiModalGuiderParams:
    return MultiModalGuiderParams(p.cfg_scale, p.stg_scale, list(p.stg_blocks), p.rescale_scale, p.modality_scale,
                                  p.skip_step)


@pytest.mark.parametrize(
    "version, pipeline_class_name, ref_params",
    [("2", ONE_STAGE, ref_constants.LTX_2_PARAMS), ("2.3", ONE_STAGE, ref_constants.LTX_2_3_PARAMS),
     ("2", TWO_STAGE, ref_constants.LTX_2_PARAMS), ("2.3", TWO_STAGE, ref_constants.LTX_2_3_PARAMS),
     ("2.3", TWO_STAGE_HQ, ref_constants.LTX_2_3_HQ_PARAMS)],
)
def test_each_pipeline_spec_guidance_matches_reference(version, pipeline_class_name, ref_params):
    video, audio = spec_of(pipeline_class_name).guidance[version]
    assert _as_ref(video) == ref_params.video_guider_params
    assert _as_ref(audio) == ref_params.audio_guider_params


def test_default_guidance_rejects_unknown_version():
    with pytest.raises(ValueError, match="version"):
        default_guidance("3")


# --------------------------------------------------------------------------------------------- euler, noise


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_euler_step_matches_reference(dtype):
    sigmas = ltx2_sigmas(5)
    sample, denoised = torch.randn(2, 17, 128, dtype=dtype), torch.randn(2, 17, 128, dtype=dtype)
    for i in range(5):
        ours = euler_step(sample, denoised, sigmas, i)
        assert ours.dtype == dtype
        assert torch.equal(ours, EulerDiffusionStep().step(sample, denoised, sigmas, i))
    sigma = sigmas[2]
    v = to_velocity(sample, sigma, denoised)
    assert torch.equal(v, ref_to_velocity(sample, sigma, denoised))
    per_token = torch.rand(2, 17, 1)
    assert torch.equal(to_denoised(sample, v, per_token), ref_to_denoised(sample, v, per_token))
    with pytest.raises(ValueError):
        to_velocity(sample, 0.0, denoised)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_noiser_matches_reference_with_same_seed(dtype):
    mask = torch.rand(1, 20, 1)
    state = LatentState(torch.randn(1, 20, 128, dtype=dtype), mask, torch.zeros(1, 3, 20, 2),
                        torch.zeros(1, 20, 128, dtype=dtype))
    ref_state = RefState(state.latent, state.denoise_mask, state.positions, state.clean_latent)
    ours, ref = GaussianNoiser(torch.Generator().manual_seed(7)), RefNoiser(torch.Generator().manual_seed(7))
    for scale in (1.0, 0.5):  # two draws in a row consume the generator the same way
        a, b = ours(state, scale), ref(ref_state, scale)
        assert a.latent.dtype == dtype and torch.equal(a.latent, b.latent)


# --------------------------------------------------------------------------------------------- guided loop
# The tiny transformer of the agreed dimensions; "2.3" moves caption projection to the text encoder and
# adds prompt AdaLN (which reads the per-sample sigma) and gated attention.

TINY_TRANSFORMER = dict(
    num_attention_heads=2, attention_head_dim=16, in_channels=128, out_channels=128, num_layers=2,
    cross_attention_dim=32, audio_num_attention_heads=2, audio_attention_head_dim=8, audio_in_channels=128,
    audio_out_channels=128, audio_cross_attention_dim=16, positional_embedding_max_pos=[20, 2048, 2048],
    audio_positional_embedding_max_pos=[20], rope_type="split", frequencies_precision="float64",
    # values the configurator requires
    dropout=0.0, attention_bias=True, num_vector_embeds=None, activation_fn="gelu-approximate",
    num_embeds_ada_norm=1000, use_linear_projection=False, only_cross_attention=False, cross_attention_norm=True,
    double_self_attention=False, upcast_attention=False, standardization_norm="rms_norm",
    norm_elementwise_affine=False, qk_norm="rms_norm", positional_embedding_type="rope",
    use_audio_video_cross_attention=True, share_ff=False, av_cross_ada_norm=True, use_middle_indices_grid=True,
)
TINY_VERSION = {
    "2": dict(caption_channels=64),
    "2.3": dict(caption_proj_before_connector=True, cross_attention_adaln=True, apply_gated_attention=True),
}
CONTEXT_DIMS = {"2": (64, 64), "2.3": (32, 16)}  # (video, audio) text embedding widths reaching the transformer


def reference_x0_model(version: str) -> X0Model:
    model = LTXModelConfigurator.from_config({"transformer": {**TINY_TRANSFORMER, **TINY_VERSION[version]}})
    model = model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(1234)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name and p.dim() == 1:
                p.copy_(1.0 + 0.1 * noise)
            else:
                p.copy_(0.1 * noise)
    return X0Model(model).eval()


class ReferenceDenoiser:
    """Test-only adapter: our ModalityInput / BatchPerturbations -> ltx-core's Modality / BatchedPerturbationConfig."""

    def __init__(self, x0_model: X0Model):
        self.x0_model = x0_model
        self.calls: list[int] = []  # batch size of each call
        self.timestep_shapes: list[tuple] = []  # (video, audio) timesteps shape of each call

    @staticmethod
    def _modality(m: ModalityInput | None) -> Modality | None:
        if m is None:
            return None
        return Modality(latent=m.latent, sigma=m.sigma, timesteps=m.token_timesteps().unsqueeze(-1), positions=m.positions,
                        context=m.context, enabled=m.enabled, context_mask=m.context_mask,
                        attention_mask=m.attention_mask)

    def __call__(self, video, audio, perturbations: BatchPerturbations):
        configs = [
            PerturbationConfig([RefPerturbation(PerturbationType(p.skip.value), None if p.blocks is None else
                                                list(p.blocks)) for p in sample])
            for sample in perturbations.per_sample
        ]
        self.calls.append(len(configs))
        self.timestep_shapes.append(tuple(None if m is None else tuple(m.timesteps.shape) for m in (video, audio)))
        with torch.no_grad():
            return self.x0_model(self._modality(video), self._modality(audio), BatchedPerturbationConfig(configs))


PIXELS = (1, 17, 64, 96, 25.0)  # video latent 3 x 2 x 3 (18 tokens), audio 17 latent frames
ALL_ON_VIDEO = GuidanceParams(cfg_scale=3.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, stg_blocks=(1,))
ALL_ON_AUDIO = GuidanceParams(cfg_scale=7.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, stg_blocks=(1,))


def _contexts(version: str) -> GuidanceContexts:
    dv, da = CONTEXT_DIMS[version]
    gen = torch.Generator().manual_seed(99)
    pos = TextContext(torch.randn(1, 7, dv, generator=gen), torch.randn(1, 7, da, generator=gen))
    neg = TextContext(torch.randn(1, 7, dv, generator=gen), torch.randn(1, 7, da, generator=gen))
    return GuidanceContexts(pos, neg)


def _conditioning_latents():
    gen = torch.Generator().manual_seed(5)
    return torch.randn(1, 128, 1, 2, 3, generator=gen), torch.randn(1, 128, 1, 2, 3, generator=gen)


def run_ours(denoiser, version, video_params, audio_params, steps=3, on_step=None):
    image, keyframe = _conditioning_latents()
    items = [LatentIndexCondition(image, 1.0, 0), KeyframeCondition(keyframe, frame_idx=16, strength=0.5)]
    noiser = GaussianNoiser(torch.Generator().manual_seed(10))
    cpu = torch.device("cpu")
    video_state, vlayout = noise_video_state(VideoPixelShape(*PIXELS), noiser, items, torch.float32, cpu)
    audio_state, alayout = noise_audio_state(VideoPixelShape(*PIXELS), noiser, torch.float32, cpu)
    step = GuidedStep(_contexts(version), video_params, audio_params)
    video_state, audio_state = euler_loop(denoiser, ltx2_sigmas(steps), video_state, audio_state, step, on_step)
    return vlayout.to_latent(video_state), alayout.to_latent(audio_state)


def run_reference(x0_model, version, video_params, audio_params, steps=3):
    image, keyframe = _conditioning_latents()
    items = [VideoConditionByLatentIndex(image, 1.0, 0), VideoConditionByKeyframeIndex(keyframe, 16, 0.5)]
    ctx = _contexts(version)
    cpu = torch.device("cpu")

    def loop(sigmas, video_state, audio_state, stepper):
        denoise_fn = multi_modal_guider_factory_denoising_func(
            video_guider_factory=create_multimodal_guider_factory(_as_ref(video_params), ctx.negative.video),
            audio_guider_factory=create_multimodal_guider_factory(_as_ref(audio_params), ctx.negative.audio),
            v_context=ctx.positive.video,
            a_context=ctx.positive.audio,
            transformer=x0_model,
        )
        return euler_denoising_loop(sigmas, video_state, audio_state, stepper, denoise_fn)

    with torch.no_grad():
        video_state, audio_state = denoise_audio_video(
            output_shape=RefPixelShape(*PIXELS), conditionings=items,
            noiser=RefNoiser(torch.Generator().manual_seed(10)), sigmas=LTX2Scheduler().execute(steps=steps),
            stepper=EulerDiffusionStep(), denoising_loop_fn=loop, components=PipelineComponents(torch.float32, cpu),
            dtype=torch.float32, device=cpu,
        )
    return video_state.latent, audio_state.latent


def assert_close(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape
    err = (ours - ref).abs().max().item()
    assert err <= 1e-4 * max(1.0, ref.abs().max().item()), err
    return err


@pytest.mark.parametrize("version", ["2", "2.3"])
def test_guided_euler_loop_matches_reference(version):
    x0_model = reference_x0_model(version)
    denoiser = ReferenceDenoiser(x0_model)
    steps_done = []
    video, audio = run_ours(denoiser, version, ALL_ON_VIDEO, ALL_ON_AUDIO,
                            on_step=lambda i, total: steps_done.append((i, total)))
    ref_video, ref_audio = run_reference(x0_model, version, ALL_ON_VIDEO, ALL_ON_AUDIO)
    assert video.shape == (1, 128, 3, 2, 3) and audio.shape == (1, 8, 17, 16)
    assert_close(video, ref_video)
    assert_close(audio, ref_audio)
    assert denoiser.calls == [4, 4, 4]  # cond, uncond, STG and isolated-modality passes in one batch per step
    assert steps_done == [(0, 3), (1, 3), (2, 3)]
    # the guidance mattered: no-guidance sampling lands elsewhere
    plain_video, _ = run_ours(ReferenceDenoiser(x0_model), version, GuidanceParams(), GuidanceParams())
    assert (plain_video - video).abs().max() > 1e-2


def test_mixed_skip_step_matches_reference():
    """Video guidance every other step, audio every step: on skipped steps video is disabled in the passes on
    the positive prompt but not in the negative one, so those steps take two calls."""
    x0_model = reference_x0_model("2.3")
    video_params = GuidanceParams(cfg_scale=3.0, stg_scale=1.0, rescale_scale=0.7, modality_scale=3.0, skip_step=1,
                                  stg_blocks=(1,))
    audio_params = GuidanceParams(cfg_scale=7.0, stg_scale=0.0, rescale_scale=0.0, modality_scale=1.0)
    denoiser = ReferenceDenoiser(x0_model)
    video, audio = run_ours(denoiser, "2.3", video_params, audio_params, steps=3)
    ref_video, ref_audio = run_reference(x0_model, "2.3", video_params, audio_params, steps=3)
    assert_close(video, ref_video)
    assert_close(audio, ref_audio)
    # step 0: all 4 passes in one call; step 1 (video reused): (cond, audio only) + (uncond, both streams)
    assert denoiser.calls == [4, 1, 1, 4]
    # the video's tokens are at three noise levels (the image's at 0, the keyframe's at 0.5 of sigma, the noisy ones
    # at sigma): one timestep per level; every audio token is at the step's sigma: one timestep per element
    assert denoiser.timestep_shapes[0] == ((4, 3), (4, 1))


def test_plain_step_is_one_pass_and_needs_no_negative_prompt():
    x0_model = reference_x0_model("2")
    denoiser = ReferenceDenoiser(x0_model)
    ctx = GuidanceContexts(_contexts("2").positive)
    layout = VideoLatentLayout(VideoLatentShape(1, 128, 2, 2, 2), fps=24.0)
    noiser = GaussianNoiser(torch.Generator().manual_seed(0))
    video = noiser(layout.initial_state(torch.device("cpu"), torch.float32))
    audio = noiser(AudioLatentLayout(AudioLatentShape(1, 8, 5, 16)).initial_state(torch.device("cpu"), torch.float32))
    euler_loop(denoiser, distilled_sigmas(2), video, audio, GuidedStep(ctx))
    assert denoiser.calls == [1, 1, 1]
    assert set(denoiser.timestep_shapes) == {((1, 1), (1, 1))}  # text-to-video: one noise level per element
    with pytest.raises(ValueError, match="Negative context"):
        guided_denoise(denoiser, video, audio, torch.tensor(1.0), ctx, ALL_ON_VIDEO, ALL_ON_AUDIO, 0)


def test_on_step_can_cancel():
    x0_model = reference_x0_model("2")

    class Cancelled(Exception):
        pass

    def cancel_after_two(i, total):
        if i == 1:
            raise Cancelled

    denoiser = ReferenceDenoiser(x0_model)
    with pytest.raises(Cancelled):
        run_ours(denoiser, "2", GuidanceParams(), GuidanceParams(), steps=5, on_step=cancel_after_two)
    assert denoiser.calls == [1, 1]


def test_contexts_of_different_lengths_are_padded_and_masked():
    """A shorter negative prompt is zero-padded and masked: the batched step equals separate unpadded passes."""
    x0_model = reference_x0_model("2")
    denoiser = ReferenceDenoiser(x0_model)
    gen = torch.Generator().manual_seed(3)
    pos = TextContext(torch.randn(1, 7, 64, generator=gen), torch.randn(1, 7, 64, generator=gen))
    neg = TextContext(torch.randn(1, 4, 64, generator=gen), torch.randn(1, 4, 64, generator=gen))
    layout = VideoLatentLayout(VideoLatentShape(1, 128, 2, 2, 2), fps=24.0)
    noiser = GaussianNoiser(torch.Generator().manual_seed(0))
    video = noiser(layout.initial_state(torch.device("cpu"), torch.float32))
    audio = noiser(AudioLatentLayout(AudioLatentShape(1, 8, 5, 16)).initial_state(torch.device("cpu"), torch.float32))
    params = GuidanceParams(cfg_scale=4.0)
    sigma = torch.tensor(0.8)
    v, a = guided_denoise(denoiser, video, audio, sigma, GuidanceContexts(pos, neg), params, params, 0)
    assert denoiser.calls == [2]

    cond = guided_denoise(denoiser, video, audio, sigma, GuidanceContexts(pos), GuidanceParams(), GuidanceParams(), 0)
    uncond = guided_denoise(denoiser, video, audio, sigma, GuidanceContexts(neg), GuidanceParams(), GuidanceParams(), 0)
    assert_close(v, params.combine(cond[0], uncond[0]))
    assert_close(a, params.combine(cond[1], uncond[1]))


# ---------------------------------------------------------------------------- text projected once per loop


class CountingTransformer:
    """Our transformer as a Denoiser, counting its text projections and calls."""

    def __init__(self, version: str):
        from ltx_backend.models.transformer import build_transformer

        reference = reference_x0_model(version).velocity_model
        self.model = build_transformer({"transformer": {**TINY_TRANSFORMER, **TINY_VERSION[version]}})
        self.model.load_state_dict(reference.state_dict(), strict=True)
        self.model.eval()
        self.projections = 0
        self.projected_calls = 0

    def project_text(self, video, audio):
        self.projections += 1
        return self.model.project_text(video, audio)

    def __call__(self, video, audio, perturbations):
        self.projected_calls += any(m is not None and m.text is not None for m in (video, audio))
        with torch.no_grad():
            return self.model(video, audio, perturbations)


@pytest.mark.parametrize("version", ["2", "2.3"])
def test_text_is_projected_once_per_loop_and_changes_nothing(version):
    """LTX-2: GuidedStep projects the text (caption projection, every block's text K/V) at the first step and
    passes it back at every step: bit-identical to projecting in each call, and to the reference's loop.
    LTX-2.3 modulates the text with each step's sigma: nothing to project once."""
    cached = CountingTransformer(version)
    video, audio = run_ours(cached, version, ALL_ON_VIDEO, ALL_ON_AUDIO)

    def plain(video, audio, perturbations):  # a denoiser without project_text: each call projects its own text
        with torch.no_grad():
            return cached.model(video, audio, perturbations)

    video_plain, audio_plain = run_ours(plain, version, ALL_ON_VIDEO, ALL_ON_AUDIO)
    assert torch.equal(video, video_plain) and torch.equal(audio, audio_plain)
    ref_video, ref_audio = run_reference(reference_x0_model(version), version, ALL_ON_VIDEO, ALL_ON_AUDIO)
    assert_close(video, ref_video)
    assert_close(audio, ref_audio)
    assert cached.projections == 1  # one transformer call per step, projected at the first of three steps
    assert cached.projected_calls == (3 if version == "2" else 0)


def test_timesteps_once_per_level_or_per_token_as_the_mask_allows():
    """_batched_input gives the model [B, 1] timesteps when every token of the batch has one denoise mask, [B, L]
    with each token's index when the mask has 2 <= L <= MAX_NOISE_LEVELS distinct values (conditioning tokens, or
    elements at other levels), [B, T] past that; each token's timestep is sigma * its mask either way. A loop asks
    once per mask."""
    from ltx_backend.sampling.denoise import MAX_NOISE_LEVELS, _batched_input

    def state(mask: list[list[float]]) -> LatentState:
        m = torch.tensor(mask)[..., None]  # [B, T, 1]
        tokens = m.shape[1]
        return LatentState(latent=torch.zeros(2, tokens, 8), denoise_mask=m, positions=torch.zeros(2, 3, tokens, 2),
                           clean_latent=torch.zeros(2, tokens, 8))

    def model_input(s: LatentState, known=None, passes=1):
        return _batched_input(s, torch.tensor(0.5), [torch.zeros(2, 3, 16)] * passes, [None] * passes, True, known)

    one = model_input(state([[1, 1, 1, 1], [1, 1, 1, 1]]))
    assert torch.equal(one.timesteps, torch.tensor([[0.5], [0.5]])) and one.timestep_index is None
    mixed = state([[1, 1, 1, 1], [0, 1, 1, 1]])  # element 0 at one level, element 1 with a conditioning token
    levels = model_input(mixed, passes=2)  # two passes: the batch is the two elements twice
    assert torch.equal(levels.timesteps, torch.tensor([[0.0, 0.5]] * 4))
    assert torch.equal(levels.timestep_index, torch.tensor([[1, 1, 1, 1], [0, 1, 1, 1]] * 2))
    assert torch.equal(levels.token_timesteps(), torch.tensor([[0.5] * 4, [0.0, 0.5, 0.5, 0.5]] * 2))
    each_its_own = model_input(state([[1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5]]))
    assert torch.equal(each_its_own.token_timesteps(), torch.tensor([[0.5] * 4, [0.25] * 4]))
    most = [[i / 10 for i in range(MAX_NOISE_LEVELS)]] * 2
    assert model_input(state(most)).timesteps.shape == (2, MAX_NOISE_LEVELS)  # still one per level
    many = [[i / 10 for i in range(MAX_NOISE_LEVELS + 1)]] * 2  # one level more
    per_token = model_input(state(many))
    assert per_token.timestep_index is None and torch.equal(per_token.timesteps, torch.tensor(many) * 0.5)
    known = {}
    assert model_input(mixed, known).timesteps.shape == (2, 2) and list(known.values())[0][1][1] is not None
    known[id(mixed.denoise_mask)] = (mixed.denoise_mask, None)  # a loop's answer is not asked again
    assert model_input(mixed, known).timesteps.shape == (2, 4)
