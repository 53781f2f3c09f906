"""Video VAE parity with ltx-core 1.0.0 (fp32, tiny configs of both versions): encoder, decoder with
timestep conditioning and noise injection (same generator on both sides), tiled decoding and encoding,
decode_video's uint8 frames, tile plans, and the published configs' state_dict layouts."""
from __future__ import annotations

import pytest
import torch

from ltx_backend.models.video_vae import (
    NO_TILING,
    SpatialTilingConfig,
    TemporalTilingConfig,
    TilingConfig,
    build_video_decoder,
    build_video_encoder,
    decode_chunks,
    decode_video,
    encode_video,
    published_vae_config,
    video_decoder_key,
    video_encoder_key,
)
from ltx_backend.models.video_vae.tiling import decode_tiles, encode_tiles
from ltx_testing.tiny_configs import tiny_vae_config

VERSIONS = ("2", "2.3")


def randomized(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in list(module.named_parameters()) + list(module.named_buffers()):
        if tensor.is_floating_point():
            scale = tensor[0].numel() ** -0.5 if tensor.dim() > 1 else 0.1
            tensor.data = torch.randn(tensor.shape, generator=generator) * scale + (1.0 if "std" in name else 0.0)
    return module


def pair(version: str, encoder: bool):
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    config = {"vae": tiny_vae_config(version)}
    reference = randomized((VideoEncoderConfigurator if encoder else VideoDecoderConfigurator).from_config(config), seed=1).eval()
    with torch.device("meta"):
        ours = (build_video_encoder if encoder else build_video_decoder)(config)
    ours.load_state_dict(reference.state_dict(), strict=True, assign=True)  # zero missing / unexpected keys
    return ours.eval(), reference


def close(ours: torch.Tensor, reference: torch.Tensor) -> float:
    assert ours.shape == reference.shape
    error = (ours - reference).abs().max().item()
    assert error <= 1e-4 * max(1.0, reference.abs().max().item()), error
    return error


@pytest.mark.parametrize("version", VERSIONS)
def test_encoder_matches_reference(version):
    ours, reference = pair(version, encoder=True)
    pixels = torch.rand(1, 3, 17, 64, 96, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        latent = ours(pixels)
        close(latent, reference(pixels))
    assert latent.shape == (1, 128, 3, 2, 3)


@pytest.mark.parametrize("version", VERSIONS)
def test_decoder_matches_reference_with_the_same_generator(version):
    ours, reference = pair(version, encoder=False)
    assert ours.timestep_conditioning == (version == "2")
    latent = torch.randn(1, 128, 3, 2, 3, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = ours(latent, generator=torch.Generator().manual_seed(5))
        b = reference(latent, generator=torch.Generator().manual_seed(5))
        c = ours(latent, generator=torch.Generator().manual_seed(6))
    close(a, b)
    assert a.shape == (1, 3, 17, 64, 96)
    # LTX-2's tiny decoder adds decode-time noise: another generator state gives another output
    assert (version == "2") == (not torch.equal(a, c))


@pytest.mark.parametrize("version", VERSIONS)
def test_decode_video_frames_equal_reference(version):
    from ltx_core.model.video_vae import decode_video as reference_decode_video

    ours, reference = pair(version, encoder=False)
    latent = torch.randn(1, 128, 2, 2, 2, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        frames = decode_video(latent, ours, generator=torch.Generator().manual_seed(7))
        expected = torch.cat(list(reference_decode_video(latent, reference, generator=torch.Generator().manual_seed(7))))
    assert frames.dtype == torch.uint8 and frames.shape == (9, 64, 64, 3)
    assert (frames.int() - expected.int()).abs().max().item() <= 1
    assert (frames != expected).float().mean().item() < 1e-3


def test_key_maps_match_reference_filters():
    from ltx_core.model.video_vae import VAE_DECODER_COMFY_KEYS_FILTER, VAE_ENCODER_COMFY_KEYS_FILTER

    keys = ["vae.encoder.conv_in.conv.weight", "vae.decoder.up_blocks.0.res_blocks.0.conv1.conv.bias",
            "vae.per_channel_statistics.mean-of-means", "audio_vae.decoder.conv_in.weight", "model.diffusion_model.x"]
    for key in keys:
        assert video_encoder_key(key) == VAE_ENCODER_COMFY_KEYS_FILTER.apply_to_key(key)
        assert video_decoder_key(key) == VAE_DECODER_COMFY_KEYS_FILTER.apply_to_key(key)


def test_bad_config_values_are_named():
    with pytest.raises(ValueError, match=r"invalid vae.norm_layer='batch_norm'"):
        build_video_decoder({"vae": dict(tiny_vae_config("2"), norm_layer="batch_norm")})
    with pytest.raises(ValueError, match=r"invalid vae.decoder_blocks entry 'attn_res_x'"):
        build_video_decoder({"vae": dict(tiny_vae_config("2"), decoder_blocks=[["attn_res_x", {"num_layers": 1}]])})


def reference_tiling(spatial: tuple[int, int] | None, temporal: tuple[int, int] | None):
    from ltx_core.model.video_vae import SpatialTilingConfig as RefSpatial
    from ltx_core.model.video_vae import TemporalTilingConfig as RefTemporal
    from ltx_core.model.video_vae import TilingConfig as RefTiling

    return RefTiling(RefSpatial(*spatial) if spatial else None, RefTemporal(*temporal) if temporal else None)


def our_tiling(spatial: tuple[int, int] | None, temporal: tuple[int, int] | None) -> TilingConfig:
    return TilingConfig(SpatialTilingConfig(*spatial) if spatial else None, TemporalTilingConfig(*temporal) if temporal else None)


@pytest.mark.parametrize("version", VERSIONS)
def test_tiled_decode_matches_reference(version):
    ours, reference = pair(version, encoder=False)
    latent = torch.randn(1, 128, 5, 3, 4, generator=torch.Generator().manual_seed(8))  # 2 x 2 x 3 tiles
    spatial, temporal = (64, 32), (24, 8)
    with torch.no_grad():
        expected = list(reference.tiled_decode(latent, reference_tiling(spatial, temporal), generator=torch.Generator().manual_seed(9)))
        chunks = list(decode_chunks(latent, ours, torch.Generator().manual_seed(9), our_tiling(spatial, temporal)))
        whole = ours(latent, generator=torch.Generator().manual_seed(9))
    assert [c.shape[2] for c in chunks] == [c.shape[2] for c in expected] == [8, 25]
    tiled = torch.cat(chunks, dim=2)
    close(tiled, torch.cat(expected, dim=2))
    assert tiled.shape == whole.shape == (1, 3, 33, 96, 128)
    assert (tiled - whole).abs().max().item() > 1e-3  # the tiles really were decoded separately


@pytest.mark.parametrize("version", VERSIONS)
def test_tiled_decode_video_frames_equal_reference(version):
    from ltx_core.model.video_vae import decode_video as reference_decode_video

    ours, reference = pair(version, encoder=False)
    latent = torch.randn(1, 128, 3, 2, 3, generator=torch.Generator().manual_seed(10))
    spatial, temporal = (64, 32), (16, 8)
    with torch.no_grad():
        frames = decode_video(latent, ours, torch.Generator().manual_seed(11), our_tiling(spatial, temporal))
        chunks = reference_decode_video(latent, reference, reference_tiling(spatial, temporal), torch.Generator().manual_seed(11))
        expected = torch.cat(list(chunks))
    assert frames.dtype == torch.uint8 and frames.shape == (17, 64, 96, 3)
    assert (frames.int() - expected.int()).abs().max().item() <= 1
    assert (frames != expected).float().mean().item() < 1e-3


@pytest.mark.parametrize("version", VERSIONS)
def test_default_tiling_decodes_small_outputs_in_one_piece(version):
    ours, _ = pair(version, encoder=False)
    latent = torch.randn(1, 128, 2, 2, 3, generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        default = decode_video(latent, ours, torch.Generator().manual_seed(13))
        untiled = decode_video(latent, ours, torch.Generator().manual_seed(13), NO_TILING)
    assert torch.equal(default, untiled)
    assert len(decode_tiles((1, 128, 8, 16, 16), TilingConfig.default())) == 1  # 57 frames of 512 x 512
    assert len(decode_tiles((1, 128, 16, 24, 40), TilingConfig.default())) == 3 * 3 * 3  # 121 frames of 768 x 1280


@pytest.mark.parametrize("version", VERSIONS)
def test_tiled_encode_matches_reference(version):
    ours, reference = pair(version, encoder=True)
    pixels = torch.rand(1, 3, 25, 64, 128, generator=torch.Generator().manual_seed(14)) * 2 - 1
    spatial, temporal = (96, 64), (24, 16)
    assert len(encode_tiles(pixels.shape, our_tiling(spatial, temporal))) == 2 * 1 * 2
    with torch.no_grad():
        latent = encode_video(pixels, ours, our_tiling(spatial, temporal))
        close(latent, reference.tiled_encode(pixels, reference_tiling(spatial, temporal)))
        assert torch.equal(encode_video(pixels, ours), ours(pixels))
    assert latent.shape == (1, 128, 4, 2, 4)


def test_tile_plans_match_reference():
    """Every tile's source / target slices and blend mask, for decoding and encoding, as ltx-core's."""
    from ltx_core.model.video_vae import VideoDecoderConfigurator
    from ltx_core.model.video_vae.video_vae import prepare_tiles_for_encoding

    reference_decoder = VideoDecoderConfigurator.from_config({"vae": tiny_vae_config("2")})  # only its tile planner is used
    cases = [(None, (16, 8)), ((64, 0), None), ((64, 32), (24, 8)), ((96, 32), (32, 24)), ((512, 64), (64, 24)), ((160, 96), (48, 16))]
    for spatial, temporal in cases:
        for shape in [(1, 128, f, h, w) for f in (1, 3, 6, 12) for h in (2, 3, 7, 17) for w in (2, 5, 23)]:
            expected = reference_decoder._prepare_tiles(torch.empty(shape, device="meta"), reference_tiling(spatial, temporal))
            _same_tiles(decode_tiles(shape, our_tiling(spatial, temporal)), expected)
            video = (1, 3, 8 * (shape[2] - 1) + 1, 32 * shape[3], 32 * shape[4])
            if (spatial and spatial[0] <= 64) or (temporal and temporal[0] <= 16):
                continue  # encoding raises overlaps to 64 px / 16 frames: needs larger tiles
            expected = prepare_tiles_for_encoding(torch.empty(video, device="meta"), reference_tiling(spatial, temporal))
            _same_tiles(encode_tiles(video, our_tiling(spatial, temporal)), expected)


def _same_tiles(ours, expected) -> None:
    assert len(ours) == len(expected)
    for tile, reference in zip(ours, expected):
        assert tile.source()[2:] == tuple(reference.in_coords[2:])
        assert tile.target()[2:] == tuple(reference.out_coords[2:])
        assert torch.equal(tile.mask(), reference.blend_mask)


def test_tiling_config_values_are_checked():
    with pytest.raises(ValueError, match=r"invalid tile_size_in_pixels=48"):
        SpatialTilingConfig(48)
    with pytest.raises(ValueError, match=r"invalid tile_overlap_in_frames=64"):
        TemporalTilingConfig(64, 64)


@pytest.mark.parametrize("version", VERSIONS)
def test_published_configs_have_the_reference_layout(version):
    """Full-size encoder and decoder built on meta: the same state_dict keys and shapes as ltx-core's."""
    from ltx_core.model.video_vae import VideoDecoderConfigurator, VideoEncoderConfigurator

    config = {"vae": published_vae_config(version)}
    for build, configurator in ((build_video_encoder, VideoEncoderConfigurator), (build_video_decoder, VideoDecoderConfigurator)):
        with torch.device("meta"):
            ours, reference = build(config), configurator.from_config(config)
        assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in reference.state_dict().items()}
