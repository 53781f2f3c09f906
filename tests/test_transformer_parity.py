"""Our AVTransformer vs ltx-core's X0Model(LTXModel) on the same random weights, in float32.

Tiny LTX-2 and LTX-2.3 configs (plus LTX-2 with interleaved RoPE and float32 frequencies). The inputs
cover what the pipelines send: per-sample sigmas, conditioning tokens with timestep 0, padded text,
a self-attention mask, and guidance passes batched with different perturbations per element.
"""
from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
from ltx_core.components.patchifiers import AudioPatchifier, VideoLatentPatchifier
from ltx_core.guidance.perturbations import BatchedPerturbationConfig, PerturbationConfig, PerturbationType
from ltx_core.guidance.perturbations import Perturbation as RefPerturbation
from ltx_core.model.transformer.attention import PytorchAttention
from ltx_core.model.transformer.modality import Modality
from ltx_core.model.transformer.model import X0Model
from ltx_core.model.transformer.model_configurator import LTXModelConfigurator
from ltx_core.tools import AudioLatentTools, VideoLatentTools
from ltx_core.types import AudioLatentShape, VideoLatentShape

import ltx_kernels
from ltx_backend.models.transformer import (
    BatchPerturbations,
    ModalityInput,
    Perturbation,
    Skip,
    build_transformer,
    transformer_key,
)
from ltx_testing.tiny_configs import tiny_transformer_config

VARIANTS = {
    "2": tiny_transformer_config("2"),
    "2.3": tiny_transformer_config("2.3"),
    "2-interleaved": {
        **{k: v for k, v in tiny_transformer_config("2").items() if k != "frequencies_precision"},
        "rope_type": "interleaved",
    },
}
BATCH = 3
TEXT_TOKENS = 7


def randomize_(module: torch.nn.Module, seed: int) -> None:
    """Seeded values for every parameter: matrices N(0, 1/fan_in), norm weights ~1, other vectors N(0, 0.1^2)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=generator) / math.sqrt(p.shape[-1]))
            elif "norm" in name:
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=generator))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))


@pytest.fixture(scope="module", params=list(VARIANTS))
def models(request):
    config = {"transformer": VARIANTS[request.param]}
    # to_empty: the reference builds its caption projections on the meta device
    reference = LTXModelConfigurator.from_config(config).to_empty(device="cpu")
    randomize_(reference, seed=1)
    with torch.device("meta"):
        ours = build_transformer(config)
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    return request.param, X0Model(reference).eval(), ours.eval()


def _streams(variant: str, batch: int) -> dict:
    """Inputs of both streams: positions from the reference's latent tools, random tokens and text."""
    generator = torch.Generator().manual_seed(7)
    video_tools = VideoLatentTools(VideoLatentPatchifier(patch_size=1), VideoLatentShape(1, 128, 3, 2, 3), fps=24.0)
    audio_tools = AudioLatentTools(AudioPatchifier(patch_size=1), AudioLatentShape(1, 8, 7, 16))
    video_state = video_tools.create_initial_state("cpu", torch.float32)
    audio_state = audio_tools.create_initial_state("cpu", torch.float32)
    t_video, t_audio = video_state.positions.shape[2], audio_state.positions.shape[2]

    video_mask = torch.ones(batch, t_video)
    video_mask[:, :6] = 0.0  # the first latent frame is a clean conditioning frame (timestep 0)
    sigma = torch.tensor([0.9, 0.6, 0.3, 0.8][:batch])
    text_width = VARIANTS[variant]["caption_channels"] if variant != "2.3" else None
    video_text = text_width or VARIANTS[variant]["cross_attention_dim"]
    audio_text = text_width or VARIANTS[variant]["audio_cross_attention_dim"]
    context_mask = torch.ones(batch, TEXT_TOKENS, dtype=torch.int64)
    for i in range(batch):
        context_mask[i, TEXT_TOKENS - 2 * i :] = 0  # element i has 2i padding tokens
    attention_weights = torch.rand(batch, t_video, t_video, generator=generator)
    attention_weights[attention_weights < 0.3] = 0.0
    attention_weights.diagonal(dim1=1, dim2=2).fill_(1.0)

    def randn(*shape):
        return torch.randn(*shape, generator=generator)

    return {
        "video": dict(
            latent=randn(batch, t_video, 128),
            sigma=sigma,
            timesteps=video_mask * sigma[:, None],
            positions=video_state.positions.repeat(batch, 1, 1, 1),
            context=randn(batch, TEXT_TOKENS, video_text),
            context_mask=context_mask,
            attention_mask=attention_weights,
        ),
        "audio": dict(
            latent=randn(batch, t_audio, 128),
            sigma=sigma,
            timesteps=torch.ones(batch, t_audio) * sigma[:, None],
            positions=audio_state.positions.repeat(batch, 1, 1, 1),
            context=randn(batch, TEXT_TOKENS, audio_text),
            context_mask=context_mask,
        ),
    }


