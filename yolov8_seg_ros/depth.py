# Copyright 2026 The yolov8_seg_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
3D from an aligned depth image: each instance's mask, its depth samples and a 3D box.

The depth image is registered to the colour image (same view, possibly another resolution by a
scale, e.g. 640x352 depth beside a 1280x704 left image) and rectified. Each detection's
full-resolution mask picks its depth pixels (never its box; a regular grid of them for large
objects), less those one depth pixel from the mask's edge (mixed depth at the object's border);
invalid samples (0, NaN, inf, outside the depth range) are dropped, and samples far from the
robust median (flying pixels, background seen through the mask's edge) are rejected.
The rest are back-projected with the rectified camera matrix (CameraInfo P, as image_geometry
and depth_image_proc do) and a plane is fitted to them (the object's dominant surface). The
box's extent in the image is the mask's own outline, every pixel of it, placed on that plane:
no grid step, erosion margin or trimming shrinks it, and the grid's phase cannot move it. Its
depth extent adds what the samples stand off the plane, less their noise. The box is either
axis-aligned or oriented along the plane (its normal and the image's vertical in it). Each
mask is read on its own; the depth samples' checks and bands, the outlines' row ends, and the
planes and boxes of a frame's detections are all computed together, in one set of array
operations. All in the depth image's optical frame (x right, y down, z forward, metres). No
rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Any, NamedTuple, Optional, Sequence, Union

import cv2
import numpy as np

from yolov8_seg_ros.decode import SegmentationResult
from yolov8_seg_ros.image_conversion import message_bytes

# sensor_msgs/Image depth encodings (REP 118): dtype and metres per unit.
DEPTH_ENCODINGS = {'16UC1': (np.dtype(np.uint16), 0.001), '32FC1': (np.dtype(np.float32), 1.0)}
DEPTH_RANGES = {'depth_min': (0.0, 100.0), 'depth_max': (0.01, 1000.0),
                'depth_min_points': (1, 1_000_000), 'depth_max_points': (10, 1_000_000),
                'depth_smoothing': (0.0, 10.0)}
# Distortion models whose zero coefficients mean a rectified image (sensor_msgs
# distortion_models; '' is what a camera info without calibration carries).
RECTIFIED_MODELS = ('', 'none', 'plumb_bob')
# Plausible pinhole intrinsics, in pixels, relative to the image's larger side: a field of
# view from about 0.6 to 176 degrees, the principal point within an image's size of the image,
# pixels at most 5:1.
_FOCAL_PER_SIDE = (0.035, 100.0)
_PIXEL_ASPECT = (0.2, 5.0)
# Depth beside colour: the two sizes' x and y scales may differ by this much (rounding, e.g.
# 1280x720 beside 640x352 is not the same view; 1280x704 beside 640x352 is).
_SCALE_TOLERANCE = 0.02
_MAD_TO_SIGMA = 1.4826
_BAND_SIGMAS = 3.0
_BAND_MIN_FRACTION = 0.02  # the band is at least this fraction of the median distance
_OUTLINE_PIXELS = 20_000  # about the most mask pixels read for an outline (all to 140x140)
_IDENTITY_XYZW = (0.0, 0.0, 0.0, 1.0)
_FRAME_AXES = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))


class DepthInputError(ValueError):
    """A depth image or camera info that cannot be used; the message says why."""


@dataclass(frozen=True)
class DepthImage:
    """A depth image as a view of its message's data, and the metres of one unit."""

    values: np.ndarray  # (H, W) uint16 (millimetres) or float32 (metres), may be strided
    metres_per_unit: float

    @property
    def size_wh(self) -> tuple[int, int]:
        """Width and height in pixels."""
        return int(self.values.shape[1]), int(self.values.shape[0])


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera matrix (pixels) and the image size it belongs to."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    @classmethod
    def from_camera_info(cls, k: Sequence[float], width: int, height: int,
                         p: Sequence[float] = ()) -> Intrinsics:
        """
        From CameraInfo P (row-major 3x4), or K (3x3) where P is absent or all zero.

        An aligned depth image is rectified: P is its camera matrix (image_geometry's
        PinholeCameraModel projects with it). Raises DepthInputError, naming the matrix and the
        values, for a matrix of the wrong length or with implausible intrinsics.
        """
        if int(width) <= 0 or int(height) <= 0:
            raise DepthInputError(f'camera info size {width}x{height}: expected the depth '
                                  'image size')
        projection = [float(v) for v in p]
        if projection and len(projection) != 12:
            raise DepthInputError(f'camera info P has {len(projection)} values, expected 12')
        if any(projection):
            name, fx, cx, fy, cy = ('P', projection[0], projection[2], projection[5],
                                    projection[6])
        else:
            values = [float(v) for v in k]
            if len(values) != 9:
                raise DepthInputError(f'camera info K has {len(values)} values, expected 9')
            name, fx, cx, fy, cy = 'K', values[0], values[2], values[4], values[5]
        width, height = int(width), int(height)
        problem = _implausible(fx, fy, cx, cy, width, height)
        if problem:
            raise DepthInputError(f'camera info {name}: focal length fx {fx:g}, fy {fy:g}, '
                                  f'centre ({cx:g}, {cy:g}) for {width}x{height}: {problem}')
        return cls(fx, fy, cx, cy, width, height)


def _implausible(fx: float, fy: float, cx: float, cy: float, width: int,
                 height: int) -> Optional[str]:
    """Return why these pinhole intrinsics cannot be a camera's, or None."""
    if not all(math.isfinite(v) for v in (fx, fy, cx, cy)):
        return 'expected finite values'
    side = max(width, height)
    low, high = _FOCAL_PER_SIDE[0] * side, _FOCAL_PER_SIDE[1] * side
    if not (low <= fx <= high and low <= fy <= high):
        return f'expected focal lengths of {low:.4g}..{high:.4g} pixels'
    if not _PIXEL_ASPECT[0] <= fx / fy <= _PIXEL_ASPECT[1]:
        return f'expected fx / fy within {_PIXEL_ASPECT[0]:g}..{_PIXEL_ASPECT[1]:g}'
    if not (-width <= cx <= 2 * width and -height <= cy <= 2 * height):
        return f'expected the centre within {-width}..{2 * width}, {-height}..{2 * height}'
    return None


def camera_intrinsics(info_msg: Any) -> Intrinsics:
    """sensor_msgs/CameraInfo -> Intrinsics (from P, else K); see Intrinsics.from_camera_info."""
    return Intrinsics.from_camera_info(info_msg.k, info_msg.width, info_msg.height, info_msg.p)


@dataclass(frozen=True)
class Depth3DConfig:
    """Per-frame settings of the 3D step (all changeable between frames)."""

    min_m: float = 0.1  # nearer samples are invalid (and 0, missing depth, always is)
    max_m: float = 20.0  # farther samples are invalid
    min_points: int = 30  # fewer valid samples: no 3D detection for the instance
    max_points: int = 1000  # most samples read per instance (a regular grid when more)
    oriented: bool = True  # boxes along the object's plane; False: axis-aligned in the frame
    smoothing_s: float = 0.5  # Track3DSmoother's time scale (smoothing.py); 0: off

    def __post_init__(self) -> None:
        for name, value in (('depth_min', self.min_m), ('depth_max', self.max_m),
                            ('depth_min_points', self.min_points),
                            ('depth_max_points', self.max_points),
                            ('depth_smoothing', self.smoothing_s)):
            low, high = DEPTH_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f'{name} {value}: expected {low}..{high}')
        if self.min_m >= self.max_m:
            raise ValueError(f'depth_min {self.min_m} must be below depth_max {self.max_m}')
        if self.min_points > self.max_points:
            raise ValueError(f'depth_min_points {self.min_points} must be at most '
                             f'depth_max_points {self.max_points} (no object could have enough '
                             'samples)')


