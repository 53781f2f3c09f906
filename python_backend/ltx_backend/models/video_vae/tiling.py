"""Tiled VAE decoding and encoding (ltx-core's tiling): split the input into overlapping tiles along time,
height and width, run the model per tile and blend the tiles' outputs with per-axis weight masks.

Decoding: latent tiles overlap by `overlap` latents; each output tile is weighted by a trapezoid (linear
ramps across the overlap), and the output is sum(tile * mask) / sum(mask). Temporal tiles after the first
start one latent early (the causal first frame) and fade in from 0. Encoding: pixel tiles overlap by at
least 64 px / 16 frames and the latents are blended with 0/1 masks that drop the tiles' edge latents.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch

TIME_SCALE, SPACE_SCALE = 8, 32  # pixels (frames) per latent
MIN_ENCODE_OVERLAP_PIXELS, MIN_ENCODE_OVERLAP_FRAMES = 64, 16


@dataclass(frozen=True)
class SpatialTilingConfig:
    """Square tiles of `tile_size_in_pixels` (>= 64, multiple of 32) overlapping by a multiple of 32."""

    tile_size_in_pixels: int
    tile_overlap_in_pixels: int = 0

    def __post_init__(self) -> None:
        _check_tiling("tile_size_in_pixels", self.tile_size_in_pixels, "tile_overlap_in_pixels", self.tile_overlap_in_pixels, 64, 32)


@dataclass(frozen=True)
class TemporalTilingConfig:
    """Chunks of `tile_size_in_frames` (>= 16, multiple of 8) overlapping by a multiple of 8."""

    tile_size_in_frames: int
    tile_overlap_in_frames: int = 0

    def __post_init__(self) -> None:
        _check_tiling("tile_size_in_frames", self.tile_size_in_frames, "tile_overlap_in_frames", self.tile_overlap_in_frames, 16, 8)


def _check_tiling(size_name: str, size: int, overlap_name: str, overlap: int, minimum: int, multiple: int) -> None:
    if size < minimum or size % multiple:
        raise ValueError(f"invalid {size_name}={size}: expected a multiple of {multiple} that is at least {minimum}")
    if overlap % multiple or not 0 <= overlap < size:
        raise ValueError(f"invalid {overlap_name}={overlap}: expected a multiple of {multiple} below {size_name}={size}")


@dataclass(frozen=True)
class TilingConfig:
    """Which axes to tile; no config on an axis means one tile along it. Field names match ltx-core's."""

    spatial_config: SpatialTilingConfig | None = None
    temporal_config: TemporalTilingConfig | None = None

    @classmethod
    def default(cls) -> TilingConfig:
        """ltx-pipelines' default: 512 px tiles (64 px overlap), 64-frame chunks (24 frames overlap).
        Outputs up to 512 px on the long side and 64 frames decode as one tile."""
        return cls(SpatialTilingConfig(512, 64), TemporalTilingConfig(64, 24))


NO_TILING = TilingConfig()


# --- splitting one axis into overlapping intervals -------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """[start, stop) of one tile along one input axis, with the lengths of its blend ramps."""

    start: int
    stop: int
    left_ramp: int = 0
    right_ramp: int = 0


def split_overlapping(length: int, size: int, overlap: int) -> list[Interval]:
    """Tiles of `size` every `size - overlap`; the last one is stretched to the end."""
    if length <= size:
        return [Interval(0, length)]
    count = (length + size - 2 * overlap - 1) // (size - overlap)
    starts = [i * (size - overlap) for i in range(count)]
    stops = [start + size for start in starts[:-1]] + [length]
    return [
        Interval(start, stop, overlap if i > 0 else 0, overlap if i < count - 1 else 0)
        for i, (start, stop) in enumerate(zip(starts, stops))
    ]


def split_causal_latents(length: int, size: int, overlap: int) -> list[Interval]:
    """Temporal latent tiles: each later tile starts one latent earlier (its causal first frame) and
    ramps in over one more latent."""
    tiles = split_overlapping(length, size, overlap)
    if len(tiles) == 1:
        return tiles
    return tiles[:1] + [Interval(t.start - 1, t.stop, t.left_ramp + 1, t.right_ramp) for t in tiles[1:]]


def split_encoder_frames(length: int, size: int, overlap: int) -> list[Interval]:
    """Temporal pixel tiles for encoding: each tile but the last takes one more frame, and no right ramps."""
    tiles = split_overlapping(length, size, overlap)
    if len(tiles) == 1:
        return tiles
    last = tiles[-1]
    return [Interval(t.start, t.stop + 1, t.left_ramp, 0) for t in tiles[:-1]] + [Interval(last.start, last.stop, last.left_ramp, 0)]