def _ours(fields: dict | None, enabled: bool = True) -> ModalityInput | None:
    return None if fields is None else ModalityInput(**fields, enabled=enabled)


def _reference(fields: dict | None, enabled: bool = True) -> Modality | None:
    if fields is None:
        return None
    return Modality(
        latent=fields["latent"],
        sigma=fields["sigma"],
        timesteps=fields["timesteps"].unsqueeze(-1),  # [B, T, 1] as the pipelines' denoise masks give
        positions=fields["positions"],
        context=fields["context"],
        enabled=enabled,
        context_mask=fields.get("context_mask"),
        attention_mask=fields.get("attention_mask"),
    )


PerSample = list[list[tuple[Skip, "tuple[int, ...] | None"]]]  # per batch element: (skip, blocks) pairs


def _reference_perturbations(per_sample: PerSample) -> BatchedPerturbationConfig:
    def one(skip: Skip, blocks: tuple[int, ...] | None) -> RefPerturbation:
        return RefPerturbation(PerturbationType(skip.value), None if blocks is None else list(blocks))

    return BatchedPerturbationConfig([PerturbationConfig([one(*p) for p in sample]) for sample in per_sample])


def _our_perturbations(per_sample: PerSample) -> BatchPerturbations:
    return BatchPerturbations(tuple(tuple(Perturbation(*p) for p in sample) for sample in per_sample))


def _assert_close(ours: torch.Tensor | None, reference: torch.Tensor | None, name: str) -> float:
    assert (ours is None) == (reference is None), name
    if ours is None:
        return 0.0
    assert ours.shape == reference.shape, name
    error = (ours - reference).abs().max().item()
    scale = max(1.0, reference.abs().max().item())
    assert error <= 1e-4 * scale, f"{name}: max abs error {error:.3g} (scale {scale:.3g})"
    assert reference.abs().max() > 0.1, f"{name}: trivially small output"
    return error


def _compare(models, video, audio, per_sample, video_enabled=True, audio_enabled=True, twins=()) -> None:
    variant, reference, ours = models
    with torch.no_grad():
        ref_v, ref_a = reference(
            _reference(video, video_enabled), _reference(audio, audio_enabled), _reference_perturbations(per_sample)
        )
        perturbations = dataclasses.replace(_our_perturbations(per_sample), twins=twins)
        our_v, our_a = ours(_ours(video, video_enabled), _ours(audio, audio_enabled), perturbations)
    errors = (_assert_close(our_v, ref_v, f"{variant} video"), _assert_close(our_a, ref_a, f"{variant} audio"))
    print(f"{variant}: max abs error video {errors[0]:.2e}, audio {errors[1]:.2e}")


# Guidance passes batched: plain, STG (video self-attention in block 1, audio self-attention
# everywhere), and modality isolation (both audio<->video attentions skipped everywhere).
MIXED = [
    [],
    [(Skip.VIDEO_SELF_ATTN, (1,)), (Skip.AUDIO_SELF_ATTN, None)],
    [(Skip.A2V_CROSS_ATTN, None), (Skip.V2A_CROSS_ATTN, None)],
]


def test_mixed_perturbations_padded_text_and_conditioning_tokens(models):
    streams = _streams(models[0], BATCH)
    _compare(models, streams["video"], streams["audio"], MIXED)


STG_BLOCK_1 = [(Skip.VIDEO_SELF_ATTN, (1,)), (Skip.AUDIO_SELF_ATTN, (1,))]


def _twin_batch(variant: str) -> tuple[dict, dict]:
    """Two distinct elements, then each again (rows 0, 1, 0, 1): the STG passes of a batch-2 state."""
    streams = _streams(variant, 2)

    def again(fields: dict) -> dict:
        return {k: None if v is None else torch.cat([v, v]) for k, v in fields.items()}

    return again(streams["video"]), again(streams["audio"])


def test_twin_passes_start_at_their_first_perturbed_block(models):
    """Elements 2, 3 are elements 0, 1 with STG at block 1: declared as twins, the model runs them from
    block 1 on (a copy of their sources' hidden states) and still gives the reference's outputs."""
    video, audio = _twin_batch(models[0])
    _compare(models, video, audio, [[], [], STG_BLOCK_1, STG_BLOCK_1], twins=((2, 0), (3, 1)))


