"""Parity of our audio decoder / vocoders (ltx_backend.models.audio_vae) with ltx-core's, fp32, tiny configs."""
from __future__ import annotations

import copy
import math

import pytest
import torch
from ltx_core.model.audio_vae import (
    AUDIO_VAE_DECODER_COMFY_KEYS_FILTER,
    VOCODER_COMFY_KEYS_FILTER,
    AudioDecoderConfigurator,
    AudioEncoderConfigurator,
    VocoderConfigurator,
)
from ltx_core.model.audio_vae import decode_audio as reference_decode_audio
from ltx_core.model.audio_vae.vocoder import UpSample1d

from ltx_backend.models.audio_vae import (
    audio_geometry,
    audio_sample_rate,
    build_audio_decoder,
    build_audio_encoder,
    build_vocoder,
    decode_audio,
    decoded_audio_samples,
    published_audio_vae_config,
    published_vocoder_config,
)
from ltx_backend.models.audio_vae.config import audio_decoder_key, vocoder_key
from ltx_backend.models.audio_vae.resampling import HannSincUpsampler
from ltx_testing.tiny_configs import tiny_audio_vae_config, tiny_vocoder_config

VERSIONS = ["2", "2.3"]
LATENT_FRAMES = 25  # one second


def tiny_config(version: str) -> dict:
    return {"audio_vae": tiny_audio_vae_config(version), "vocoder": tiny_vocoder_config(version)}