@dataclass(frozen=True)
class Object3D:
    """
    One detection's place in 3D, in the depth image's optical frame (metres).

    The box is centre_xyz, turned by orientation_xyzw (a unit quaternion, x y z w; the identity
    for an axis-aligned box), with size_xyz along its own axes.
    """

    index: int  # the detection's index in the 2D result (and message)
    center_xyz: np.ndarray  # (3,) float64
    size_xyz: np.ndarray  # (3,) float64
    points_xyz: np.ndarray  # (N, 3) float32 (a column-major view): the samples kept
    orientation_xyzw: np.ndarray = field(
        default_factory=lambda: np.array(_IDENTITY_XYZW))  # (4,) float64


def depth_from_image(msg: Any, max_pixels: int) -> DepthImage:
    """
    sensor_msgs/Image 16UC1 (mm) or 32FC1 (m) -> DepthImage view of msg.data (never copied).

    Raises DepthInputError naming what is wrong: encoding, size, step or data length.
    """
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise DepthInputError(f'depth encoding {encoding[:64]!r}: expected one of '
                              f'{tuple(DEPTH_ENCODINGS)}')
    width, height, step = int(msg.width), int(msg.height), int(msg.step)
    if width <= 0 or height <= 0:
        raise DepthInputError(f'{encoding} depth image {width}x{height}: empty image')
    if width * height > max_pixels:
        raise DepthInputError(f'{encoding} depth image {width}x{height}: more than '
                              f'max_image_pixels {max_pixels}')
    dtype, metres = DEPTH_ENCODINGS[encoding]
    row_bytes = width * dtype.itemsize
    if step < row_bytes:
        raise DepthInputError(f'{encoding} depth image {width}x{height}: step {step} is '
                              f'smaller than one row ({row_bytes} bytes)')
    data = message_bytes(msg.data)
    if data.size != step * height:
        raise DepthInputError(f'{encoding} depth image {width}x{height} step {step}: data has '
                              f'{data.size} bytes, expected {step * height}')
    if msg.is_bigendian:
        dtype = dtype.newbyteorder('>')
    values = np.ndarray((height, width), dtype, buffer=data, strides=(step, dtype.itemsize))
    return DepthImage(values, metres)


def depth_scale(color_wh: tuple[int, int], depth: DepthImage,
                intrinsics: Intrinsics) -> tuple[float, float]:
    """
    Return depth pixels per colour pixel (x, y) for a depth image registered to the colour one.

    Raises DepthInputError when the camera info is not the depth image's, or the depth image is
    not a scaled view of the colour image (another aspect ratio).
    """
    depth_wh = depth.size_wh
    if (intrinsics.width, intrinsics.height) != depth_wh:
        raise DepthInputError(f'camera info size {intrinsics.width}x{intrinsics.height} does '
                              f'not match the depth image {depth_wh[0]}x{depth_wh[1]}')
    sx, sy = depth_wh[0] / color_wh[0], depth_wh[1] / color_wh[1]
    if abs(sx - sy) > _SCALE_TOLERANCE * max(sx, sy):
        raise DepthInputError(f'depth image {depth_wh[0]}x{depth_wh[1]} is not a scaled view of '
                              f'the colour image {color_wh[0]}x{color_wh[1]} (x scale {sx:.3f}, '
                              f'y scale {sy:.3f}): register the depth to the colour camera')
    return sx, sy