# --- blend masks -----------------------------------------------------------------------------------------


def trapezoid_mask(length: int, left: int, right: int, left_from_zero: bool = False) -> torch.Tensor:
    """Ones with a linear fade-in over `left` and fade-out over `right` elements (ends excluded; with
    `left_from_zero` the fade-in starts at exactly 0)."""
    left, right = max(0, min(left, length)), max(0, min(right, length))
    mask = torch.ones(length)
    if left > 0:
        fade_in = torch.linspace(0.0, 1.0, left + 1 if left_from_zero else left + 2)[:-1]
        mask[:left] *= fade_in if left_from_zero else fade_in[1:]
    if right > 0:
        mask[-right:] *= torch.linspace(1.0, 0.0, right + 2)[1:-1]
    return mask.clamp_(0, 1)


def pulse_mask(length: int, left: int, right: int) -> torch.Tensor:
    """Ones with the first `left` and last `right` elements zeroed."""
    mask = torch.ones(length)
    if left > 0:
        mask[:left] = 0
    if right > 0:
        mask[-right:] = 0
    return mask


# --- tiles -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # compared by identity (tiles of one time slice share it)
class AxisTile:
    """One tile along one axis: where it is read from, where its output goes, and its output weights."""

    source: slice
    target: slice
    mask: torch.Tensor | None  # None: weight 1 along this axis


@dataclass(frozen=True)
class Tile:
    time: AxisTile
    height: AxisTile
    width: AxisTile

    def source(self) -> tuple[slice, ...]:
        return (slice(None), slice(None), self.time.source, self.height.source, self.width.source)

    def target(self) -> tuple[slice, ...]:
        return (slice(None), slice(None), self.time.target, self.height.target, self.width.target)

    def mask(self) -> torch.Tensor:
        """[1, 1, T, H, W] product of the per-axis masks (time, then height, then width)."""
        mask = torch.ones(1, 1, 1, 1, 1)
        for dim, axis in ((2, self.time), (3, self.height), (4, self.width)):
            if axis.mask is not None:
                shape = [1, 1, 1, 1, 1]
                shape[dim] = -1
                mask = mask * axis.mask.view(shape)
        return mask


def _whole(length: int) -> list[AxisTile]:
    return [AxisTile(slice(0, length), slice(0, None), None)]


def _tiles(time: list[AxisTile], height: list[AxisTile], width: list[AxisTile]) -> list[Tile]:
    """All combinations, time outermost (tiles sharing a time slice are consecutive)."""
    return [Tile(t, h, w) for t, h, w in itertools.product(time, height, width)]


def _map(intervals: list[Interval], to_output: Callable[[Interval], tuple[slice, torch.Tensor]]) -> list[AxisTile]:
    return [AxisTile(slice(i.start, i.stop), *to_output(i)) for i in intervals]


def _latent_to_frames(i: Interval) -> tuple[slice, torch.Tensor]:
    start, stop = i.start * TIME_SCALE, 1 + (i.stop - 1) * TIME_SCALE
    left = 0 if i.left_ramp == 0 else 1 + (i.left_ramp - 1) * TIME_SCALE
    return slice(start, stop), trapezoid_mask(stop - start, left, i.right_ramp * TIME_SCALE, left_from_zero=True)


def _latent_to_pixels(i: Interval) -> tuple[slice, torch.Tensor]:
    start, stop = i.start * SPACE_SCALE, i.stop * SPACE_SCALE
    return slice(start, stop), trapezoid_mask(stop - start, i.left_ramp * SPACE_SCALE, i.right_ramp * SPACE_SCALE)


def _frames_to_latent(i: Interval) -> tuple[slice, torch.Tensor]:
    start, stop = i.start // TIME_SCALE, (i.stop - 1) // TIME_SCALE + 1
    left = 0 if i.left_ramp == 0 else 1 + (i.left_ramp - 1) // TIME_SCALE
    return slice(start, stop), pulse_mask(stop - start, left, 0)


