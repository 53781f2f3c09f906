"""LTX2ICLoraPipeline vs ltx-pipelines 1.0.0's ICLoraPipeline on the same tiny checkpoint (as the distilled one), a
tiny random IC-LoRA, control videos, prompt and seed (CPU, fp32; in-process: nothing here encodes audio)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import checkpoint_file, load_build_script
from ltx_backend.media import encode_mp4
from ltx_backend.pipelines.registry import IC_LORA
from ltx_backend.request import GenerationRequest, LoadOptions
from ltx_backend.runtime.local_components import load_pipeline
from parity import compare
from reference_env import TorchWithDtype, allow_fp32_lora_fusion, use_tiny_gemma_config
from test_two_stage_parity import extras

CPU = torch.device("cpu")


def control_video(path, frames: int, seed: int, width: int = 96, height: int = 80):
    """Edges-like control frames: bright moving lines on black."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    pictures = []
    for i in range(frames):
        lines = ((x + 3 * i + rng.integers(0, 4)) % 16 < 2) | ((y + 2 * i) % 20 < 2)
        pictures.append(np.repeat((lines * 230 + 10).astype(np.uint8)[..., None], 3, axis=-1))
    path.write_bytes(encode_mp4(np.stack(pictures), 24.0))
    return str(path)


def mask_video(path, frames: int, width: int = 96, height: int = 80):
    """A grayscale attention mask: a left-to-right ramp whose bright edge moves with time."""
    x = np.linspace(0.0, 1.0, width)[None, :].repeat(height, axis=0)
    pictures = [np.repeat((np.clip(x * 2 - i / frames, 0, 1) * 255).astype(np.uint8)[..., None], 3, axis=-1) for i in range(frames)]
    path.write_bytes(encode_mp4(np.stack(pictures), 24.0))
    return str(path)


def ic_lora(tmp_path, version: str, factor: int) -> str:
    maker = load_build_script("make_tiny_checkpoints")
    metadata = {"reference_downscale_factor": str(factor)} if factor != 1 else None
    return str(maker.make_tiny_lora(tmp_path / f"ic-lora-x{factor}.safetensors", version, rank=4, seed=77, metadata=metadata))


def reference(directory, request: GenerationRequest, lora: str, monkeypatch):
    import ltx_pipelines.ic_lora as module
    from ltx_core.loader import LTXV_LORA_COMFY_RENAMING_MAP, LoraPathStrengthAndSDOps

    use_tiny_gemma_config(directory, monkeypatch)
    monkeypatch.setattr(module, "torch", TorchWithDtype(torch.float32))
    allow_fp32_lora_fusion(monkeypatch)
    upsampler, _ = extras(directory)
    pipeline = module.ICLoraPipeline(
        distilled_checkpoint_path=str(checkpoint_file(directory)), spatial_upsampler_path=str(upsampler), gemma_root=str(directory),
        loras=[LoraPathStrengthAndSDOps(lora, 1.0, LTXV_LORA_COMFY_RENAMING_MAP)], device=CPU,
    )
    with torch.inference_mode():
        mask = None
        if request.conditioning_attention_mask_path is not None:  # as its main() reads --conditioning-attention-mask
            mask = module._load_mask_video(request.conditioning_attention_mask_path, request.height // 2, request.width // 2, request.num_frames)
        video, audio = pipeline(
            prompt=request.prompt, seed=request.seed, height=request.height, width=request.width, num_frames=request.num_frames,
            frame_rate=request.fps, images=[],
            video_conditioning=list(zip(request.video_conditioning_paths, request.video_conditioning_strengths)),
            conditioning_attention_strength=request.conditioning_attention_strength,
            conditioning_attention_mask=mask, skip_stage_2=request.skip_stage_2,
        )
        frames = torch.cat(list(video)).numpy()
    return frames, audio.waveform.float().numpy(), audio.sampling_rate


CASES = [
    # (id, version, control videos (frames, seed), strengths, LoRA reference_downscale_factor, attention strength,
    #  attention mask video frames (None: no mask), skip_stage_2)
    ("one control video", "2.3", [(17, 1)], None, 1, 1.0, None, False),
    ("two control videos at half size", "2", [(17, 2), (9, 3)], (1.0, 0.6), 2, 1.0, None, False),
    ("attention strength 0.3", "2.3", [(17, 1)], None, 1, 0.3, None, False),
    ("attention mask video at 0.8", "2.3", [(17, 1), (9, 4)], None, 2, 0.8, 17, False),
    ("skip stage 2", "2", [(17, 2)], None, 1, 1.0, None, True),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,version,videos,strengths,factor,attention,mask,skip", CASES, ids=[c[0] for c in CASES])
def test_ic_lora_matches_reference(name, version, videos, strengths, factor, attention, mask, skip, tiny_checkpoints, tmp_path, monkeypatch):
    directory = tiny_checkpoints[version]
    lora = ic_lora(tmp_path, version, factor)
    paths = tuple(control_video(tmp_path / f"control{i}.mp4", frames, seed) for i, (frames, seed) in enumerate(videos))
    request = GenerationRequest(prompt="A dancer spins in a studio", pipeline_class_name=IC_LORA, seed=5, width=128, height=128,
                                num_frames=9, video_conditioning_paths=paths, video_conditioning_strengths=strengths,
                                conditioning_attention_strength=attention, skip_stage_2=skip,
                                conditioning_attention_mask_path=None if mask is None else mask_video(tmp_path / "mask.mp4", mask)
                                ).resolve(version)
    pipeline = load_pipeline(str(checkpoint_file(directory)), CPU, torch.float32, pipeline_class_name=IC_LORA,
                             upsampler_path=extras(directory)[0], options=LoadOptions(lora_path=lora))
    assert pipeline.components.reference_downscale_factor == factor
    ours = pipeline(request)
    assert ours.frames.shape[1:3] == ((64, 64) if skip else (128, 128))
    # 70, not 40: an attention strength of 0.3 moves the tiny model's frames only to ~51 dB of full attention
    assert compare(f"LTX-{version} IC-LoRA ({name})", ours, reference(directory, request, lora, monkeypatch), request) >= 70.0
