"""Video VAE parity with ltx-core 1.0.0 (fp32, tiny configs of both versions): encoder, decoder with
timestep conditioning and noise injection (same generator on both sides), decode_video's uint8 frames."""
from __future__ import annotations

import pytest
import torch

from ltx_backend.models.video_vae import build_video_decoder, build_video_encoder, decode_video, tiny_vae_config, video_decoder_key, video_encoder_key

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
