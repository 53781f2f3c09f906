"""Latent geometry vs ltx-core: shapes, patchify, positions, initial states, conditioning, noising."""
from __future__ import annotations

import pytest
import torch
from ltx_core.components.noisers import GaussianNoiser as RefNoiser
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier, get_pixel_coords
from ltx_core.conditioning import VideoConditionByKeyframeIndex, VideoConditionByLatentIndex
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape as RefAudioShape
from ltx_core.types import LatentState as RefState
from ltx_core.types import VideoLatentShape as RefVideoShape
from ltx_core.types import VideoPixelShape as RefPixelShape
from ltx_pipelines.utils import helpers as ref_helpers
from ltx_pipelines.utils.types import PipelineComponents

from ltx_backend.latents.conditioning import ConditioningError, KeyframeCondition, LatentIndexCondition
from ltx_backend.latents.initial import noise_audio_state, noise_video_state
from ltx_backend.latents.layout import AudioLatentLayout, VideoLatentLayout
from ltx_backend.latents.patchify import patchify_audio, patchify_video, unpatchify_audio, unpatchify_video
from ltx_backend.latents.positions import audio_positions, latent_to_pixel_bounds, video_latent_bounds, video_positions
from ltx_backend.latents.shapes import AudioLatentShape, VideoLatentShape, VideoPixelShape
from ltx_backend.latents.state import LatentState, post_process_latent, timesteps_from_mask
from ltx_backend.sampling.noise import GaussianNoiser


def assert_same_state(ours: LatentState, ref: RefState) -> None:
    for name in ("latent", "denoise_mask", "positions", "clean_latent", "attention_mask"):
        a, b = getattr(ours, name), getattr(ref, name)
        if b is None:
            assert a is None, name
            continue
        assert a.shape == b.shape and a.dtype == b.dtype, (name, a.shape, b.shape, a.dtype, b.dtype)
        assert torch.equal(a, b), name


PIXEL_SHAPES = [(1, 121, 512, 768, 24.0), (2, 17, 64, 96, 25.0), (1, 1, 32, 32, 24.0), (1, 50, 100, 70, 30.0),
                (1, 97, 480, 832, 23.976)]


@pytest.mark.parametrize("pixels", PIXEL_SHAPES)
def test_shapes_match_reference(pixels):
    ours, ref = VideoPixelShape(*pixels), RefPixelShape(*pixels)
    assert tuple(VideoLatentShape.from_pixel_shape(ours)) == tuple(RefVideoShape.from_pixel_shape(ref))
    assert tuple(AudioLatentShape.from_video_pixel_shape(ours)) == tuple(RefAudioShape.from_video_pixel_shape(ref))
    for duration in (0.04, 0.5, 1.02, 5.0, 7.3333):
        assert tuple(AudioLatentShape.from_duration(2, duration)) == tuple(RefAudioShape.from_duration(2, duration))


@pytest.mark.parametrize("patch, shape", [(1, (2, 5, 3, 5, 7)), (1, (1, 128, 1, 1, 1)), (2, (2, 3, 3, 6, 10))])
def test_video_patchify_matches_reference(patch, shape):
    ref = VideoLatentPatchifier(patch)
    x = torch.randn(shape)
    tokens = patchify_video(x, patch)
    assert torch.equal(tokens, ref.patchify(x))
    latent_shape = VideoLatentShape(*shape)
    back = unpatchify_video(tokens, latent_shape, patch)
    assert torch.equal(back, ref.unpatchify(tokens, RefVideoShape(*shape)))
    assert torch.equal(back, x)


@pytest.mark.parametrize("shape", [(1, 8, 13, 16), (3, 2, 1, 5)])
def test_audio_patchify_matches_reference(shape):
    ref = AudioPatchifier(1)
    x = torch.randn(shape)
    tokens = patchify_audio(x)
    assert torch.equal(tokens, ref.patchify(x))
    back = unpatchify_audio(tokens, AudioLatentShape(*shape))
    assert torch.equal(back, ref.unpatchify(tokens, RefAudioShape(*shape)))
    assert torch.equal(back, x)


