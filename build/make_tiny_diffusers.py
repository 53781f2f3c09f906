"""Write tiny random-weight LTX-2 / LTX-2.3 pipelines in the diffusers layout, plus reference outputs.

Run with the diffusers venv (build/setup_diffusers_env.sh):  .venv-diffusers/bin/python build/make_tiny_diffusers.py --out DIR

    DIR/ltx-2/   model_index.json, transformer/, vae/, audio_vae/, vocoder/, connectors/, scheduler/,
                 text_encoder/, tokenizer/ (the tiny Gemma 3 of build/tiny_gemma.py), as LTX2Pipeline.save_pretrained
                 writes them, and latent_upsampler/ (LTX2LatentUpsamplerModel); reference.npz: diffusers' own
                 transformer, video VAE decoder and latent upsampler on fixed inputs
    DIR/ltx-2.3/ the same for LTX-2.3

Weights are seeded and deterministic. Dims are the tiny ones agreed in the project (transformer 2 x 16 video,
2 x 8 audio, 2 layers, caption channels 64 = tiny Gemma hidden size); the VAEs keep their fixed 128 latent
channels; the vocoder is as small as diffusers' configs allow.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import torch
from diffusers import (
    AutoencoderKLLTX2Audio,
    AutoencoderKLLTX2Video,
    FlowMatchEulerDiscreteScheduler,
    LTX2Pipeline,
    LTX2VideoTransformer3DModel,
)
from diffusers.pipelines.ltx2 import LTX2TextConnectors, LTX2Vocoder, LTX2VocoderWithBWE

sys.path.insert(0, str(Path(__file__).resolve().parent))

TRANSFORMER_COMMON = dict(
    in_channels=128, out_channels=128, patch_size=1, patch_size_t=1,
    num_attention_heads=2, attention_head_dim=16, cross_attention_dim=32,
    vae_scale_factors=(8, 32, 32), pos_embed_max_pos=20, base_height=2048, base_width=2048,
    audio_in_channels=128, audio_out_channels=128, audio_patch_size=1, audio_patch_size_t=1,
    audio_num_attention_heads=2, audio_attention_head_dim=8, audio_cross_attention_dim=16,
    audio_scale_factor=4, audio_pos_embed_max_pos=20, audio_sampling_rate=16000, audio_hop_length=160,
    num_layers=2, activation_fn="gelu-approximate", qk_norm="rms_norm_across_heads",
    norm_elementwise_affine=False, norm_eps=1e-6, caption_channels=64, attention_bias=True,
    attention_out_bias=True, rope_theta=10000.0, rope_double_precision=True, causal_offset=1,
    timestep_scale_multiplier=1000, cross_attn_timestep_scale_multiplier=1000, rope_type="split",
)

CONFIGS = {
    "2": {
        "transformer": {**TRANSFORMER_COMMON, "gated_attn": False, "cross_attn_mod": False, "audio_gated_attn": False,
                        "audio_cross_attn_mod": False, "use_prompt_embeddings": True, "perturbed_attn": False},
        "connectors": dict(
            caption_channels=64, text_proj_in_factor=3,
            video_connector_num_attention_heads=2, video_connector_attention_head_dim=32, video_connector_num_layers=2,
            video_connector_num_learnable_registers=128, video_gated_attn=False,
            audio_connector_num_attention_heads=2, audio_connector_attention_head_dim=32, audio_connector_num_layers=2,
            audio_connector_num_learnable_registers=128, audio_gated_attn=False,
            connector_rope_base_seq_len=4096, rope_theta=10000.0, rope_double_precision=True,
            causal_temporal_positioning=False, rope_type="split", per_modality_projections=False, proj_bias=False,
        ),
        "vae": dict(
            in_channels=3, out_channels=3, latent_channels=128,
            block_out_channels=(128, 256), down_block_types=("LTX2VideoDownBlock3D",) * 2,
            layers_per_block=(1, 1, 1), spatio_temporal_scaling=(True, True),
            downsample_type=("spatial", "spatiotemporal"),
            decoder_block_out_channels=(64, 128), decoder_layers_per_block=(1, 1, 1),
            decoder_spatio_temporal_scaling=(True, True), decoder_inject_noise=(False, False, False),
            upsample_type=("spatiotemporal", "spatial"), upsample_residual=(False, True), upsample_factor=(2, 2),
            timestep_conditioning=True, patch_size=4, patch_size_t=1, resnet_norm_eps=1e-6,
            encoder_causal=True, decoder_causal=False,
            encoder_spatial_padding_mode="zeros", decoder_spatial_padding_mode="reflect",
            spatial_compression_ratio=8, temporal_compression_ratio=2,
        ),
        "vocoder": dict(
            in_channels=128, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[4, 4],
            upsample_factors=[2, 2], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], act_fn="leaky_relu",
            leaky_relu_negative_slope=0.1, antialias=False, final_act_fn="tanh", final_bias=True,
            output_sampling_rate=24000,
        ),
    },
    "2.3": {
        "transformer": {**TRANSFORMER_COMMON, "gated_attn": True, "cross_attn_mod": True, "audio_gated_attn": True,
                        "audio_cross_attn_mod": True, "use_prompt_embeddings": False, "perturbed_attn": True},
        "connectors": dict(
            caption_channels=64, text_proj_in_factor=3,
            video_connector_num_attention_heads=2, video_connector_attention_head_dim=16, video_connector_num_layers=2,
            video_connector_num_learnable_registers=128, video_gated_attn=True,
            audio_connector_num_attention_heads=2, audio_connector_attention_head_dim=8, audio_connector_num_layers=1,
            audio_connector_num_learnable_registers=128, audio_gated_attn=True,
            connector_rope_base_seq_len=4096, rope_theta=10000.0, rope_double_precision=True,
            causal_temporal_positioning=False, rope_type="split", per_modality_projections=True,
            video_hidden_dim=32, audio_hidden_dim=16, proj_bias=True,
        ),
        "vae": dict(
            in_channels=3, out_channels=3, latent_channels=128,
            block_out_channels=(128, 256, 256), down_block_types=("LTX2VideoDownBlock3D",) * 3,
            layers_per_block=(1, 1, 1, 1), spatio_temporal_scaling=(True, True, True),
            downsample_type=("spatial", "temporal", "spatiotemporal"),
            decoder_block_out_channels=(64, 64, 128), decoder_layers_per_block=(1, 1, 1, 1),
            decoder_spatio_temporal_scaling=(True, True, True), decoder_inject_noise=(False, False, False, False),
            upsample_type=("spatiotemporal", "temporal", "spatial"), upsample_residual=(False, False, False),
            upsample_factor=(2, 1, 2), timestep_conditioning=False, patch_size=4, patch_size_t=1,
            resnet_norm_eps=1e-6, encoder_causal=True, decoder_causal=False,
            encoder_spatial_padding_mode="zeros", decoder_spatial_padding_mode="zeros",
            spatial_compression_ratio=16, temporal_compression_ratio=4,
        ),
        "vocoder": dict(
            in_channels=128, hidden_channels=32, out_channels=2, upsample_kernel_sizes=[4, 4],
            upsample_factors=[2, 2], resnet_kernel_sizes=[3], resnet_dilations=[[1, 3, 5]], act_fn="snakebeta",
            leaky_relu_negative_slope=0.1, antialias=True, antialias_ratio=2, antialias_kernel_size=12,
            final_act_fn=None, final_bias=False,
            bwe_in_channels=128, bwe_hidden_channels=16, bwe_out_channels=2, bwe_upsample_kernel_sizes=[4, 4],
            bwe_upsample_factors=[2, 2], bwe_resnet_kernel_sizes=[3], bwe_resnet_dilations=[[1, 3, 5]],
            bwe_act_fn="snakebeta", bwe_leaky_relu_negative_slope=0.1, bwe_antialias=True, bwe_antialias_ratio=2,
            bwe_antialias_kernel_size=12, bwe_final_act_fn=None, bwe_final_bias=False,
            filter_length=512, hop_length=80, window_length=512, num_mel_channels=64,
            input_sampling_rate=16000, output_sampling_rate=48000,
        ),
    },
}

AUDIO_VAE = dict(
    base_channels=128, output_channels=2, ch_mult=(1, 1, 1), num_res_blocks=1, attn_resolutions=None,
    in_channels=2, resolution=256, latent_channels=8, norm_type="pixel", causality_axis="height", dropout=0.0,
    mid_block_add_attention=False, sample_rate=16000, mel_hop_length=160, is_causal=True, mel_bins=64, double_z=True,
)

SCHEDULER = dict(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05, base_image_seq_len=1024,
                 max_image_seq_len=4096, shift_terminal=0.1)


def randomize_(module: torch.nn.Module, generator: torch.Generator) -> None:
    """Seeded values of a sensible scale for every parameter and the latent statistics buffers.

    Matrices / kernels N(0, 1/fan_in); norm weights and stds about 1; other vectors N(0, 0.05^2).
    Other buffers (filters, STFT bases) keep their values.
    """
    buffers = [(n, b) for n, b in module.named_buffers() if "latents_" in n]
    for name, tensor in list(module.named_parameters()) + buffers:
        if not tensor.is_floating_point():
            continue
        with torch.no_grad():
            if tensor.dim() >= 2:
                value = torch.randn(tensor.shape, generator=generator) / math.sqrt(math.prod(tensor.shape[1:]))
            elif any(tag in name for tag in ("norm", "std")) and "bias" not in name:
                value = 1.0 + 0.05 * torch.randn(tensor.shape, generator=generator)
            else:
                value = 0.05 * torch.randn(tensor.shape, generator=generator)
            tensor.copy_(value.to(tensor.dtype))


def build_pipeline(version: str, seed: int) -> LTX2Pipeline:
    cfg = CONFIGS[version]
    vocoder_cls = LTX2VocoderWithBWE if version == "2.3" else LTX2Vocoder
    modules = {
        "transformer": LTX2VideoTransformer3DModel(**cfg["transformer"]),
        "connectors": LTX2TextConnectors(**cfg["connectors"]),
        "vae": AutoencoderKLLTX2Video(**cfg["vae"]),
        "audio_vae": AutoencoderKLLTX2Audio(**AUDIO_VAE),
        "vocoder": vocoder_cls(**cfg["vocoder"]),
    }
    for index, module in enumerate(modules.values()):
        randomize_(module, torch.Generator().manual_seed(seed * 1000 + index))
        module.eval()
    return LTX2Pipeline(scheduler=FlowMatchEulerDiscreteScheduler(**SCHEDULER), text_encoder=None, tokenizer=None, **modules)


def transformer_reference(transformer: LTX2VideoTransformer3DModel, version: str, seed: int) -> dict[str, np.ndarray]:
    """diffusers' transformer on fixed inputs, in the form ltx-core's Modality takes them.

    Positions are (B, dims, N, 2) [start, end) boxes: video in (frame / fps, pixel y, pixel x), audio in seconds.
    Timesteps are per token in [0, 1] (diffusers takes them x1000); sigma is per sample; cross-modal timesteps
    use the other modality's sigma (use_cross_timestep=True, as ltx-core always does).
    """
    g = torch.Generator().manual_seed(seed + 17)
    batch, frames, height, width, audio_tokens, text_len = 2, 2, 2, 3, 5, 6
    video_tokens = frames * height * width
    context_dim = 64 if version == "2" else (32, 16)
    f, h, w = torch.meshgrid(torch.arange(frames), torch.arange(height), torch.arange(width), indexing="ij")
    starts = torch.stack([(f * 8 + 1 - 8).clamp(min=0) / 24.0, h * 32.0, w * 32.0]).reshape(3, -1).float()
    ends = torch.stack([((f + 1) * 8 + 1 - 8).clamp(min=0) / 24.0, (h + 1) * 32.0, (w + 1) * 32.0]).reshape(3, -1).float()
    video_positions = torch.stack([starts, ends], dim=-1)[None].repeat(batch, 1, 1, 1)
    a = torch.arange(audio_tokens, dtype=torch.float32)
    audio_positions = torch.stack([(a * 4 - 3).clamp(min=0) * 0.01, ((a + 1) * 4 - 3) * 0.01], dim=-1)[None, None].repeat(batch, 1, 1, 1)
    inputs = {
        "video_latent": torch.randn(batch, video_tokens, 128, generator=g),
        "audio_latent": torch.randn(batch, audio_tokens, 128, generator=g),
        "video_context": torch.randn(batch, text_len, context_dim if version == "2" else context_dim[0], generator=g),
        "audio_context": torch.randn(batch, text_len, context_dim if version == "2" else context_dim[1], generator=g),
        "context_mask": torch.tensor([[1] * text_len, [0, 0] + [1] * (text_len - 2)], dtype=torch.int64),
        "video_sigma": torch.tensor([0.7, 0.3]),
        "audio_sigma": torch.tensor([0.6, 0.9]),
        "video_positions": video_positions,
        "audio_positions": audio_positions,
    }
    video_timesteps = inputs["video_sigma"][:, None].repeat(1, video_tokens)
    video_timesteps[:, : height * width] = 0.0  # a conditioned first frame
    inputs["video_timesteps"] = video_timesteps
    inputs["audio_timesteps"] = inputs["audio_sigma"][:, None].repeat(1, audio_tokens)
    with torch.no_grad():
        video_out, audio_out = transformer(
            hidden_states=inputs["video_latent"],
            audio_hidden_states=inputs["audio_latent"],
            encoder_hidden_states=inputs["video_context"],
            audio_encoder_hidden_states=inputs["audio_context"],
            timestep=inputs["video_timesteps"] * 1000.0,
            audio_timestep=inputs["audio_timesteps"] * 1000.0,
            sigma=inputs["video_sigma"] * 1000.0,
            audio_sigma=inputs["audio_sigma"] * 1000.0,
            encoder_attention_mask=inputs["context_mask"],
            audio_encoder_attention_mask=inputs["context_mask"],
            video_coords=video_positions,
            audio_coords=audio_positions,
            use_cross_timestep=True,
            return_dict=False,
        )
    out = {f"transformer.{k}": v.numpy() for k, v in inputs.items()}
    out["transformer.video_out"] = video_out.numpy()
    out["transformer.audio_out"] = audio_out.numpy()
    return out


def decoder_reference(vae: AutoencoderKLLTX2Video, seed: int) -> dict[str, np.ndarray]:
    """diffusers' video VAE decoder on normalised latents (decode_timestep 0.05 when timestep-conditioned)."""
    g = torch.Generator().manual_seed(seed + 23)
    latent = torch.randn(1, 128, 2, 2, 3, generator=g)
    temb = torch.tensor([0.05]) if vae.config.timestep_conditioning else None
    with torch.no_grad():
        unnormalised = latent * vae.latents_std.view(1, -1, 1, 1, 1) + vae.latents_mean.view(1, -1, 1, 1, 1)
        video = vae.decoder(unnormalised, temb, causal=vae.config.decoder_causal)
    return {"decoder.latent": latent.numpy(), "decoder.timestep": np.array([0.05 if temb is not None else 0.0], dtype=np.float32),
            "decoder.video": video.numpy()}