def localize(result: SegmentationResult, depth: DepthImage, intrinsics: Intrinsics,
             config: Depth3DConfig) -> list[Object3D]:
    """
    Place each masked detection in 3D; detections with too few valid samples are left out.

    The result's masks are at the colour image's size (result.image_wh); raises DepthInputError
    for a depth image or camera info that cannot be this view (see depth_scale).
    """
    return localize_explained(result, depth, intrinsics, config)[0]


def localize_explained(result: SegmentationResult, depth: DepthImage, intrinsics: Intrinsics,
                       config: Depth3DConfig) -> tuple[list[Object3D], dict[int, str]]:
    """Return localize's objects, and why each other detection has none (index -> reason)."""
    scale_xy = depth_scale(result.image_wh, depth, intrinsics)
    grids, missing = [], {}
    for index, instance in enumerate(result.masks):
        gridded = _grid(index, instance.x0, instance.y0, instance.mask, depth, scale_xy, config)
        if isinstance(gridded, str):
            missing[index] = gridded
        else:
            grids.append(gridded)
    kept = _keep(grids, depth, scale_xy, config, missing) if grids else None
    objects = (_boxes(kept, scale_xy, intrinsics, config.oriented, missing) if kept is not None
               else [])
    return objects, missing


def _axis_samples(start: int, length: int, scale: float, limit: int,
                  step: int) -> tuple[np.ndarray, Any]:
    """
    Return depth pixel indices over colour pixels [start, start + length), every step-th.

    Also returns the colour indices (relative to start) their centres fall on: a slice when
    evenly spaced (depth at the colour size or a whole fraction of it), else an index array.
    """
    first, count, colour = _axis_grid(start, length, scale, limit, step)
    return np.arange(first, first + count * step, step), colour