def randomize_(module: torch.nn.Module, seed: int) -> None:
    """Seeded random values for every parameter and stored (non-filter) buffer, scaled to keep activations O(1)."""
    gen = torch.Generator().manual_seed(seed)
    # SnakeBeta offsets pile up in the BigVGAN stacks: a smaller output conv keeps their waveforms ~0.5.
    post_gain = 0.003 if any(".acts1." in k for k in module.state_dict()) else 0.3
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() > 1:
                fan_in = p.shape[1] * math.prod(p.shape[2:]) if "ups." not in name else p.shape[0]
                p.copy_(noise / math.sqrt(fan_in))
                if "conv_post" in name:
                    p.mul_(post_gain)
            else:
                p.copy_(noise * 0.1)
        for name, b in module.named_buffers():
            if name.endswith("std-of-means"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
            elif name.endswith("mean-of-means"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("forward_basis") or name.endswith("inverse_basis"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
            elif name.endswith("mel_basis"):
                b.copy_(torch.rand(b.shape, generator=gen) * 0.05)
            # Kaiser filter taps stay as computed (they are a fixed design, stored in the checkpoint).


def reference_models(version: str, seed: int = 0):
    config = tiny_config(version)
    decoder = AudioDecoderConfigurator.from_config(config).eval()
    vocoder = VocoderConfigurator.from_config(config).eval()
    randomize_(decoder, seed)
    randomize_(vocoder, seed + 1)
    return config, decoder, vocoder


def load_ours(build, config: dict, state_dict: dict) -> torch.nn.Module:
    with torch.device("meta"):
        module = build(config)
    module.load_state_dict(state_dict, strict=True, assign=True)
    return module.eval()


def assert_close(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape
    err = (ours - ref).abs().max().item()
    assert err <= 1e-4 * max(1.0, ref.abs().max().item()), err
    return err


@pytest.fixture(scope="module", params=VERSIONS)
def models(request):
    config, ref_decoder, ref_vocoder = reference_models(request.param)
    decoder = load_ours(build_audio_decoder, config, ref_decoder.state_dict())
    vocoder = load_ours(build_vocoder, config, ref_vocoder.state_dict())
    return request.param, ref_decoder, ref_vocoder, decoder, vocoder


def test_strict_load_and_same_buffers(models):
    _, ref_decoder, ref_vocoder, decoder, vocoder = models
    for ref, ours in ((ref_decoder, decoder), (ref_vocoder, vocoder)):
        assert ours.state_dict().keys() == ref.state_dict().keys()
        assert all(not t.is_meta for t in ours.state_dict().values())


@pytest.mark.parametrize("version", VERSIONS)
def test_fresh_filters_match_reference(version):
    """Kaiser taps we compute at construction equal the reference's (a checkpoint also carries them)."""
    config = tiny_config(version)
    ours, ref = build_vocoder(config).state_dict(), VocoderConfigurator.from_config(config).state_dict()
    filters = [k for k in ref if k.endswith("filter")]
    assert bool(filters) == (version == "2.3")
    for key in filters:
        torch.testing.assert_close(ours[key], ref[key], atol=1e-7, rtol=0)


@pytest.mark.parametrize("ratio", [2, 3])
def test_hann_sinc_upsampler(ratio):
    x = torch.randn(2, 2, 157)
    ours = HannSincUpsampler(ratio)(x)
    ref = UpSample1d(ratio=ratio, persistent=False, window_type="hann")(x)
    assert ours.shape == (2, 2, 157 * ratio)
    assert_close(ours, ref)


def test_decoder_parity(models):
    _, ref_decoder, _, decoder, _ = models
    latent = torch.randn(2, 8, LATENT_FRAMES, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, ours = ref_decoder(latent), decoder(latent)
    assert ref.shape == (2, 2, 4 * LATENT_FRAMES - 3, 64)
    assert ref.std() > 0.1
    print("decoder max err", assert_close(ours, ref))


def test_vocoder_parity(models):
    version, _, ref_vocoder, _, vocoder = models
    mel = torch.randn(1, 2, 97, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref, ours = ref_vocoder(mel), vocoder(mel)
    rate = 24000 if version == "2" else 48000
    assert vocoder.output_sampling_rate == rate
    assert ref.shape == (1, 2, 97 * rate // 100)
    assert (ref.abs() < 0.999).float().mean() > 0.5  # mostly not saturated by tanh / clamp
    assert ref.std() > 1e-3
    print(version, "vocoder max err", assert_close(ours, ref))


def test_bwe_stages_parity():
    """LTX-2.3 pieces on their own: the 16 kHz vocoder, the BWE mel, and the residual generator."""
    config, _, ref_vocoder = reference_models("2.3")
    vocoder = load_ours(build_vocoder, config, ref_vocoder.state_dict())
    mel = torch.randn(1, 2, 13, 64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        low = ref_vocoder.vocoder(mel)
        assert_close(vocoder.vocoder(mel), low)
        flat = low.reshape(2, -1)
        assert_close(vocoder.mel_stft(flat), ref_vocoder.mel_stft.mel_spectrogram(flat)[0])
        bwe_mel = torch.randn(1, 2, 26, 64, generator=torch.Generator().manual_seed(4))
        assert_close(vocoder.bwe_generator(bwe_mel), ref_vocoder.bwe_generator(bwe_mel))


@pytest.mark.parametrize("latent_frames", [LATENT_FRAMES, 1])
def test_decode_audio_parity(models, latent_frames):
    version, ref_decoder, ref_vocoder, decoder, vocoder = models
    config = tiny_config(version)
    latent = torch.randn(1, 8, latent_frames, 16, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ref = reference_decode_audio(latent, ref_decoder, ref_vocoder)
        waveform, rate = decode_audio(latent, decoder, vocoder)
    assert rate == ref.sampling_rate == audio_sample_rate(config) == (24000 if version == "2" else 48000)
    assert waveform.dtype == torch.float32
    # 4T - 3 mel frames (causal decoder) at 100 frames/s: 960 (LTX-2) / 1920 (LTX-2.3) samples per latent frame.
    samples_per_mel_frame = rate // 100
    expected = (4 * latent_frames - 3) * samples_per_mel_frame
    assert waveform.shape == ref.waveform.shape == (2, expected) == (2, decoded_audio_samples(config, latent_frames))
    print(version, latent_frames, "decode_audio max err", assert_close(waveform, ref.waveform))


@pytest.mark.parametrize("attention", [False, True])
def test_encoder_parity(attention):
    """Mel [B, 2, T, 64] -> normalised means [B, 8, (T - 1) // 4 + 1, 16], as ltx-core's AudioEncoder (+ the
    attention blocks the published config leaves out: at one level and in the middle)."""
    config = tiny_config("2.3")
    if attention:
        config["audio_vae"]["model"]["params"]["ddconfig"].update(attn_resolutions=[128], mid_block_add_attention=True)
    ref_encoder = AudioEncoderConfigurator.from_config(config).eval()
    randomize_(ref_encoder, 7)
    encoder = load_ours(build_audio_encoder, config, ref_encoder.state_dict())
    assert encoder.state_dict().keys() == ref_encoder.state_dict().keys()
    assert any(".attn." in k for k in encoder.state_dict()) == attention
    mel = torch.randn(2, 2, 101, 64, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        ref, ours = ref_encoder(mel), encoder(mel)
    assert ref.shape == (2, 8, 26, 16)
    assert ref.std() > 0.1
    print("encoder max err", assert_close(ours, ref))


@pytest.mark.parametrize("version", VERSIONS)
def test_geometry(version):
    config = tiny_config(version)
    geometry = audio_geometry(config)
    assert (geometry.sample_rate, geometry.hop_length, geometry.mel_bins) == (16000, 160, 64)
    assert (geometry.latent_channels, geometry.latent_mel_bins, geometry.latent_features) == (8, 16, 128)
    assert geometry.latents_per_second == 25.0
    assert audio_geometry({}) == geometry  # the reference's defaults
    # One second of latents decodes to one second less the 3 mel frames (30 ms) the causal decoder drops.
    rate = audio_sample_rate(config)
    assert decoded_audio_samples(config, 25) == rate - 3 * rate // 100
    config["audio_vae"]["model"]["params"]["ddconfig"]["causality_axis"] = None
    assert decoded_audio_samples(config, 25) == rate


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        out.update(_flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


@pytest.mark.parametrize("version", VERSIONS)
def test_tiny_configs_differ_from_published_only_in_size(version):
    published = {"audio_vae": published_audio_vae_config(version), "vocoder": published_vocoder_config(version)}
    changed = {k for k, v in _flatten(tiny_config(version)).items() if _flatten(published).get(k, object()) != v}
    assert _flatten(tiny_config(version)).keys() == _flatten(published).keys()
    width = {"vocoder.upsample_initial_channel"} if version == "2" else {
        "vocoder.vocoder.upsample_initial_channel", "vocoder.bwe.upsample_initial_channel"}
    ddconfig = "audio_vae.model.params.ddconfig."
    assert changed == {ddconfig + "ch_mult", ddconfig + "num_res_blocks"} | width


@pytest.mark.parametrize("version", VERSIONS)
def test_published_configs_build_the_reference_modules(version):
    """Full-size (meta) modules: same state_dict keys and shapes as the reference's."""
    config = {"audio_vae": published_audio_vae_config(version), "vocoder": published_vocoder_config(version)}
    with torch.device("meta"):
        pairs = [
            (build_audio_decoder(config), AudioDecoderConfigurator.from_config(config)),
            (build_vocoder(config), VocoderConfigurator.from_config(config)),
        ]
    for ours, ref in pairs:
        assert {k: v.shape for k, v in ours.state_dict().items()} == {k: v.shape for k, v in ref.state_dict().items()}
    assert pairs[1][0].output_sampling_rate == pairs[1][1].output_sampling_rate == audio_sample_rate(config)


DECODER_VARIANTS = [
    # channel change (nin_shortcut), attention at every level, group norm (non-causal only), other causal axes
    {"ch_mult": [1, 2], "attn_resolutions": [8, 16], "resolution": 16, "causality_axis": "width"},
    {"ch_mult": [2, 1], "norm_type": "group", "causality_axis": None, "num_res_blocks": 1},
    {"ch_mult": [1, 1, 1], "causality_axis": "width-compatibility", "mid_block_add_attention": False},
]


@pytest.mark.parametrize("overrides", DECODER_VARIANTS)
def test_decoder_variants_parity(overrides):
    config = copy.deepcopy(tiny_config("2"))
    config["audio_vae"]["model"]["params"]["ddconfig"].update(overrides)
    ref = AudioDecoderConfigurator.from_config(config).eval()
    randomize_(ref, 7)
    ours = load_ours(build_audio_decoder, config, ref.state_dict())
    latent = torch.randn(1, 8, 5, 16, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        assert_close(ours(latent), ref(latent))


def test_config_checks():
    config = tiny_config("2")
    config["vocoder"]["resblock"] = "2"
    with pytest.raises(ValueError, match="resblock"):
        build_vocoder(config)
    config = tiny_config("2.3")
    config["vocoder"]["bwe"]["activation"] = "snake"
    with pytest.raises(ValueError, match="activation"):
        build_vocoder(config)
    config = tiny_config("2")
    del config["vocoder"]["stereo"]
    with pytest.raises(ValueError, match="stereo"):
        build_vocoder(config)
    config = tiny_config("2")
    config["audio_vae"]["model"]["params"]["ddconfig"]["norm_type"] = "batch"
    with pytest.raises(ValueError, match="norm_type"):
        build_audio_decoder(config)


def test_defaults_match_reference():
    """An empty config builds the published LTX-2 shapes in both (decoder; vocoder needs its checked keys)."""
    config = {"vocoder": {"resblock": "1", "stereo": True}}
    with torch.device("meta"):
        pairs = [
            (build_audio_decoder(config), AudioDecoderConfigurator.from_config(config)),
            (build_vocoder(config), VocoderConfigurator.from_config(config)),
        ]
    for ours, ref in pairs:
        ours_shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        assert ours_shapes == {k: tuple(v.shape) for k, v in ref.state_dict().items()}


KEYS = [
    "audio_vae.decoder.conv_in.conv.weight",
    "audio_vae.decoder.up.0.block.0.conv1.conv.bias",
    "audio_vae.per_channel_statistics.std-of-means",
    "audio_vae.encoder.conv_in.conv.weight",
    "vocoder.conv_pre.weight",
    "vocoder.vocoder.conv_pre.weight",
    "vocoder.bwe_generator.resblocks.0.acts1.0.upsample.filter",
    "vocoder.mel_stft.stft_fn.forward_basis",
    "model.diffusion_model.vocoder.x",
    "vae.decoder.conv_in.conv.weight",
]


@pytest.mark.parametrize("key", KEYS)
def test_key_maps(key):
    assert audio_decoder_key(key) == AUDIO_VAE_DECODER_COMFY_KEYS_FILTER.apply_to_key(key)
    expected = VOCODER_COMFY_KEYS_FILTER.apply_to_key(key)
    if expected is not None:
        (expected, _), = VOCODER_COMFY_KEYS_FILTER.apply_to_key_value(expected, torch.zeros(1))
    assert vocoder_key(key) == expected
