"""What image conditioning does to the pixels, on the tiny checkpoint trained on synthetic clips
(build/train_tiny_checkpoint.py: a VAE that reconstructs smooth images, a transformer that learned fades
between a first and a last frame).

The random tiny checkpoints cannot show this (tests/test_image_conditioning.py says why); here the claims
are the ones a user cares about: with one image, the first decoded frame is much closer to the image than
an unconditioned run's first frame; with two, the first and the last frames are closer to their images.
Both for our pipelines and for ltx-pipelines' own KeyframeInterpolationPipeline on the same files.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import load_build_script
from ltx_backend.pipelines.registry import ONE_STAGE, TWO_STAGE
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline

CPU = torch.device("cpu")
BASE = dict(prompt="A calm lake at sunset, slow fade", seed=3, num_frames=9, num_inference_steps=8)


def mse(frame: np.ndarray, image: np.ndarray) -> float:
    return float(((frame.astype(np.float64) - image.astype(np.float64)) ** 2).mean())


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[tuple[str, np.ndarray]]:
    """Three smooth images (the training distribution, drawn with a seed training never used) as PNG files,
    with their pixels at 128 x 128."""
    trainer = load_build_script("train_tiny_checkpoint")
    pixels = trainer.smooth_images(3, 128, 128, torch.Generator().manual_seed(1234))
    root = tmp_path_factory.mktemp("smooth")
    out = []
    for i, image in enumerate(pixels):
        array = ((image.permute(1, 2, 0) + 1.0) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()
        path = root / f"smooth{i}.png"
        Image.fromarray(array).save(path)
        out.append((str(path), array))
    return out


def at(array: np.ndarray, height: int, width: int) -> np.ndarray:
    return np.asarray(Image.fromarray(array).resize((width, height), Image.BILINEAR))


def test_trained_vae_reconstructs_images(trained_checkpoint, images):
    """The premise: this checkpoint's VAE reconstructs a still clip of each image far better than the image's
    own mean colour does (the random tiny VAE is ~1e4 away)."""
    from ltx_backend.conditioning import image_pixels, load_conditioning_image
    from ltx_backend.models.video_vae import decode_video, encode_video

    pipeline = load_pipeline(str(trained_checkpoint), CPU, torch.float32)
    c = pipeline.components
    for path, array in images:
        pixels = image_pixels(load_conditioning_image(path, 0), 128, 128, torch.float32, CPU).repeat(1, 1, 9, 1, 1)
        with torch.no_grad():
            frames = decode_video(encode_video(pixels, c.video_encoder), c.video_decoder).numpy()
        assert frames.shape == (9, 128, 128, 3)
        flat = np.broadcast_to(array.reshape(-1, 3).mean(axis=0), array.shape)
        assert mse(frames[0], array) < 0.5 * mse(flat, array)
        assert mse(frames[-1], array) < 0.5 * mse(flat, array)


@pytest.mark.parametrize("pipeline_class_name,size", [(ONE_STAGE, (64, 64)), (TWO_STAGE, (128, 128))])
def test_one_image_first_frame_is_the_image(trained_checkpoint, images, pipeline_class_name, size):
    height, width = size
    pipeline = load_pipeline(str(trained_checkpoint), CPU, torch.float32, pipeline_class_name=pipeline_class_name)
    settings = dict(BASE, width=width, height=height, pipeline_class_name=pipeline_class_name)
    (path, array), _, _ = images
    image = at(array, height, width)
    conditioned = pipeline(GenerationRequest(**settings, image_paths=(path,)).resolve("2.3")).frames
    unconditioned = pipeline(GenerationRequest(**settings).resolve("2.3")).frames
    assert conditioned.shape == (9, height, width, 3)
    near, far = mse(conditioned[0], image), mse(unconditioned[0], image)
    print(f"{pipeline_class_name}: first frame MSE to the image {near:.0f} conditioned, {far:.0f} unconditioned")
    assert near < 0.5 * far


def two_image_runs(pipeline, settings, images, height, width):
    (first_path, first), (last_path, last), _ = images
    request = GenerationRequest(**settings, image_paths=(first_path, last_path)).resolve("2.3")
    assert request.image_frame_indices == (0, 8)
    conditioned = pipeline(request).frames
    unconditioned = pipeline(GenerationRequest(**settings).resolve("2.3")).frames
    return conditioned, unconditioned, at(first, height, width), at(last, height, width)


def check_first_and_last(label, conditioned, unconditioned, first, last):
    report = {
        "first": (mse(conditioned[0], first), mse(unconditioned[0], first)),
        "last": (mse(conditioned[-1], last), mse(unconditioned[-1], last)),
    }
    print(label, {k: f"{a:.0f} conditioned vs {b:.0f} unconditioned" for k, (a, b) in report.items()})
    for name, (near, far) in report.items():
        assert near < 0.5 * far, f"{label}: {name} frame"
    # and each end is nearer its own image than the other one
    assert mse(conditioned[-1], last) < mse(conditioned[-1], first)
    assert mse(conditioned[0], first) < mse(conditioned[0], last)


@pytest.mark.parametrize("image_mode", ["combined", "keyframes"])
def test_two_images_first_and_last_frames(trained_checkpoint, images, image_mode):
    pipeline = load_pipeline(str(trained_checkpoint), CPU, torch.float32, pipeline_class_name=ONE_STAGE)
    settings = dict(BASE, width=64, height=64, image_mode=image_mode)
    check_first_and_last(f"one-stage {image_mode}", *two_image_runs(pipeline, settings, images, 64, 64))


def test_two_images_with_the_reference_keyframe_pipeline(trained_checkpoint, images, monkeypatch):
    """ltx-pipelines' KeyframeInterpolationPipeline on the same files: its first and last frames are closer to
    the images than its own unconditioned run's (TI2VidTwoStagesPipeline, no image) and our two-stage
    keyframes run gives the same frames."""
    from ltx_pipelines.utils.args import ImageConditioningInput
    from ltx_pipelines.utils.constants import LTX_2_3_PARAMS

    from parity import compare
    from reference_env import run_reference
    from test_two_stage_parity import reference_pipeline

    settings = dict(BASE, width=128, height=128, pipeline_class_name=TWO_STAGE, image_mode="keyframes")
    (first_path, first), (last_path, last), _ = images
    request = GenerationRequest(**settings, image_paths=(first_path, last_path)).resolve("2.3")
    unconditioned_request = GenerationRequest(**settings).resolve("2.3")
    inputs = [ImageConditioningInput(p, i, 1.0, 33) for p, i in zip((first_path, last_path), request.image_frame_indices)]
    keyframes = reference_pipeline("keyframe_interpolation", "KeyframeInterpolationPipeline", trained_checkpoint, monkeypatch)
    reference = run_reference(keyframes, request, LTX_2_3_PARAMS, inputs)
    plain = reference_pipeline("ti2vid_two_stages", "TI2VidTwoStagesPipeline", trained_checkpoint, monkeypatch)
    reference_unconditioned = run_reference(plain, unconditioned_request, LTX_2_3_PARAMS)
    check_first_and_last("reference keyframe interpolation", reference[0], reference_unconditioned[0], at(first, 128, 128), at(last, 128, 128))

    ours = load_pipeline(str(trained_checkpoint), CPU, torch.float32, pipeline_class_name=TWO_STAGE)(request)
    compare("LTX-2.3 trained keyframe interpolation", ours, reference, request)