def test_a_twin_joins_a_batch_of_distinct_elements(models):
    """Elements 0-2 at different noise levels and text padding, element 3 element 0's STG twin: the model runs the
    first three up to block 1 (their AdaLN vectors the first three rows of the batch's) and still gives the
    reference's outputs, with per-token (video) and per-element (audio) timesteps."""
    streams = _streams(models[0], 3)

    def with_twin(fields: dict) -> dict:
        return {k: None if v is None else torch.cat([v, v[:1]]) for k, v in fields.items()}

    video, audio = with_twin(streams["video"]), with_twin(streams["audio"])
    audio["timesteps"] = audio["timesteps"][:, :1]
    _compare(models, video, audio, [[], [], [], STG_BLOCK_1], twins=((3, 0),))


def test_twin_passes_cost_less(models):
    from torch.utils.flop_counter import FlopCounterMode

    _, _, ours = models
    video, audio = _twin_batch(models[0])
    per_sample = [[], [], STG_BLOCK_1, STG_BLOCK_1]

    def flops(twins) -> int:
        perturbations = dataclasses.replace(_our_perturbations(per_sample), twins=twins)
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            ours(_ours(video), _ours(audio), perturbations)
        return counter.get_total_flops()

    plain, twinned = flops(()), flops(((2, 0), (3, 1)))
    # 2 of 4 elements skip block 0 of 2: a quarter of the blocks' work; the rest (text projections, AdaLN
    # embeddings, input and output projections) stays full size
    assert 0.75 * plain < twinned < 0.9 * plain


@pytest.mark.parametrize("twins,message", [
    (((1, 0),), "must be the batch's last"),  # element 1 is not last
    (((3, 3),), "each after its source"),
    (((2, 0), (3, 1)), "ordered by first perturbed block"),
])
def test_twins_out_of_layout_are_refused(twins, message):
    per_sample = [[], [], [(Skip.VIDEO_SELF_ATTN, (1,))], [(Skip.VIDEO_SELF_ATTN, (0,))]]
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(_our_perturbations(per_sample), twins=twins).joins(2)


def test_every_element_perturbed(models):
    """The paths taken when a whole batch skips an attention (values pass through / no cross-modal call)."""
    streams = _streams(models[0], 2)
    both = [(Skip.VIDEO_SELF_ATTN, None), (Skip.A2V_CROSS_ATTN, (0,)), (Skip.V2A_CROSS_ATTN, None)]
    _compare(models, streams["video"], streams["audio"], [both, both])


def test_without_masks(models):
    streams = _streams(models[0], BATCH)
    video = {**streams["video"], "context_mask": None, "attention_mask": None}
    audio = {**streams["audio"], "context_mask": None}
    _compare(models, video, audio, [[], [], []])


def test_video_only_and_audio_only(models):
    streams = _streams(models[0], BATCH)
    _compare(models, streams["video"], None, MIXED)
    _compare(models, None, streams["audio"], MIXED)


def test_disabled_stream(models):
    """A disabled stream is not updated but still conditions the other one."""
    streams = _streams(models[0], BATCH)
    _compare(models, streams["video"], streams["audio"], MIXED, audio_enabled=False)
    _compare(models, streams["video"], streams["audio"], MIXED, video_enabled=False)


def test_velocity_is_the_reference_model_output(models):
    variant, reference, ours = models
    streams = _streams(variant, BATCH)
    with torch.no_grad():
        ref_v, ref_a = reference.velocity_model(
            _reference(streams["video"]), _reference(streams["audio"]), _reference_perturbations(MIXED)
        )
        our_v, our_a = ours.velocity(_ours(streams["video"]), _ours(streams["audio"]), _our_perturbations(MIXED))
    _assert_close(our_v, ref_v, f"{variant} video velocity")
    _assert_close(our_a, ref_a, f"{variant} audio velocity")


def test_bfloat16_as_the_pipelines_run_it(models):
    """bf16 weights, latents, text and positions (fp32 sigmas): the same rounding as the reference."""
    variant, reference, ours = models
    reference, ours = copy.deepcopy(reference).bfloat16(), copy.deepcopy(ours).bfloat16()
    streams = _streams(variant, BATCH)

    def bf16(fields: dict) -> dict:
        return {k: v.bfloat16() if k in ("latent", "context", "positions") else v for k, v in fields.items()}

    video, audio = bf16(streams["video"]), bf16(streams["audio"])
    with torch.no_grad():
        ref_v, ref_a = reference(_reference(video), _reference(audio), _reference_perturbations(MIXED))
        our_v, our_a = ours(_ours(video), _ours(audio), _our_perturbations(MIXED))
    for name, a, b in (("video", our_v, ref_v), ("audio", our_a, ref_a)):
        assert a.dtype == b.dtype == torch.bfloat16
        scale = b.float().abs().max().item()
        assert (a.float() - b.float()).abs().max().item() <= 1e-2 * scale, f"{variant} bf16 {name}"