@pytest.mark.parametrize("patch, shape", [(1, (2, 128, 5, 3, 7)), (2, (1, 4, 3, 6, 10))])
@pytest.mark.parametrize("causal_fix", [True, False])
def test_video_positions_match_reference(patch, shape, causal_fix):
    ref = VideoLatentPatchifier(patch)
    bounds = video_latent_bounds(VideoLatentShape(*shape), patch)
    ref_bounds = ref.get_patch_grid_bounds(RefVideoShape(*shape))
    assert bounds.dtype == ref_bounds.dtype and torch.equal(bounds, ref_bounds)
    pixel = latent_to_pixel_bounds(bounds, causal_fix=causal_fix)
    assert torch.equal(pixel, get_pixel_coords(ref_bounds, (8, 32, 32), causal_fix))
    # first latent frame spans pixel frame [0, 1) with the causal fix, then [1, 9), [9, 17), ...
    if causal_fix:
        assert pixel[0, 0, 0].tolist() == [0, 1]
        assert pixel[0, 0, -1].tolist() == [8 * shape[2] - 15, 8 * shape[2] - 7]
    positions = video_positions(VideoLatentShape(*shape), 24.0, patch, causal_fix=causal_fix, frame_offset=5)
    expected = get_pixel_coords(ref_bounds, (8, 32, 32), causal_fix)
    expected[:, 0] += 5
    expected = expected.float()
    expected[:, 0] /= 24.0
    assert torch.equal(positions, expected)


@pytest.mark.parametrize("shift", [0, 3])
def test_audio_positions_match_reference(shift):
    ref = AudioPatchifier(1, shift=shift).get_patch_grid_bounds(RefAudioShape(2, 8, 11, 16))
    ours = audio_positions(2, 11, shift=shift)
    assert ours.shape == (2, 1, 11, 2) and torch.equal(ours, ref)
    if shift == 0:  # causal: frame 0 = [0, 0.01) s, frame 1 = [0.01, 0.05) s
        assert torch.allclose(ours[0, 0, :2], torch.tensor([[0.0, 0.01], [0.01, 0.05]]))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("with_initial", [False, True])
def test_initial_states_match_reference(dtype, with_initial):
    vshape, ashape = (2, 128, 3, 5, 7), (2, 8, 13, 16)
    v_init = torch.randn(vshape, dtype=dtype) if with_initial else None
    a_init = torch.randn(ashape, dtype=dtype) if with_initial else None
    cpu = torch.device("cpu")

    vlayout = VideoLatentLayout(VideoLatentShape(*vshape), fps=24.0)
    vref = VideoLatentTools(VideoLatentPatchifier(1), RefVideoShape(*vshape), 24.0)
    vstate = vlayout.initial_state(cpu, dtype, v_init)
    assert_same_state(vstate, vref.create_initial_state(cpu, dtype, v_init))

    alayout = AudioLatentLayout(AudioLatentShape(*ashape))
    aref = AudioLatentTools(AudioPatchifier(1), RefAudioShape(*ashape))
    astate = alayout.initial_state(cpu, dtype, a_init)
    assert_same_state(astate, aref.create_initial_state(cpu, dtype, a_init))

    if with_initial:
        assert torch.equal(vlayout.to_latent(vstate), v_init)
        assert torch.equal(alayout.to_latent(astate), a_init)


