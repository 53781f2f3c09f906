"""Vocoders: stereo log-mel [B, 2, T, 64] -> waveform [B, 2, samples].

* `Vocoder`: HiFi-GAN generator (LTX-2: ResBlock1 + leaky ReLU) or BigVGAN v2 generator
  (LTX-2.3: AMPBlock1 with anti-aliased SnakeBeta activations).
* `VocoderWithBWE` (LTX-2.3): the vocoder at a low rate, then a bandwidth extension: a second generator
  predicts a high-rate residual from the log-mel of the low-rate waveform, added to its sinc upsampling.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .resampling import HannSincUpsampler, KaiserDownSample1d, KaiserUpSample1d

LRELU_SLOPE = 0.1
STEREO_MEL_CHANNELS = 128  # 2 channels x 64 mel bins, stacked as conv input features


class ResBlock1(nn.Module):
    """HiFi-GAN residual block: 3 x (leaky ReLU -> dilated conv -> leaky ReLU -> conv, residual add)."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding="same") for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding="same") for _ in dilations
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2 in zip(self.convs1, self.convs2, strict=True):
            x = x + conv2(F.leaky_relu(conv1(F.leaky_relu(x, LRELU_SLOPE)), LRELU_SLOPE))
        return x


class SnakeBeta(nn.Module):
    """x + sin^2(alpha x) / beta per channel; alpha and beta are stored as logs."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        alpha = torch.exp(self.alpha)[None, :, None]
        beta = torch.exp(self.beta)[None, :, None]
        return x + (1.0 / (beta + 1e-9)) * torch.sin(x * alpha).pow(2)


class Activation1d(nn.Module):
    """Anti-aliased activation: 2x upsample -> activation -> 2x downsample."""

    def __init__(self, activation: nn.Module) -> None:
        super().__init__()
        self.act = activation
        self.upsample = KaiserUpSample1d(ratio=2, kernel_size=12)
        self.downsample = KaiserDownSample1d(ratio=2, kernel_size=12)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(self.act(self.upsample(x)))


def _same_padding(kernel_size: int, dilation: int) -> int:
    return (kernel_size * dilation - dilation) // 2


class AMPBlock1(nn.Module):
    """BigVGAN residual block: 3 x (act -> dilated conv -> act -> conv, residual add), SnakeBeta activations."""

    def __init__(self, channels: int, kernel_size: int, dilations: list[int]) -> None:
        super().__init__()
        self.convs1 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, dilation=d, padding=_same_padding(kernel_size, d))
            for d in dilations
        )
        self.convs2 = nn.ModuleList(
            nn.Conv1d(channels, channels, kernel_size, padding=_same_padding(kernel_size, 1)) for _ in dilations
        )
        self.acts1 = nn.ModuleList(Activation1d(SnakeBeta(channels)) for _ in dilations)
        self.acts2 = nn.ModuleList(Activation1d(SnakeBeta(channels)) for _ in dilations)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv1, conv2, act1, act2 in zip(self.convs1, self.convs2, self.acts1, self.acts2, strict=True):
            x = x + conv2(act2(conv1(act1(x))))
        return x


class Vocoder(nn.Module):
    """Generator: conv_pre -> per stage (transposed-conv upsample, mean of the stage's residual blocks)
    -> final activation -> conv_post (2 output channels) -> optional tanh / clamp(-1, 1)."""

    def __init__(
        self,
        *,
        resblock: str,
        resblock_kernel_sizes: list[int],
        resblock_dilation_sizes: list[list[int]],
        upsample_rates: list[int],
        upsample_kernel_sizes: list[int],
        upsample_initial_channel: int,
        output_sampling_rate: int,
        use_tanh_at_final: bool = True,
        apply_final_activation: bool = True,
        use_bias_at_final: bool = True,
    ) -> None:
        super().__init__()
        if resblock not in ("1", "AMP1"):
            raise ValueError(f"vocoder resblock is {resblock!r}, expected '1' or 'AMP1'")
        self.is_amp = resblock == "AMP1"
        self.output_sampling_rate = output_sampling_rate
        self.use_tanh_at_final = use_tanh_at_final
        self.apply_final_activation = apply_final_activation
        self.num_kernels = len(resblock_kernel_sizes)

        widths = [upsample_initial_channel // 2**i for i in range(len(upsample_rates) + 1)]
        self.conv_pre = nn.Conv1d(STEREO_MEL_CHANNELS, widths[0], 7, padding=3)
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(widths[i], widths[i + 1], k, stride, padding=(k - stride) // 2)
            for i, (stride, k) in enumerate(zip(upsample_rates, upsample_kernel_sizes, strict=True))
        )
        block = AMPBlock1 if self.is_amp else ResBlock1
        self.resblocks = nn.ModuleList(
            block(width, k, dilations)
            for width in widths[1:]
            for k, dilations in zip(resblock_kernel_sizes, resblock_dilation_sizes, strict=True)
        )
        self.act_post = Activation1d(SnakeBeta(widths[-1])) if self.is_amp else nn.LeakyReLU()  # slope 0.01
        self.conv_post = nn.Conv1d(widths[-1], 2, 7, padding=3, bias=use_bias_at_final)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel: [B, 2, T, n_mels] -> waveform [B, 2, T * prod(upsample_rates)]."""
        b, s, t, n = mel.shape
        assert s == 2, "Input must have 2 channels for stereo"
        x = self.conv_pre(mel.transpose(2, 3).reshape(b, s * n, t))  # [B, 2 * n_mels, T]
        for i, up in enumerate(self.ups):
            if not self.is_amp:
                x = F.leaky_relu(x, LRELU_SLOPE)
            x = up(x)
            blocks = self.resblocks[i * self.num_kernels : (i + 1) * self.num_kernels]
            x = torch.stack([block(x) for block in blocks]).mean(dim=0)
        x = self.conv_post(self.act_post(x))
        if self.apply_final_activation:
            x = torch.tanh(x) if self.use_tanh_at_final else x.clamp(-1, 1)
        return x


class CausalSTFT(nn.Module):
    """|STFT| as a strided conv with the checkpoint's (DFT x causal Hann window) bases; left padding only."""

    def __init__(self, n_fft: int, hop_length: int) -> None:
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        n_freqs = n_fft // 2 + 1
        # Rows: n_freqs real parts then n_freqs imaginary parts. The inverse basis is stored but unused.
        self.register_buffer("forward_basis", torch.zeros(2 * n_freqs, 1, n_fft))
        self.register_buffer("inverse_basis", torch.zeros(2 * n_freqs, 1, n_fft))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """y: [N, T] -> magnitude [N, n_freqs, T // hop]."""
        y = F.pad(y.unsqueeze(1), (max(0, self.n_fft - self.hop_length), 0))
        spec = F.conv1d(y, self.forward_basis, stride=self.hop_length)
        real, imag = spec.chunk(2, dim=1)
        return torch.sqrt(real**2 + imag**2)


class MelSTFT(nn.Module):
    """Causal log-mel spectrogram with the checkpoint's STFT bases and mel filterbank."""

    def __init__(self, n_fft: int, hop_length: int, n_mels: int) -> None:
        super().__init__()
        self.stft_fn = CausalSTFT(n_fft, hop_length)
        self.register_buffer("mel_basis", torch.zeros(n_mels, n_fft // 2 + 1))

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        """y: [N, T] -> log-mel [N, n_mels, T // hop]."""
        magnitude = self.stft_fn(y)
        mel = torch.matmul(self.mel_basis.to(magnitude.dtype), magnitude)
        return torch.log(mel.clamp(min=1e-5))


class VocoderWithBWE(nn.Module):
    """Vocoder at `input_sampling_rate`, then bandwidth extension to `output_sampling_rate`."""

    def __init__(
        self,
        vocoder: Vocoder,
        bwe_generator: Vocoder,
        mel_stft: MelSTFT,
        input_sampling_rate: int,
        output_sampling_rate: int,
        hop_length: int,
    ) -> None:
        super().__init__()
        self.vocoder = vocoder
        self.bwe_generator = bwe_generator
        self.mel_stft = mel_stft
        self.input_sampling_rate = input_sampling_rate
        self.output_sampling_rate = output_sampling_rate
        self.hop_length = hop_length
        self.resampler = HannSincUpsampler(output_sampling_rate // input_sampling_rate)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel: [B, 2, T, n_mels] -> waveform [B, 2, samples at the output rate], in [-1, 1]."""
        x = self.vocoder(mel)  # [B, 2, L] at the input rate
        b, c, length = x.shape
        output_length = length * self.output_sampling_rate // self.input_sampling_rate
        x = F.pad(x, (0, -length % self.hop_length))  # whole number of mel frames

        bwe_mel = self.mel_stft(x.reshape(b * c, -1))  # [B*C, n_mels, frames]
        bwe_mel = bwe_mel.reshape(b, c, *bwe_mel.shape[1:]).transpose(2, 3)  # [B, C, frames, n_mels]
        residual = self.bwe_generator(bwe_mel)
        skip = self.resampler(x)
        assert residual.shape == skip.shape, f"residual {residual.shape} != skip {skip.shape}"
        return torch.clamp(residual + skip, -1, 1)[..., :output_length]
