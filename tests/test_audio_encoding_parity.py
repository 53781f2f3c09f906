"""The audio encoder's input side against the reference: torchaudio's resample and MelSpectrogram (run in
.venv-reference, where the real torchaudio is) and ltx-core's AudioEncoder on the tiny checkpoints."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import checkpoint_file
from ltx_backend.models.audio_vae.config import audio_geometry
from ltx_backend.models.audio_vae.mel import log_mel_spectrogram, mel_filterbank, resample
from reference_side import run_reference_script

RATES = (44100, 48000, 22050, 8000, 16000, 11025)


def waveforms() -> dict[str, np.ndarray]:
    """Noise plus tones near and above the 8 kHz Nyquist of the target rate, stereo, 0.3-0.6 s."""
    rng = np.random.default_rng(3)
    inputs = {}
    for i, rate in enumerate(RATES):
        n = int(rate * (0.3 + 0.05 * i))
        t = np.arange(n) / rate
        tones = [np.sin(2 * np.pi * f * t) for f in (440.0, 3000.0, min(7900.0, rate / 2.1), min(12000.0, rate / 2.05))]
        wave = 0.2 * sum(tones) + 0.1 * rng.standard_normal(n)
        inputs[f"wave{i}"] = np.stack([wave, np.roll(wave, 37) * 0.5]).astype(np.float32)
        inputs[f"rate{i}"] = np.array(rate)
    return inputs


@pytest.fixture(scope="module")
def torchaudio_outputs(tmp_path_factory):
    inputs = dict(waveforms(), target=np.array(16000), n_fft=np.array(1024), hop=np.array(160), mel_bins=np.array(64))
    return inputs, run_reference_script("audio_analysis", tmp_path_factory.mktemp("torchaudio"), inputs)


def test_resample_matches_torchaudio(torchaudio_outputs):
    inputs, expected = torchaudio_outputs
    for i, rate in enumerate(RATES):
        ours = resample(torch.from_numpy(inputs[f"wave{i}"]), rate, 16000).numpy()
        theirs = expected[f"resampled{i}"]
        assert ours.shape == theirs.shape == (2, -(-inputs[f"wave{i}"].shape[1] * 16000 // rate))
        assert np.abs(ours - theirs).max() <= 1e-5, (rate, np.abs(ours - theirs).max())


def test_log_mel_spectrogram_matches_the_reference_audio_processor(tiny_checkpoints, torchaudio_outputs):
    from ltx_backend.loading.checkpoint import read_checkpoint_info

    inputs, expected = torchaudio_outputs
    info = read_checkpoint_info(checkpoint_file(tiny_checkpoints["2.3"]))
    geometry = audio_geometry(info.config)
    assert (geometry.sample_rate, geometry.n_fft, geometry.hop_length, geometry.mel_bins) == (16000, 1024, 160, 64)
    for i, rate in enumerate(RATES):
        ours = log_mel_spectrogram(torch.from_numpy(inputs[f"wave{i}"])[None], rate, geometry).numpy()
        theirs = expected[f"mel{i}"]
        assert ours.shape == theirs.shape
        assert theirs.max() - theirs.min() > 3.0  # a real spectrogram: tones stand above the noise floor
        assert np.abs(ours - theirs).max() <= 1e-3, (rate, np.abs(ours - theirs).max())


def test_mel_filterbank_is_slaney_area_normalised():
    """Each triangle peaks at its centre frequency with height 2 / (its width in Hz), and they tile the axis."""
    filters = mel_filterbank(513, 64, 16000, 0.0, 8000.0)
    assert filters.shape == (513, 64) and (filters >= 0).all()
    assert (filters.max(dim=0).values > 0).all()  # no empty filter at 16 kHz / 1024