def _axis_grid(start: int, length: int, scale: float, limit: int,
               step: int) -> tuple[int, int, Any]:
    """
    Return _axis_samples's depth pixels as the first and the count (step apart), and colour.

    The colour indices as _axis_samples's; no array is made where they are a slice.
    """
    first = max(int(math.floor(start * scale)), 0)
    last = min(int(math.ceil((start + length) * scale)), limit)
    available = len(range(first, last, step))
    colour_step = step / scale
    if abs(colour_step - round(colour_step)) < 1e-6 and available:
        colour_step = int(round(colour_step))
        colour_first = int(math.floor((first + 0.5) / scale)) - start
        # The samples whose colour index falls in [0, length).
        skip = max(0, -(colour_first // colour_step))
        count = max(min(available, (length - 1 - colour_first) // colour_step + 1) - skip, 0)
        colour_first += skip * colour_step
        return (first + skip * step, count,
                slice(colour_first, colour_first + count * colour_step, colour_step))
    depth_index = np.arange(first, last, step)
    colour_index = np.floor((depth_index + 0.5) / scale).astype(np.int64) - start
    # The colour index grows with the depth index: those in [0, length) are one run.
    inside = np.flatnonzero((colour_index >= 0) & (colour_index < length))
    if inside.size == 0:
        return first, 0, colour_index[:0]
    low, high = int(inside[0]), int(inside[-1]) + 1
    return first + low * step, high - low, colour_index[low:high]


class _OutlineRows(NamedTuple):
    """Where a detection's outline is read: some rows of its mask, over a run of columns."""

    mask: np.ndarray  # uint8 (the detection's mask, or the part of it the outline may use)
    rows: Any  # the rows read: a slice or an index array
    columns: slice  # the columns (step 1)
    read: np.ndarray  # (R,) int64: the rows read, from the outline's first row
    u_shift: float  # depth u of column j of the run: j * sx + u_shift
    v_shift: float  # depth v of read row i: i * sy + v_shift


class _Grid(NamedTuple):
    """One detection's sample grid: which grid samples its mask keeps, and their depth."""

    index: int
    x0: int
    y0: int
    mask: np.ndarray
    u_first: int  # the depth pixel of grid row 0, column 0; the grid's pitch is step
    v_first: int
    step: int
    chosen: np.ndarray  # (rows, columns) bool: the samples inside the mask, less its border
    z: np.ndarray  # (rows, columns) float32 depth, in the image's units


class _Kept(NamedTuple):
    """The kept depth samples and the outlines of every detection with enough of them."""

    indices: list[int]  # the detections' indices in the 2D result
    sizes: np.ndarray  # (K,) int64: each detection's samples, one after the other
    z: np.ndarray  # (N,) float32 metres
    u: np.ndarray  # (N,) int64 depth pixel columns
    v: np.ndarray  # (N,) int64 depth pixel rows
    grid_rows: np.ndarray  # (N,) int64: the samples' places on their grids
    grid_columns: np.ndarray
    bands: list[float]  # metres: how far from its median depth a detection's samples were kept
    outlines: list[_OutlineRows]


def _grid(index: int, x0: int, y0: int, mask: np.ndarray, depth: DepthImage,
          scale_xy: tuple[float, float], config: Depth3DConfig) -> Union[_Grid, str]:
    """Return the detection's sample grid, or why it has none (for the log)."""
    height, width = mask.shape
    if height == 0 or width == 0:
        return 'its mask is empty'
    # Read the mask on the depth pixels of its box, every step-th so that at most max_points
    # are read.
    covered = height * width * scale_xy[0] * scale_xy[1]  # depth pixels under the box
    step = max(1, int(math.ceil(math.sqrt(covered / config.max_points))))
    u_first, columns, mask_x = _axis_grid(x0, width, scale_xy[0], depth.size_wh[0], step)
    v_first, rows, mask_y = _axis_grid(y0, height, scale_xy[1], depth.size_wh[1], step)
    if columns == 0 or rows == 0:
        return (f'its mask covers no pixel centre of the {depth.size_wh[0]}x{depth.size_wh[1]} '
                'depth image (a depth image too small for the object)')
    # Mixed depth at the border: keep the samples whose neighbours one depth pixel away (at
    # least one colour pixel) are inside the mask too, unless too few are left.
    reach = max(1, int(math.ceil(1.0 / min(scale_xy))))
    sampled, inner = _inner_samples(mask, mask_y, mask_x, reach)
    chosen = inner if np.count_nonzero(inner) >= config.min_points else sampled
    # The depth pixels of the grid: evenly spaced, so a strided view of the image.
    z = depth.values[v_first:v_first + (rows - 1) * step + 1:step,
                     u_first:u_first + (columns - 1) * step + 1:step].astype(np.float32)
    return _Grid(index, x0, y0, mask, u_first, v_first, step, chosen, z)


def _keep(grids: Sequence[_Grid], depth: DepthImage, scale_xy: tuple[float, float],
          config: Depth3DConfig, missing: dict[int, str]) -> Optional[_Kept]:
    """
    Return the depth samples kept of all the grids, in one set of arrays, and the outlines.

    Per detection: the valid samples, those within the robust band around their median, and
    the mask's outline near them; a detection without enough goes to missing (with why).
    None when no detection is left.
    """
    sizes = [grid.z.size for grid in grids]
    starts = np.zeros(len(grids), np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    z = np.concatenate([grid.z.ravel() for grid in grids])
    if depth.metres_per_unit != 1.0:
        z *= np.float32(depth.metres_per_unit)
    chosen = np.concatenate([grid.chosen.ravel() for grid in grids])
    # 0 is missing depth whatever depth_min says; NaN and inf fail both comparisons.
    if config.min_m > 0.0:
        valid = chosen & (z >= np.float32(config.min_m))
    else:
        valid = chosen & (z > 0.0)
    valid &= z <= np.float32(config.max_m)
    counts = np.add.reduceat(valid, starts, dtype=np.int64).tolist()
    # Each detection's median depth, and the spread of its valid samples about it.
    valid_z = z[valid]
    ends = np.cumsum(counts).tolist()
    medians = np.zeros(len(grids), np.float32)
    for k, grid in enumerate(grids):
        if counts[k] < config.min_points:
            missing[grid.index] = _too_few_reason(int(np.count_nonzero(grid.chosen)), counts[k],
                                                  grid.step, depth, config)
        else:
            medians[k] = _median(valid_z[ends[k] - counts[k]:ends[k]])
    deviation = np.abs(valid_z - np.repeat(medians, counts))
    bands = np.full(len(grids), -1.0, np.float32)  # -1: no sample is near
    band_m = [0.0] * len(grids)
    for k, (count, end) in enumerate(zip(counts, ends)):
        if count >= config.min_points:
            spread = _median(deviation[end - count:end]) * _MAD_TO_SIGMA
            band_m[k] = max(_BAND_SIGMAS * spread, _BAND_MIN_FRACTION * float(medians[k]))
            bands[k] = band_m[k]
    near = valid & (np.abs(z - np.repeat(medians, sizes)) <= np.repeat(bands, sizes))
    near_counts = np.add.reduceat(near, starts, dtype=np.int64).tolist()
    # The outline is held near the samples that may be the object's: kept ones and those
    # without depth (a hole over a corner keeps the corner), not those on another surface.
    support = near | (chosen & ~valid)
    kept, outlines = [], []
    for k, grid in enumerate(grids):
        if counts[k] < config.min_points:
            continue
        start, stop = int(starts[k]), int(starts[k]) + sizes[k]
        outline = None
        if near_counts[k] < config.min_points:
            missing[grid.index] = (
                f'{near_counts[k]} of its {counts[k]} valid depth samples lie within '
                f'{band_m[k]:.3g} m of their median {float(medians[k]):.3g} m, fewer than '
                f'depth_min_points {config.min_points} (no one surface under the mask)')
        else:
            left, top, across, down = cv2.boundingRect(
                support[start:stop].reshape(grid.z.shape).view(np.uint8))
            step = grid.step
            window = (grid.u_first + left * step, grid.u_first + (left + across - 1) * step,
                      grid.v_first + top * step, grid.v_first + (top + down - 1) * step)
            outline = _outline(grid.mask, grid.x0, grid.y0, scale_xy, window, step)
            if outline is None:
                missing[grid.index] = 'its mask has no pixel near its depth samples'
        if outline is None:
            near[start:stop] = False
        else:
            kept.append(k)
            outlines.append(outline)
    if not kept:
        return None
    # The kept samples' places on their grids, and their depth pixels.
    table = np.array([(starts[k], grids[k].z.shape[1], grids[k].step, grids[k].u_first,
                       grids[k].v_first) for k in kept], np.int64).T
    kept_sizes = np.array([near_counts[k] for k in kept], np.int64)
    table = np.repeat(table, kept_sizes, axis=1)
    rows, columns = np.divmod(np.flatnonzero(near) - table[0], table[1])
    u = columns * table[2]
    u += table[3]
    v = rows * table[2]
    v += table[4]
    return _Kept([grids[k].index for k in kept], kept_sizes, z[near], u, v, rows, columns,
                 [band_m[k] for k in kept], outlines)


def _too_few_reason(chosen: int, valid: int, step: int, depth: DepthImage,
                    config: Depth3DConfig) -> str:
    """Say why an object has fewer than min_points valid samples: its size, or its depth."""
    if step == 1 and chosen < config.min_points:
        return (f'its mask covers {chosen} pixels of the {depth.size_wh[0]}x'
                f'{depth.size_wh[1]} depth image, fewer than depth_min_points '
                f'{config.min_points} (a depth image too small for the object)')
    return (f'{valid} of its {chosen} depth samples are valid (> 0, finite, '
            f'{config.min_m:g}..{config.max_m:g} m), fewer than depth_min_points '
            f'{config.min_points}')


def _outline(mask: np.ndarray, x0: int, y0: int, scale_xy: tuple[float, float],
             window: tuple[int, int, int, int], step: int) -> Optional[_OutlineRows]:
    """
    Return where the mask's outline is read (its rows' end pixels; see _outline_ends).

    Every convex hull vertex of the mask is the first or last pixel of its row, so the extent
    of the mask's pixels placed on any plane, in any direction, is the extent of these. Rows
    and columns farther than two grid steps and two pixels from window (the supported depth
    pixels: u from, to, v from, to) are left out: a mask spilling onto another surface does
    not stretch the box. None if no pixel is left.
    """
    sx, sy = scale_xy
    height, width = mask.shape
    margin_x, margin_y = (2 * step + 1) / sx + 2, (2 * step + 1) / sy + 2
    column_low = max(0, int(math.floor((window[0] + 0.5) / sx - 0.5 - x0 - margin_x)))
    column_high = min(width, int(math.ceil((window[1] + 0.5) / sx - 0.5 - x0 + margin_x)) + 1)
    row_low = max(0, int(math.floor((window[2] + 0.5) / sy - 0.5 - y0 - margin_y)))
    row_high = min(height, int(math.ceil((window[3] + 0.5) / sy - 0.5 - y0 + margin_y)) + 1)
    if column_low >= column_high or row_low >= row_high:
        return None
    window_mask = mask[row_low:row_high, column_low:column_high]
    if window_mask.strides[1] != 1:
        window_mask = np.ascontiguousarray(window_mask)
    left, top, across, down = cv2.boundingRect(window_mask)
    if across == 0:
        return None
    # A large mask's outline is read on every stride-th row (all its columns), its last row,
    # and the first rows of its first and last columns: the box's edges in the image are
    # exact, a corner between them may fall short by up to stride - 1 rows.
    stride = max(1, int(math.ceil(across * down / _OUTLINE_PIXELS)))
    if stride == 1:
        read = np.arange(down)
        rows = slice(top, top + down)
    else:
        count = -(-down // stride)
        read = np.arange(0, (count + 3) * stride, stride)
        read[count:] = (down - 1, window_mask[top:top + down, left].argmax(),
                        window_mask[top:top + down, left + across - 1].argmax())
        rows = read + top
    # Outline pixel (i, j) -> colour pixel (y0 + row_low + top + i, x0 + column_low + left + j)
    # -> depth pixel ((colour + 0.5) scale - 0.5).
    return _OutlineRows(window_mask, rows, slice(left, left + across), read,
                        (x0 + column_low + left + 0.5) * sx - 0.5,
                        (y0 + row_low + top + 0.5) * sy - 0.5)


def _outline_ends(outlines: Sequence[_OutlineRows]) -> tuple[np.ndarray, ...]:
    """
    Return the first and last set column of every outline row that has one, and its row.

    Also each such row's outline (its index in outlines). All the outlines' rows are read
    into one array, left-aligned, which is searched forward and, mirrored, backward (argmax
    runs fast over contiguous rows only).
    """
    sizes = [outline.read.size for outline in outlines]
    width = max(outline.columns.stop - outline.columns.start for outline in outlines)
    forward = np.zeros((sum(sizes), width), np.uint8)
    start = 0
    for outline, size in zip(outlines, sizes):
        low, high = outline.columns.start, outline.columns.stop
        forward[start:start + size, :high - low] = outline.mask[outline.rows, low:high]
        start += size
    inside = forward.view(bool)
    first = inside.argmax(axis=1)
    # The zeros right of a short row come first in its mirror, and are counted back off.
    last = width - 1 - cv2.flip(forward, 1).view(bool).argmax(axis=1)
    owner = np.repeat(np.arange(len(outlines)), sizes)
    read = np.concatenate([outline.read for outline in outlines])
    # An empty row's first set column is 0 too, but column 0 is not set (a hollow in a mask).
    empty = (first == 0) & ~inside[:, 0]
    if empty.any():
        kept = ~empty
        return first[kept], last[kept], read[kept], owner[kept]
    return first, last, read, owner


def _boxes(kept: _Kept, scale_xy: tuple[float, float], intrinsics: Intrinsics, oriented: bool,
           missing: dict[int, str]) -> list[Object3D]:
    """
    Fit every detection's plane and box in one pass over all their samples and outlines.

    Per detection: the plane of its samples (least squares on 1/z, linear in the pixel on any
    plane in 3D); its outline placed on that plane gives the box's extent along the box's
    axes; the depth extent adds the samples' standoff from the plane, less the depth noise (a
    flat object is flat). A detection whose box is not finite goes to missing instead.
    """
    fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    count = len(kept.indices)
    sizes = kept.sizes
    starts = np.zeros(count, np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    owner = np.repeat(np.arange(count), sizes)
    z, u, v, rows, columns = kept.z, kept.u, kept.v, kept.grid_rows, kept.grid_columns
    # The published points: rows x, y, z (float32), each axis contiguous.
    xyz = np.empty((3, z.size), np.float32)
    xyz[2] = z
    np.multiply(u - cx, z / fx, out=xyz[0])
    np.multiply(v - cy, z / fy, out=xyz[1])
    # The planes, over centred pixels; a tiny ridge on the slopes keeps one row or one column
    # of samples solvable (flat along the other axis).
    u0 = np.add.reduceat(u, starts) / sizes
    v0 = np.add.reduceat(v, starts) / sizes
    # (np.repeat of a per-detection value is a faster gather than indexing it with owner.)
    du, dv = u - np.repeat(u0, sizes), v - np.repeat(v0, sizes)
    inverse = np.divide(1.0, z, dtype=np.float64)
    mean = np.add.reduceat(inverse, starts) / sizes
    mean_each = np.repeat(mean, sizes)
    inverse -= mean_each
    products = np.empty((5, z.size))
    for row, (left, right) in enumerate(((du, du), (dv, dv), (du, dv), (du, inverse),
                                         (dv, inverse))):
        np.multiply(left, right, out=products[row])
    suu, svv, suv, su, sv = np.add.reduceat(products, starts, axis=1)
    suu += 1e-6 * sizes
    svv += 1e-6 * sizes
    determinant = suu * svv - suv * suv
    slope_u = (su * svv - sv * suv) / determinant
    slope_v = (sv * suu - su * suv) / determinant
    # Each sample's standoff from its plane (metres along z), and the standoff's spread
    # less the noise's: the noise from horizontal neighbours, whose difference is two samples'.
    standoff = du * np.repeat(slope_u, sizes)
    standoff += dv * np.repeat(slope_v, sizes)
    standoff += mean_each
    np.divide(1.0, standoff, out=standoff)
    np.subtract(z, standoff, out=standoff)
    middle = np.add.reduceat(standoff, starts) / sizes
    spread = np.add.reduceat(standoff * standoff, starts) / sizes - middle * middle
    neighbours = (np.diff(columns) == 1) & (np.diff(rows) == 0)
    neighbours[starts[1:] - 1] = False  # the last of one detection and the first of the next
    steps = np.diff(standoff)[neighbours]
    steps *= steps
    pair_owner = owner[1:][neighbours]
    noise = np.bincount(pair_owner, steps, count) / np.maximum(
        2 * np.bincount(pair_owner, minlength=count), 1)
    # An even spread of half-width h has variance h^2 / 3.
    half = np.sqrt(3.0 * np.maximum(spread - noise, 0.0))
    # The outlines on the planes: each row's first and last pixel.
    first, last, read, end_owner = _outline_ends(kept.outlines)
    end_starts = np.zeros(count, np.int64)
    np.cumsum(np.bincount(end_owner, minlength=count)[:-1], out=end_starts[1:])
    shifts = np.array([(outline.u_shift, outline.v_shift) for outline in kept.outlines])[end_owner]
    end_u = np.concatenate([first * scale_xy[0] + shifts[:, 0],
                            last * scale_xy[0] + shifts[:, 0]])
    end_v = read * scale_xy[1] + shifts[:, 1]
    end_v = np.concatenate([end_v, end_v])
    end_owner = np.concatenate([end_owner, end_owner])
    end_inverse = (mean - slope_u * u0 - slope_v * v0)[end_owner]
    end_inverse += slope_u[end_owner] * end_u
    end_inverse += slope_v[end_owner] * end_v
    # Where a plane runs far past its samples' depths (seen at a grazing angle), the outline
    # is held to them.
    z_min = np.minimum.reduceat(z, starts).astype(np.float64)
    z_max = np.maximum.reduceat(z, starts).astype(np.float64)
    pad = 0.5 * (z_max - z_min) + np.array(kept.bands)
    np.clip(end_inverse, (1.0 / (z_max + pad))[end_owner],
            (1.0 / np.maximum(z_min - pad, 0.5 * z_min))[end_owner], out=end_inverse)
    points = np.empty((3, end_u.size))
    np.divide(1.0, end_inverse, out=points[2])
    np.multiply(end_u - cx, points[2] / fx, out=points[0])
    np.multiply(end_v - cy, points[2] / fy, out=points[1])
    # The box axes: the plane's (its normal, from 1/z = a + b u + c v:
    # (b fx, c fy, a + b cx + c cy)), or the frame's.
    normals = np.stack([slope_u * fx, slope_v * fy,
                        mean - slope_u * (u0 - cx) - slope_v * (v0 - cy)], axis=1).tolist()
    axes = [_plane_axes(normal) for normal in normals] if oriented else [_FRAME_AXES] * count
    if oriented:  # each end along its box's axes
        points = np.einsum('kij,jk->ik', np.array(axes)[end_owner], points)
    # Each row's two ends, then each detection's rows.
    ends = points.shape[1] // 2
    low = np.minimum.reduceat(np.minimum(points[:, :ends], points[:, ends:]), end_starts,
                              axis=1).T.tolist()
    high = np.maximum.reduceat(np.maximum(points[:, :ends], points[:, ends:]), end_starts,
                               axis=1).T.tolist()
    # A sample stands off the plane along its ray: the ray at the plane's middle, with z 1.
    rays = np.stack([(u0 - cx) / fx, (v0 - cy) / fy], axis=1).tolist()
    middle, half = middle.tolist(), half.tolist()
    boxes = []  # per detection: centre, size, quaternion (10 numbers)
    for k in range(count):
        (xx, xy, xz), (yx, yy, yz), (nx, ny, nz) = axes[k]
        along_ray = nx * rays[k][0] + ny * rays[k][1] + nz
        (lx, ly, lz), (hx, hy, hz) = low[k], high[k]
        lz += (middle[k] - half[k]) * along_ray
        hz += (middle[k] + half[k]) * along_ray
        # The box's centre, back from its axes to the frame's.
        bx, by, bz = (lx + hx) / 2.0, (ly + hy) / 2.0, (lz + hz) / 2.0
        boxes.append((xx * bx + yx * by + nx * bz, xy * bx + yy * by + ny * bz,
                      xz * bx + yz * by + nz * bz, hx - lx, hy - ly, hz - lz,
                      *(_quaternion_xyzw(axes[k]) if oriented else _IDENTITY_XYZW)))
    boxes = np.array(boxes)
    finite = np.isfinite(boxes).all(axis=1).tolist()
    objects = []
    for k, index in enumerate(kept.indices):
        if not finite[k]:
            missing[index] = 'its box came out non-finite'
            continue
        objects.append(Object3D(index, boxes[k, 0:3], boxes[k, 3:6],
                                xyz[:, starts[k]:starts[k] + sizes[k]].T, boxes[k, 6:10]))
    return objects


def _plane_axes(normal: Sequence[float]) -> tuple[tuple[float, float, float], ...]:
    """
    Return the box axes of a plane with this normal: x, y in it, z along the normal.

    z points away from the camera; y is the image's down direction within the plane (a sign
    stays upright), or, for a plane seen nearly edge-on from above or below (a floor, a table
    top), x is the image's right direction within it. Right-handed, unit length.
    """
    nx, ny, nz = normal
    length = math.sqrt(nx * nx + ny * ny + nz * nz)
    if nz < 0.0:
        length = -length
    nx, ny, nz = nx / length, ny / length, nz / length
    # The image's down (0, 1, 0) less its part along the normal.
    dx, dy, dz = -ny * nx, 1.0 - ny * ny, -ny * nz
    length = math.sqrt(dx * dx + dy * dy + dz * dz)
    if length >= 0.2:
        yx, yy, yz = dx / length, dy / length, dz / length
        x_axis = (yy * nz - yz * ny, yz * nx - yx * nz, yx * ny - yy * nx)  # y cross n
        return x_axis, (yx, yy, yz), (nx, ny, nz)
    rx, ry, rz = 1.0 - nx * nx, -nx * ny, -nx * nz
    length = math.sqrt(rx * rx + ry * ry + rz * rz)
    xx, xy, xz = rx / length, ry / length, rz / length
    y_axis = (ny * xz - nz * xy, nz * xx - nx * xz, nx * xy - ny * xx)  # n cross x
    return (xx, xy, xz), y_axis, (nx, ny, nz)


def _quaternion_xyzw(axes: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """
    Return the unit quaternion (x, y, z, w) of the rotation whose columns are axes.

    Each component from the diagonal, its sign from the off-diagonal (w >= 0).
    """
    (m00, m10, m20), (m01, m11, m21), (m02, m12, m22) = axes
    q = (math.copysign(math.sqrt(max(1.0 + m00 - m11 - m22, 0.0)), m21 - m12),
         math.copysign(math.sqrt(max(1.0 - m00 + m11 - m22, 0.0)), m02 - m20),
         math.copysign(math.sqrt(max(1.0 - m00 - m11 + m22, 0.0)), m10 - m01),
         math.sqrt(max(1.0 + m00 + m11 + m22, 0.0)))
    length = math.sqrt(sum(value * value for value in q))
    return tuple(value / length for value in q)


def _inner_samples(mask: np.ndarray, rows: Any, columns: Any,
                   reach: int) -> tuple[np.ndarray, np.ndarray]:
    """
    Return the 0/1 mask at rows x columns, and where its neighbours reach away are set too.

    rows and columns are a slice or an index array each (see _axis_samples); neighbours
    outside the mask count as unset.
    """
    sampled = _take(mask, rows, columns)
    inner = np.zeros(sampled.shape, bool)
    row_low, row_high, row_shifts = _neighbours(rows, reach, mask.shape[0])
    column_low, column_high, column_shifts = _neighbours(columns, reach, mask.shape[1])
    # Centre, above, below, left and right (a fresh array: _take may return a view).
    core = _take(mask, row_shifts[1], column_shifts[1]) & _take(mask, row_shifts[0],
                                                                column_shifts[1])
    for row, column in ((2, 1), (1, 0), (1, 2)):
        core &= _take(mask, row_shifts[row], column_shifts[column])
    inner[row_low:row_high, column_low:column_high] = core
    return sampled, inner


def _take(mask: np.ndarray, rows: Any, columns: Any) -> np.ndarray:
    """Return the 0/1 mask at rows x columns (each a slice or an index array) as bool."""
    if isinstance(rows, np.ndarray) and isinstance(columns, np.ndarray):
        return mask[np.ix_(rows, columns)].view(bool)
    return mask[rows, columns].view(bool)


def _neighbours(index: Any, reach: int, limit: int) -> tuple[int, int, tuple[Any, Any, Any]]:
    """
    Return the samples [low, high) of index whose neighbours reach away are inside [0, limit).

    Also their indices shifted by -reach, 0 and +reach (slices for a slice, else arrays).
    """
    if isinstance(index, slice):
        start, step = index.start, index.step
        count = len(range(start, index.stop, step))
        low = max(0, -((start - reach) // step))
        high = max(low, min(count, (limit - 1 - reach - start) // step + 1))
        if high == low:
            return low, high, (slice(0, 0), slice(0, 0), slice(0, 0))
        first, stop = start + low * step, start + high * step
        return low, high, (slice(first - reach, stop - reach, step), slice(first, stop, step),
                           slice(first + reach, stop + reach, step))
    low = int(np.searchsorted(index, reach))
    high = max(low, int(np.searchsorted(index, limit - 1 - reach, side='right')))
    inside = index[low:high]
    return low, high, (inside - reach, inside, inside + reach)


def _median(values: np.ndarray) -> float:
    """
    Return the (upper) median of a 1-D array by partition, without np.median's overhead.

    Reorders values in place: pass an array of one's own whose order does not matter.
    """
    middle = values.size // 2
    values.partition(middle)
    return float(values[middle])


def locate_frame(result: SegmentationResult, depth_msg: Any, info_msg: Any, max_pixels: int,
                 config: Depth3DConfig) -> list[Object3D]:
    """
    Place one frame's detections in 3D from its paired depth image and camera info messages.

    Raises DepthInputError for a depth image or camera info that cannot be used (see
    depth_from_image, Intrinsics.from_camera_info, depth_scale; a depth image without a
    frame_id, whose 3D could not be placed anywhere).
    """
    return locate_frame_explained(result, depth_msg, info_msg, max_pixels, config)[0]


def locate_frame_explained(result: SegmentationResult, depth_msg: Any, info_msg: Any,
                           max_pixels: int,
                           config: Depth3DConfig) -> tuple[list[Object3D], dict[int, str]]:
    """Return locate_frame's objects, and why each other detection has none (by index)."""
    if not str(depth_msg.header.frame_id):
        raise DepthInputError('depth image with an empty header.frame_id: its 3D would be in '
                              "no frame (set the depth driver's frame_id)")
    depth = depth_from_image(depth_msg, max_pixels)
    intrinsics = camera_intrinsics(info_msg)
    return localize_explained(result, depth, intrinsics, config)


def missing_summary(missing: dict[int, str], shown: int = 2) -> str:
    """One line on the detections without 3D: the first few (by index) and why."""
    items = sorted(missing.items())
    text = '; '.join(f'detection {index}: {why}' for index, why in items[:shown])
    more = f' (and {len(items) - shown} more)' if len(items) > shown else ''
    return f'{len(items)} detection(s) without 3D: {text}{more}'


def depth_input_notes(depth_msg: Any, info_msg: Any) -> list[str]:
    """
    Return what is doubtful about a usable depth image and camera info pair (empty: nothing).

    The 3D step goes on with them; the node logs each note (throttled): a camera info without
    P (K is used), a distortion model or coefficients that say the image is not rectified
    (aligned depth must be), frame_ids that disagree.
    """
    notes = []
    if not any(float(value) for value in info_msg.p):
        notes.append('camera info P is all zero: back-projecting with K (aligned depth is '
                     'rectified; its camera info should carry P, as image_geometry uses it)')
    model = str(info_msg.distortion_model)
    coefficients = [float(value) for value in info_msg.d]
    if model not in RECTIFIED_MODELS or any(coefficients):
        shown = ', '.join(f'{value:g}' for value in coefficients[:8])
        notes.append(f'camera info distortion model {model[:32]!r} with D [{shown}]: the depth '
                     'image is taken as rectified (aligned depth must be); rectify it '
                     '(depth_image_proc) or give its rectified camera info')
    depth_frame, info_frame = str(depth_msg.header.frame_id), str(info_msg.header.frame_id)
    if depth_frame and info_frame and depth_frame != info_frame:
        notes.append(f'depth image frame_id {depth_frame[:64]!r} but its camera info says '
                     f'{info_frame[:64]!r}: the 3D is published in {depth_frame[:64]!r}')
    return notes