@pytest.mark.parametrize("version", ["2", "2.3"])
def test_reference_state_dict_loads_strictly(version):
    config = {"transformer": tiny_transformer_config(version)}
    with torch.device("meta"):
        reference = LTXModelConfigurator.from_config(config)
        ours = build_transformer(config)
    result = ours.load_state_dict(reference.state_dict(), strict=True, assign=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
    has_caption_projection = any(k.startswith("caption_projection.") for k in ours.state_dict())
    assert has_caption_projection == (version == "2")
    # every key of the official single-file layout maps back to itself
    for key in ours.state_dict():
        assert transformer_key("model.diffusion_model." + key) == key


def test_transformer_key_leaves_other_components_alone():
    assert transformer_key("model.diffusion_model.patchify_proj.weight") == "patchify_proj.weight"
    assert transformer_key("model.diffusion_model.transformer_blocks.3.attn1.to_out.0.bias") == (
        "transformer_blocks.3.attn1.to_out.0.bias"
    )
    for other in (
        "model.diffusion_model.video_embeddings_connector.transformer_1d_blocks.0.attn1.to_q.weight",
        "model.diffusion_model.audio_embeddings_connector.learnable_registers",
        "text_embedding_projection.video_aggregate_embed.weight",
        "vae.decoder.conv_in.conv.weight",
        "audio_vae.decoder.conv_in.conv.weight",
        "vocoder.conv_pre.weight",
        "patchify_proj.weight",
    ):
        assert transformer_key(other) is None, other


@pytest.mark.parametrize(("key", "value"), [("dropout", 0.1), ("qk_norm", None), ("use_middle_indices_grid", False)])
def test_fixed_config_values_are_checked_like_the_reference(key, value):
    section = {**tiny_transformer_config("2"), key: value}
    if value is None:
        del section[key]
    with pytest.raises(ValueError) as reference_error:
        LTXModelConfigurator.from_config({"transformer": section})
    with pytest.raises(ValueError, match=key) as our_error:
        build_transformer({"transformer": section})
    assert repr(value) in str(our_error.value) and key in str(reference_error.value)


@pytest.mark.parametrize(
    "mask_shape", [None, (5, 9), (2, 5, 9), (2, 1, 1, 9), (2, 1, 5, 9)], ids=["none", "2d", "3d", "keys", "4d"]
)
def test_attention_dispatch_matches_the_reference_attention(mask_shape):
    generator = torch.Generator().manual_seed(3)
    q = torch.randn(2, 5, 24, generator=generator)
    k, v = torch.randn(2, 9, 24, generator=generator), torch.randn(2, 9, 24, generator=generator)
    mask = None if mask_shape is None else torch.randn(mask_shape, generator=generator)
    expected = PytorchAttention()(q, k, v, 3, mask)
    for backend in ("sdpa", "auto"):
        ltx_kernels.set_attention_backend(backend)
        torch.testing.assert_close(ltx_kernels.attention(q, k, v, 3, mask), expected, rtol=0, atol=1e-6)
    assert ltx_kernels.get_attention_backend() == "auto"
    with pytest.raises(ValueError, match="triton-nope"):
        ltx_kernels.set_attention_backend("triton-nope")


def test_keep_masks_are_made_once_per_pattern_and_never_given_to_autograd():
    """Eager inference reuses one keep mask per skip pattern across blocks (the launches it saves); a call that
    records gradients gets a fresh one (a tensor kept from an inference_mode call cannot be saved for backward)."""
    skips = _our_perturbations([[(Skip.A2V_CROSS_ATTN, None)], [], [(Skip.A2V_CROSS_ATTN, (0,))]]).for_block(0)
    like = torch.zeros(3, 4, 8)
    with torch.inference_mode():
        first = skips.keep_mask(Skip.A2V_CROSS_ATTN, like)
        again = _our_perturbations([[(Skip.A2V_CROSS_ATTN, None)], [], [(Skip.A2V_CROSS_ATTN, None)]]).for_block(5).keep_mask(
            Skip.A2V_CROSS_ATTN, like)
    assert first.shape == (3, 1, 1) and first.flatten().tolist() == [0.0, 1.0, 0.0]
    assert again.data_ptr() == first.data_ptr()  # the same pattern, another block: the same tensor
    x = torch.ones(3, 4, 8, requires_grad=True)
    mask = skips.keep_mask(Skip.A2V_CROSS_ATTN, x)
    assert not mask.is_inference() and mask.data_ptr() != first.data_ptr()
    (x * mask).sum().backward()
    assert x.grad[0].abs().sum() == 0 and x.grad[2].abs().sum() == 0 and x.grad[1].abs().sum() == 32


def test_one_timestep_per_element_is_the_reference_with_every_token_at_it(models):
    """timesteps [B, 1] (the sampler's form when every token of an element is at one noise level: the AdaLN
    vectors computed once per element and broadcast) give the reference's output for [B, T] at those levels."""
    streams = _streams(models[0], BATCH)
    video = {**streams["video"], "timesteps": streams["video"]["sigma"][:, None].expand(BATCH, 18).clone()}
    _compare(models, video, streams["audio"], MIXED)  # the reference, per token
    _, _, ours = models
    per_element = {**video, "timesteps": video["timesteps"][:, :1]}
    audio = {**streams["audio"], "timesteps": streams["audio"]["timesteps"][:, :1]}
    with torch.no_grad():
        per_token = ours(_ours(video), _ours(streams["audio"]), _our_perturbations(MIXED))
        broadcast = ours(_ours(per_element), _ours(audio), _our_perturbations(MIXED))
    for a, b in zip(broadcast, per_token):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())


