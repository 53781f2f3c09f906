"""Image conditioning: preprocessing parity with ltx-pipelines, what the conditioning does to the latents,
the pixels it gives, and request validation of the image fields.

What tiny random weights can and cannot show: the transformer and VAE are untrained, so a keyframe token
does not pull the generated frames towards its image and the VAE does not reconstruct images. What is
exact regardless of training is shown here: at strength 1 the first latent frame of the result *is* the
encoded image (both stages), keyframe tokens carry the encoded image at their frame's position through
to the end, and a one-frame video decodes to the VAE's reconstruction of the image. Frame-for-frame
agreement with the reference's own conditioning is in tests/test_two_stage_parity.py; what conditioning
does to the pixels, on a tiny checkpoint trained for it, in tests/test_image_conditioning_trained.py.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ltx_backend.conditioning import h264_round_trip, image_pixels, load_conditioning_image, resize_and_center_crop
from ltx_backend.errors import InvalidRequest
from ltx_backend.latents.layout import VideoLatentLayout
from ltx_backend.latents.shapes import VideoPixelShape
from ltx_backend.pipelines.registry import TWO_STAGE
from ltx_backend.request import GenerationRequest
from ltx_backend.runtime.local_components import load_pipeline

CPU = torch.device("cpu")


def gradient_image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    image = np.stack([x * 255 // w, y * 255 // h, np.full_like(x, 40 + 50 * seed)], axis=-1)
    return np.clip(image + rng.integers(-25, 25, image.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image_files(tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("images")
    paths = []
    for i, (h, w) in enumerate([(150, 200), (90, 71), (64, 64)]):
        path = root / f"image{i}.png"
        Image.fromarray(gradient_image(h, w, i)).save(path)
        paths.append(str(path))
    return paths


# ---------------------------------------------------------------------------------------- preprocessing


@pytest.mark.parametrize("crf", [0, 33, 18])
@pytest.mark.parametrize("size", [(64, 96), (128, 64), (32, 32)])
def test_preprocessing_matches_reference(image_files, crf, size):
    from ltx_pipelines.utils.media_io import load_image_conditioning

    height, width = size
    for path in image_files:
        expected = load_image_conditioning(path, height, width, torch.float32, CPU, crf=crf)
        ours = image_pixels(load_conditioning_image(path, crf), height, width, torch.float32, CPU)
        assert ours.shape == expected.shape == (1, 3, 1, height, width)
        assert torch.equal(ours, expected)


def test_h264_round_trip_changes_the_image_like_a_codec():
    image = gradient_image(61, 80, 3)  # odd height: cropped to even sides
    out = h264_round_trip(image, 33)
    assert out.shape == (60, 80, 3) and out.dtype == np.uint8
    error = np.abs(out.astype(int) - image[:60].astype(int)).mean()
    assert 0 < error < 20  # lossy, but the same picture
    assert h264_round_trip(image, 0) is image


def test_resize_covers_then_crops_the_centre():
    image = np.zeros((100, 300, 3), dtype=np.uint8)
    image[:, 100:200] = 255  # a white centre third
    out = resize_and_center_crop(image, 64, 64)  # scale 0.64 -> 64 x 192, centre crop 64 x 64: all white
    assert out.shape == (1, 3, 1, 64, 64)
    assert out.min() > 250


# ---------------------------------------------------------------------------------------- pipelines


class Recording:
    """Components that record what the pipeline encoded, denoised and decoded."""

    def __init__(self, inner):
        self.inner = inner
        self.encoded: list[torch.Tensor] = []
        self.jobs = []
        self.denoised = []
        self.decoded: list[torch.Tensor] = []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_images(self, pixels):
        out = self.inner.encode_images(pixels)
        self.encoded.append(out)
        return out

    def denoise(self, job, on_step=None):
        self.jobs.append(job)
        out = self.inner.denoise(job, on_step)
        self.denoised.append(out)
        return out

    def decode_video(self, latent, generator):
        self.decoded.append(latent)
        return self.inner.decode_video(latent, generator)


def recorded(directory, pipeline_class_name="LTX2Pipeline"):
    pipeline = load_pipeline(str(directory), CPU, torch.float32, pipeline_class_name=pipeline_class_name)
    pipeline.components = Recording(pipeline.components)
    return pipeline


BASE = dict(prompt="A lighthouse on a cliff, waves crashing", seed=5, num_inference_steps=2)


def test_one_image_strength_one_fixes_the_first_latent_frame(tiny_checkpoints, image_files):
    """Two-stage, one image: both stages end with the first latent frame equal to the image encoded at that
    stage's size; an unconditioned run's first frame is far from it."""
    pipeline = recorded(tiny_checkpoints["2"], TWO_STAGE)
    settings = dict(BASE, width=128, height=128, num_frames=17, pipeline_class_name=TWO_STAGE)
    result = pipeline(GenerationRequest(**settings, image_paths=image_files[:1]).resolve("2"))
    rec = pipeline.components
    assert [tuple(e.shape) for e in rec.encoded] == [(1, 128, 1, 2, 2), (1, 128, 1, 4, 4)]  # stage 1, stage 2 sizes
    for stage, (video, _) in enumerate(rec.denoised):
        layout = VideoLatentLayout.for_pixels(VideoPixelShape(1, 17, 64 * (stage + 1), 64 * (stage + 1), 24.0))
        latent = layout.to_latent(video)
        assert torch.equal(latent[:, :, :1], rec.encoded[stage]), f"stage {stage + 1}"
        assert rec.jobs[stage].video.denoise_mask[:, : layout.shape.height * layout.shape.width].max() == 0.0
    assert torch.equal(rec.decoded[0][:, :, :1], rec.encoded[1])
    assert result.frames.shape == (17, 128, 128, 3)

    pipeline.components = Recording(pipeline.components.inner)
    pipeline(GenerationRequest(**settings).resolve("2"))
    unconditioned = pipeline.components.decoded[0][:, :, :1]
    assert (unconditioned - rec.encoded[1]).abs().mean() > 0.1


def test_one_image_one_frame_decodes_to_the_vae_reconstruction(tiny_checkpoints, image_files):
    """A one-frame video conditioned at strength 1 is the VAE's reconstruction of the image (the LTX-2.3 tiny
    decoder has no decode-time noise: exactly); an unconditioned run is far from it."""
    pipeline = recorded(tiny_checkpoints["2.3"])
    settings = dict(BASE, width=96, height=64, num_frames=1)
    conditioned = pipeline(GenerationRequest(**settings, image_paths=image_files[:1]).resolve("2.3")).frames
    unconditioned = pipeline(GenerationRequest(**settings).resolve("2.3")).frames
    c = pipeline.components
    pixels = image_pixels(load_conditioning_image(image_files[0]), 64, 96, torch.float32, CPU)
    reconstruction = c.inner.decode_video(c.inner.encode_images(pixels), torch.Generator().manual_seed(0))

    def mse(a, b):
        return float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())

    assert conditioned.shape == unconditioned.shape == (1, 64, 96, 3)
    assert mse(conditioned, reconstruction) == 0.0
    assert mse(unconditioned, reconstruction) > 1000.0


def test_two_images_first_frame_and_last_frame_keyframe(tiny_checkpoints, image_files):
    """Two images: the first replaces latent frame 0, the second is appended as keyframe tokens at the last
    pixel frame (time (num_frames - 1) / fps); both are still exactly their encoded images after denoising."""
    pipeline = recorded(tiny_checkpoints["2.3"])
    request = GenerationRequest(**BASE, width=96, height=64, num_frames=17, image_paths=image_files[:2]).resolve("2.3")
    assert request.image_frame_indices == (0, 16) and request.image_strengths == (1.0, 1.0)
    result = pipeline(request)
    rec = pipeline.components
    first, last = rec.encoded[0][:1], rec.encoded[0][1:]
    layout = VideoLatentLayout.for_pixels(VideoPixelShape(1, 17, 64, 96, 24.0))
    per_frame = 2 * 3
    video, _ = rec.denoised[0]
    assert video.latent.shape[1] == layout.token_count + per_frame
    keyframe = video.latent[:, layout.token_count :]
    assert torch.equal(keyframe, layout.patchify(last))
    assert torch.allclose(video.positions[0, 0, layout.token_count :, 0], torch.full((per_frame,), 16 / 24.0))
    assert torch.equal(layout.to_latent(video)[:, :, :1], first)
    assert result.frames.shape == (17, 64, 96, 3)


def test_any_frame_indices_and_strengths(tiny_checkpoints, image_files):
    """Three images at frames 0, 8, 12 with strengths 0.5, 1.0, 0.25: the frame-0 image's tokens start
    half-noised (mask 0.5), the others are keyframe tokens at their frames with masks 0 and 0.75."""
    pipeline = recorded(tiny_checkpoints["2"])
    request = GenerationRequest(
        **BASE, width=64, height=64, num_frames=17, image_paths=image_files, image_frame_indices=(0, 8, 12),
        image_strengths=(0.5, 1.0, 0.25),
    ).resolve("2")
    pipeline(request)
    rec = pipeline.components
    job = rec.jobs[0]
    layout = VideoLatentLayout.for_pixels(VideoPixelShape(1, 17, 64, 64, 24.0))
    n, per_frame = layout.token_count, 4
    mask = job.video.denoise_mask[0, :, 0]
    assert mask.shape[0] == n + 2 * per_frame
    assert torch.all(mask[:per_frame] == 0.5) and torch.all(mask[per_frame:n] == 1.0)
    assert torch.all(mask[n : n + per_frame] == 0.0) and torch.allclose(mask[n + per_frame :], torch.tensor(0.75))
    times = job.video.positions[0, 0, n:, 0]
    assert torch.allclose(times[:per_frame], torch.tensor(8 / 24.0)) and torch.allclose(times[per_frame:], torch.tensor(12 / 24.0))
    video, _ = rec.denoised[0]
    first = layout.to_latent(video)[:, :, :1]
    assert not torch.equal(first, rec.encoded[0][:1])  # strength 0.5: a starting point, not kept
    assert torch.equal(video.latent[:, n : n + per_frame], layout.patchify(rec.encoded[0][1:2]))  # strength 1 keyframe kept


def test_pipeline_class_mismatch_is_a_clear_error(tiny_checkpoints):
    pipeline = load_pipeline(str(tiny_checkpoints["2.3"]), CPU, torch.float32)
    request = GenerationRequest(prompt="a cat", pipeline_class_name="LTX2TwoStageHQPipeline", width=64, height=64, num_frames=1).resolve("2.3")
    with pytest.raises(InvalidRequest, match="invalid pipeline_class_name='LTX2TwoStageHQPipeline': this pipeline was loaded as LTX2Pipeline"):
        pipeline(request)
    with pytest.raises(ValueError, match="needs an LTX-2.3 checkpoint"):
        load_pipeline(str(tiny_checkpoints["2"]), CPU, torch.float32, pipeline_class_name="LTX2TwoStageHQPipeline")


# ---------------------------------------------------------------------------------------- request fields


def png_bytes(h=20, w=30) -> bytes:
    import io

    buffer = io.BytesIO()
    Image.fromarray(gradient_image(h, w, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_defaults(image_files):
    r = GenerationRequest(prompt="a", num_frames=25, image_paths=image_files[:2]).resolve("2")
    assert r.image_frame_indices == (0, 24) and r.image_strengths == (1.0, 1.0) and r.image_crf == 33 and r.image_mode == "combined"
    r = GenerationRequest(prompt="a", images=[png_bytes()]).resolve("2.3")
    assert r.image_frame_indices == (0,) and isinstance(r.images, tuple)
    r = GenerationRequest(prompt="a", pipeline_class_name=TWO_STAGE, image_paths=image_files, image_frame_indices=[3, 0, 120]).resolve("2")
    assert r.image_frame_indices == (3, 0, 120)


BAD_IMAGES = [
    ("image_paths", dict(image_paths=("/nonexistent/x.png",)), "an existing image file"),
    ("image_paths", dict(image_paths=(__file__,)), "a readable image"),
    ("images", dict(images=(b"not an image",)), "a readable image"),
    ("images", dict(images=(b"",)), "non-empty"),
    ("images", dict(images=("text",)), "non-empty encoded image bytes"),
    ("images", dict(images=(png_bytes(1, 30),)), "at least 2x2"),
    ("image_frame_indices", dict(n=3), "one frame index per image for more than two images"),
    ("image_frame_indices", dict(n=2, image_frame_indices=(0, 121)), "between 0 and 120"),
    ("image_frame_indices", dict(n=2, image_frame_indices=(0, -1)), "between 0 and 120"),
    ("image_frame_indices", dict(n=2, image_frame_indices=(0,)), "one frame index per image (2 images)"),
    ("image_frame_indices", dict(n=2, image_frame_indices=(4, 4)), "distinct"),
    ("image_frame_indices", dict(n=1, image_frame_indices=(1.5,)), "integer"),
    ("image_strengths", dict(n=1, image_strengths=(1.5,)), "between 0 and 1"),
    ("image_strengths", dict(n=2, image_strengths=(1.0,)), "one strength per image"),
    ("image_strengths", dict(n=1, image_strengths=(float("nan"),)), "a number"),
    ("image_crf", dict(n=1, image_crf=52), "between 0 and 51"),
    ("image_mode", dict(n=1, image_mode="replace"), "one of combined, keyframes"),
    ("images", dict(n=1, images=(b"x",)), "either image_paths or images"),
    ("image_paths", dict(n=17), "at most 16 images"),
    ("images", dict(images=(png_bytes(2, 4096),)), "aspect ratio is closer to the video's 768x512"),  # 6 GiB to resize
    ("images", dict(images=(png_bytes(16, 16400),)), "sides at most 16384 (with image_crf > 0)"),  # libx264's limit
    ("images", dict(images=(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n",)), "not an image format ltx-triton reads"),  # no Ghostscript
    ("image_paths", dict(image_paths=("/proc/self/mem",)), "a readable image file"),
]


@pytest.mark.parametrize("field,kwargs,allowed", BAD_IMAGES, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD_IMAGES)])
def test_bad_image_fields_name_the_field(image_files, field, kwargs, allowed):
    kwargs = dict(kwargs)
    n = kwargs.pop("n", 0)
    if n:
        kwargs["image_paths"] = tuple((image_files * 6)[:n])
    with pytest.raises(InvalidRequest) as info:
        GenerationRequest(prompt="a cat", num_frames=121, **kwargs).resolve("2")
    assert info.value.field == field
    assert str(info.value).startswith(f"invalid {field}=")
    assert allowed in str(info.value)
    assert " at 0x" not in str(info.value)  # no object reprs (PIL names its BytesIO)


def test_image_sizes_allowed_at_the_edges():
    """Bounds that are about memory and the codec, not about shapes: a square image on a 60:1 video; a side
    past libx264's 16384 without the H.264 round trip (image_crf 0)."""
    r = GenerationRequest(prompt="a", width=3840, height=64, num_frames=9, images=[png_bytes(512, 512)]).resolve("2")
    assert len(r.images) == 1
    wide = png_bytes(8, 16400)
    r = GenerationRequest(prompt="a", width=3840, height=32, num_frames=9, images=[wide], image_crf=0).resolve("2")
    assert r.image_crf == 0
    with pytest.raises(InvalidRequest, match="sides at most 16384"):
        GenerationRequest(prompt="a", width=3840, height=32, num_frames=9, images=[wide]).resolve("2")


def test_two_images_need_more_than_one_frame(image_files):
    with pytest.raises(InvalidRequest, match="at most one image for a one-frame video"):
        GenerationRequest(prompt="a", num_frames=1, image_paths=image_files[:2]).resolve("2")
