"""torchaudio's resample and ltx-core's AudioProcessor (MelSpectrogram + log) on the given waveforms.

in:  wave<i> [C, S] float32 and rate<i> (Hz), for i = 0..n-1; target (Hz), n_fft, hop, mel_bins
out: resampled<i> [C, S'] (torchaudio.functional.resample to target), mel<i> [1, C, T, mel_bins]
"""
import sys

import numpy as np
import torch
import torchaudio
from ltx_core.model.audio_vae.ops import AudioProcessor
from ltx_core.types import Audio

source, result = sys.argv[1:3]
data = np.load(source)
target, n_fft, hop, mel_bins = (int(data[k]) for k in ("target", "n_fft", "hop", "mel_bins"))
processor = AudioProcessor(target_sample_rate=target, mel_bins=mel_bins, mel_hop_length=hop, n_fft=n_fft)
out = {}
i = 0
while f"wave{i}" in data.files:
    wave, rate = torch.from_numpy(data[f"wave{i}"]), int(data[f"rate{i}"])
    out[f"resampled{i}"] = torchaudio.functional.resample(wave, rate, target).numpy()
    out[f"mel{i}"] = processor.waveform_to_mel(Audio(waveform=wave[None], sampling_rate=rate)).numpy()
    i += 1
np.savez(result, **out)