def write_text_encoder(out_dir: Path, seed: int) -> None:
    """The tiny Gemma 3 and tokenizer of build/tiny_gemma.py, registered in model_index.json."""
    from tiny_gemma import make_tiny_gemma

    make_tiny_gemma(out_dir, seed=seed)
    index_path = out_dir / "model_index.json"
    index = json.loads(index_path.read_text())
    index["text_encoder"] = ["transformers", "Gemma3ForConditionalGeneration"]
    index["tokenizer"] = ["transformers", "GemmaTokenizerFast"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def write_latent_upsampler(out_dir: Path, seed: int) -> dict[str, np.ndarray]:
    """latent_upsampler/ as diffusers writes LTX2LatentUpsamplerModel (spatial x2, its default rational resampler),
    and its output on a fixed un-normalised latent."""
    from diffusers.pipelines.ltx2 import LTX2LatentUpsamplerModel

    model = LTX2LatentUpsamplerModel(in_channels=128, mid_channels=32, num_blocks_per_stage=1, dims=3)
    randomize_(model, torch.Generator().manual_seed(seed * 1000 + 99))
    model.eval().save_pretrained(str(out_dir / "latent_upsampler"), safe_serialization=True)
    latent = torch.randn(1, 128, 2, 3, 4, generator=torch.Generator().manual_seed(seed + 29))
    with torch.no_grad():
        upsampled = model(latent)
    return {"upsampler.latent": latent.numpy(), "upsampler.upsampled": upsampled.numpy()}


def make(out_dir: Path, version: str, seed: int) -> None:
    torch.manual_seed(seed)
    pipe = build_pipeline(version, seed)
    pipe.save_pretrained(str(out_dir), safe_serialization=True)
    write_text_encoder(out_dir, seed)
    reference = {**transformer_reference(pipe.transformer, version, seed), **decoder_reference(pipe.vae, seed),
                 **write_latent_upsampler(out_dir, seed)}
    np.savez(out_dir / "reference.npz", **reference)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/tiny-diffusers", type=Path)
    parser.add_argument("--seed", default=0, type=int)
    parser.add_argument("--versions", nargs="+", default=["2", "2.3"], choices=["2", "2.3"])
    args = parser.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    for version in args.versions:
        out_dir = args.out / ("ltx-2" if version == "2" else "ltx-2.3")
        make(out_dir, version, args.seed)
        print(f"wrote {out_dir}")


if __name__ == "__main__":
    main()