def test_timesteps_per_noise_level_give_the_per_token_output_without_per_token_vectors(models, monkeypatch):
    """timesteps [B, L] with each token's index into them (the sampler's form with conditioning tokens: the AdaLN
    vectors made once per level, each token reading its level's in the fused ops) give what the per-token
    timesteps at those levels give, which is the reference's; and no block makes per-token vectors then."""
    from ltx_backend.models.transformer import block as block_module

    streams = _streams(models[0], BATCH)
    video, audio = streams["video"], streams["audio"]
    _compare(models, video, audio, MIXED)  # the reference, per token: the first latent frame at timestep 0
    _, _, ours = models
    audio = {**audio, "timesteps": audio["timesteps"][:, :1]}  # every audio token at sigma: per element
    sigma = video["sigma"]
    index = (video["timesteps"] > 0).long()  # [B, T]: 0 for the clean frame's tokens, 1 for the rest
    assert index[:, :6].sum() == 0 and index[:, 6:].all()
    index[2, 6:12] = 0  # element 2: two clean frames
    levels = {**video, "timesteps": torch.stack([torch.zeros_like(sigma), sigma], dim=1), "timestep_index": index}
    video = {**video, "timesteps": index * sigma[:, None]}  # the same, per token
    with torch.no_grad():
        per_token = ours(_ours(video), _ours(audio), _our_perturbations(MIXED))

        def made_per_token(*args):
            raise AssertionError("a block made per-token AdaLN vectors")

        monkeypatch.setattr(block_module, "modulation", made_per_token)
        per_level = ours(_ours(levels), _ours(audio), _our_perturbations(MIXED))
    for a, b in zip(per_level, per_token):
        assert a.shape == b.shape
        assert (a - b).abs().max().item() <= 1e-5 * max(1.0, b.abs().max().item())
    # the index matters: every token at the noisy level is another output
    shifted = {**levels, "timestep_index": torch.ones_like(index)}
    with torch.no_grad():
        all_noisy = ours(_ours(shifted), _ours(audio), _our_perturbations(MIXED))
    assert (all_noisy[0] - per_level[0]).abs().max() > 1e-3


def test_block_offsets_are_each_blocks_modulation_rows_bit_for_bit():
    """The AdaLN vectors made for every block in one add equal what modulation() makes per block and row."""
    from ltx_backend.models.transformer.adaln import block_offsets, modulation

    g = torch.Generator().manual_seed(3)
    tables = [torch.randn(9, 16, generator=g).bfloat16() for _ in range(4)]
    emb = torch.randn(3, 1, 9 * 16, generator=g).bfloat16()
    stacked = block_offsets(tables, emb)
    assert stacked.shape == (4, 3, 1, 9, 16) and stacked.dtype == torch.bfloat16
    for block, table in enumerate(tables):
        for start, stop in ((0, 3), (3, 6), (6, 9)):
            for row, vector in zip(range(start, stop), modulation(table, emb, start, stop)):
                assert torch.equal(stacked[block, :, :, row], vector)