def _conditionings(dtype: torch.dtype):
    image = torch.randn(1, 128, 1, 2, 3, dtype=dtype)
    keyframe = torch.randn(1, 128, 1, 2, 3, dtype=dtype)
    first_keyframe = torch.randn(1, 128, 2, 2, 3, dtype=dtype)
    ours = [
        LatentIndexCondition(image, strength=1.0, latent_idx=0),
        KeyframeCondition(keyframe, frame_idx=16, strength=0.6),
        KeyframeCondition(first_keyframe, frame_idx=0, strength=1.0),
        LatentIndexCondition(image, strength=0.3, latent_idx=2),
    ]
    ref = [
        VideoConditionByLatentIndex(image, strength=1.0, latent_idx=0),
        VideoConditionByKeyframeIndex(keyframe, frame_idx=16, strength=0.6),
        VideoConditionByKeyframeIndex(first_keyframe, frame_idx=0, strength=1.0),
        VideoConditionByLatentIndex(image, strength=0.3, latent_idx=2),
    ]
    return ours, ref


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("noise_scale", [1.0, 0.7])
def test_noised_states_match_reference(dtype, noise_scale):
    pixels = (1, 17, 64, 96, 25.0)  # latent 3 x 2 x 3, audio 17 frames
    ours_items, ref_items = _conditionings(dtype)
    cpu = torch.device("cpu")
    v_init = torch.randn(1, 128, 3, 2, 3, dtype=dtype) if noise_scale != 1.0 else None

    noiser = GaussianNoiser(torch.Generator().manual_seed(42))
    vstate, vlayout = noise_video_state(VideoPixelShape(*pixels), noiser, ours_items, dtype, cpu, noise_scale, v_init)
    astate, alayout = noise_audio_state(VideoPixelShape(*pixels), noiser, dtype, cpu, noise_scale)

    ref_noiser = RefNoiser(torch.Generator().manual_seed(42))
    components = PipelineComponents(dtype, cpu)
    kwargs = dict(output_shape=RefPixelShape(*pixels), noiser=ref_noiser, components=components, dtype=dtype,
                  device=cpu, noise_scale=noise_scale)
    vref, vtools = ref_helpers.noise_video_state(conditionings=ref_items, initial_latent=v_init, **kwargs)
    aref, atools = ref_helpers.noise_audio_state(conditionings=[], **kwargs)

    assert vstate.latent.shape == (1, 18 + 6 + 12, 128)
    assert_same_state(vstate, vref)
    assert_same_state(astate, aref)
    assert_same_state(vlayout.unpatchify(vlayout.clear_conditioning(vstate)),
                      vtools.unpatchify(vtools.clear_conditioning(vref)))
    assert_same_state(alayout.unpatchify(alayout.clear_conditioning(astate)),
                      atools.unpatchify(atools.clear_conditioning(aref)))
    # fully conditioned tokens stay clean: the image replaced latent frame 0 exactly
    assert torch.equal(vstate.latent[:, :6], ours_items[0].latent.flatten(2).transpose(1, 2))


def test_keyframe_grows_existing_attention_mask():
    layout = VideoLatentLayout(VideoLatentShape(1, 128, 2, 2, 2), fps=24.0)
    ref_tools = VideoLatentTools(VideoLatentPatchifier(1), RefVideoShape(1, 128, 2, 2, 2), 24.0)
    state = layout.initial_state(torch.device("cpu"), torch.float32)
    n = state.latent.shape[1] + 3  # pretend 3 reference tokens were appended with a mask
    state = LatentState(
        latent=torch.randn(1, n, 128), denoise_mask=torch.rand(1, n, 1), positions=torch.rand(1, 3, n, 2),
        clean_latent=torch.randn(1, n, 128), attention_mask=torch.rand(1, n, n),
    )
    keyframe = torch.randn(1, 128, 1, 2, 2)
    ours = KeyframeCondition(keyframe, frame_idx=9, strength=0.8).apply_to(state, layout)
    ref = VideoConditionByKeyframeIndex(keyframe, frame_idx=9, strength=0.8).apply_to(
        RefState(state.latent, state.denoise_mask, state.positions, state.clean_latent, state.attention_mask),
        ref_tools,
    )
    assert_same_state(ours, ref)


def test_latent_index_condition_rejects_other_spatial_size():
    layout = VideoLatentLayout(VideoLatentShape(1, 128, 2, 2, 2), fps=24.0)
    state = layout.initial_state(torch.device("cpu"), torch.float32)
    with pytest.raises(ConditioningError):
        LatentIndexCondition(torch.randn(1, 128, 1, 2, 3), 1.0, 0).apply_to(state, layout)


def test_mask_arithmetic_matches_reference():
    mask = torch.rand(2, 9, 1)
    sigma = torch.tensor(0.73)
    assert torch.equal(timesteps_from_mask(mask, sigma), ref_helpers.timesteps_from_mask(mask, sigma))
    denoised, clean = torch.randn(2, 9, 4, dtype=torch.bfloat16), torch.randn(2, 9, 4, dtype=torch.bfloat16)
    ours = post_process_latent(denoised, mask, clean)
    assert ours.dtype == torch.bfloat16
    assert torch.equal(ours, ref_helpers.post_process_latent(denoised, mask, clean))