def _pixels_to_latent(i: Interval) -> tuple[slice, torch.Tensor]:
    start, stop = i.start // SPACE_SCALE, i.stop // SPACE_SCALE
    return slice(start, stop), pulse_mask(stop - start, max(0, i.left_ramp // SPACE_SCALE - 1), 0 if i.right_ramp == 0 else 1)


def decode_tiles(latent_shape: torch.Size | tuple[int, ...], tiling: TilingConfig) -> list[Tile]:
    """Tiles of a latent [B, C, F', H', W'] for decoding. Spatial tiles keep the latent's aspect ratio:
    the long side gets tiles of tile_size / 32 latents."""
    _, _, frames, height, width = latent_shape
    time, rows, cols = _whole(frames), _whole(height), _whole(width)
    if tiling.spatial_config is not None:
        size = tiling.spatial_config.tile_size_in_pixels // SPACE_SCALE
        overlap = tiling.spatial_config.tile_overlap_in_pixels // SPACE_SCALE
        long_side = max(height, width)

        def axis(length: int) -> list[AxisTile]:
            tile = max(max(2, overlap + 1), round(size * length / long_side))
            return _map(split_overlapping(length, tile, overlap), _latent_to_pixels)

        rows, cols = axis(height), axis(width)
    if tiling.temporal_config is not None:
        size = tiling.temporal_config.tile_size_in_frames // TIME_SCALE
        overlap = tiling.temporal_config.tile_overlap_in_frames // TIME_SCALE
        time = _map(split_causal_latents(frames, size, overlap), _latent_to_frames)
    return _tiles(time, rows, cols)


def encode_tiles(video_shape: torch.Size | tuple[int, ...], tiling: TilingConfig) -> list[Tile]:
    """Tiles of a video [B, 3, F, H, W] for encoding (overlaps raised to 64 px / 16 frames)."""
    _, _, frames, height, width = video_shape
    time, rows, cols = _whole(frames), _whole(height), _whole(width)
    if tiling.spatial_config is not None:
        size = tiling.spatial_config.tile_size_in_pixels
        overlap = max(tiling.spatial_config.tile_overlap_in_pixels, MIN_ENCODE_OVERLAP_PIXELS)
        rows = _map(split_overlapping(height, size, overlap), _pixels_to_latent)
        cols = _map(split_overlapping(width, size, overlap), _pixels_to_latent)
    if tiling.temporal_config is not None:
        size = tiling.temporal_config.tile_size_in_frames
        overlap = max(tiling.temporal_config.tile_overlap_in_frames, MIN_ENCODE_OVERLAP_FRAMES)
        time = _map(split_encoder_frames(frames, size, overlap), _frames_to_latent)
    return _tiles(time, rows, cols)


# --- running a model over tiles --------------------------------------------------------------------------


def tiled_decode(
    decode: Callable[[torch.Tensor], torch.Tensor], latent: torch.Tensor, tiling: TilingConfig
) -> Iterator[torch.Tensor]:
    """Decode tile by tile; yields finished frame chunks [B, 3, T, H, W] in order.

    `decode` maps a latent tile to its pixels (it is called once per tile, in tile order, so a generator
    it draws from advances as in ltx-core). Frames shared with the next temporal chunk are held back until
    that chunk's tiles have been added."""
    tiles = decode_tiles(latent.shape, tiling)
    b, _, frames, height, width = latent.shape
    out_h, out_w = height * SPACE_SCALE, width * SPACE_SCALE
    pending: tuple[int, torch.Tensor, torch.Tensor] | None = None  # (first frame, sum of tile * mask, sum of mask)
    for time, group in itertools.groupby(tiles, key=lambda tile: tile.time):
        length = time.target.stop - time.target.start
        values = latent.new_zeros(b, 3, length, out_h, out_w)
        weights = latent.new_zeros(1, 1, length, out_h, out_w)
        for tile in group:
            pixels = decode(latent[tile.source()])
            mask = tile.mask().to(values)
            region = (slice(None), slice(None), slice(0, length), tile.height.target, tile.width.target)
            values[region] += pixels * mask
            weights[region] += mask
        if pending is not None:
            start, previous, previous_weights = pending
            shared = slice(time.target.start - start, None)
            overlap = previous.shape[2] - shared.start
            if overlap > 0:
                values[:, :, :overlap] += previous[:, :, shared]
                weights[:, :, :overlap] += previous_weights[:, :, shared]
            done = time.target.start - start
            yield previous[:, :, :done] / previous_weights[:, :, :done].clamp(min=1e-8)
        pending = (time.target.start, values, weights)
    _, values, weights = pending
    yield values / weights.clamp(min=1e-8)


def tiled_encode(
    encode: Callable[[torch.Tensor], torch.Tensor], video: torch.Tensor, tiling: TilingConfig, latent_channels: int
) -> torch.Tensor:
    """Encode tile by tile and blend: video [B, 3, 8k+1, H, W] -> latent [B, C, k+1, H/32, W/32]."""
    b, _, frames, height, width = video.shape
    latent = video.new_zeros(b, latent_channels, (frames - 1) // TIME_SCALE + 1, height // SPACE_SCALE, width // SPACE_SCALE)
    weights = torch.zeros_like(latent)
    for tile in encode_tiles(video.shape, tiling):
        mask = tile.mask().to(latent)
        latent[tile.target()] += encode(video[tile.source()]) * mask
        weights[tile.target()] += mask
    return latent / weights.clamp(min=1e-8)
