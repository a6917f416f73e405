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
3D from an aligned depth image: each instance's mask, its depth samples and a robust 3D box.

The depth image is registered to the colour image (same view, possibly another resolution by a
scale, e.g. 640x352 depth beside a 1280x704 left image). Each detection's full-resolution mask
picks its depth pixels (never its box; a regular grid of them for large objects), less those
one depth pixel from the mask's edge (mixed depth at the object's border); invalid samples (0,
NaN, inf, outside the depth range) are dropped, and samples far from the robust median (flying
pixels, background seen through the mask's edge) are rejected.
The rest are back-projected with the depth camera's matrix; the 3D box spans their trimmed
percentiles in the depth image's optical frame (x right, y down, z forward, metres), plus the
edge margin left out. No rclpy.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Optional, Sequence

import numpy as np

from yolov8_seg_ros.decode import SegmentationResult
from yolov8_seg_ros.image_conversion import message_bytes

# sensor_msgs/Image depth encodings (REP 118): dtype and metres per unit.
DEPTH_ENCODINGS = {'16UC1': (np.dtype(np.uint16), 0.001), '32FC1': (np.dtype(np.float32), 1.0)}
DEPTH_RANGES = {'depth_min': (0.0, 100.0), 'depth_max': (0.01, 1000.0),
                'depth_min_points': (1, 1_000_000), 'depth_max_points': (10, 1_000_000)}
# Depth beside colour: the two sizes' x and y scales may differ by this much (rounding, e.g.
# 1280x720 beside 640x352 is not the same view; 1280x704 beside 640x352 is).
_SCALE_TOLERANCE = 0.02
_TRIM_PERCENT = 2.0  # each side of every axis, for the extent
_MAD_TO_SIGMA = 1.4826
_BAND_SIGMAS = 3.0
_BAND_MIN_FRACTION = 0.02  # the band is at least this fraction of the median distance
_NOISE_EXTENT_SIGMAS = 4.1  # Gaussian noise between the trim percentiles, in sigmas


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
    def from_camera_info(cls, k: Sequence[float], width: int, height: int) -> Intrinsics:
        """From CameraInfo.k (row-major 3x3) and its size; raises DepthInputError if unusable."""
        values = [float(v) for v in k]
        if len(values) != 9:
            raise DepthInputError(f'camera info K has {len(values)} values, expected 9')
        fx, cx, fy, cy = values[0], values[2], values[4], values[5]
        if not all(math.isfinite(v) for v in (fx, fy, cx, cy)) or fx <= 0.0 or fy <= 0.0:
            raise DepthInputError(f'camera info focal length fx {fx:g}, fy {fy:g} (centre '
                                  f'{cx:g}, {cy:g}): expected finite and positive')
        if int(width) <= 0 or int(height) <= 0:
            raise DepthInputError(f'camera info size {width}x{height}: expected the depth '
                                  'image size')
        return cls(fx, fy, cx, cy, int(width), int(height))


@dataclass(frozen=True)
class Depth3DConfig:
    """Per-frame settings of the 3D step (all changeable between frames)."""

    min_m: float = 0.1  # nearer samples are invalid
    max_m: float = 20.0  # farther samples are invalid
    min_points: int = 30  # fewer valid samples: no 3D detection for the instance
    max_points: int = 1000  # most samples read per instance (a regular grid when more)

    def __post_init__(self) -> None:
        for name, value in (('depth_min', self.min_m), ('depth_max', self.max_m),
                            ('depth_min_points', self.min_points),
                            ('depth_max_points', self.max_points)):
            low, high = DEPTH_RANGES[name]
            if not low <= value <= high:
                raise ValueError(f'{name} {value}: expected {low}..{high}')
        if self.min_m >= self.max_m:
            raise ValueError(f'depth_min {self.min_m} must be below depth_max {self.max_m}')


@dataclass(frozen=True)
class Object3D:
    """One detection's place in 3D, in the depth image's optical frame (metres)."""

    index: int  # the detection's index in the 2D result (and message)
    center_xyz: np.ndarray  # (3,) float64
    size_xyz: np.ndarray  # (3,) float64
    points_xyz: np.ndarray  # (N, 3) float32 (a column-major view): the samples kept


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
    scale_xy = depth_scale(result.image_wh, depth, intrinsics)
    objects = []
    for index, instance in enumerate(result.masks):
        located = _locate(index, instance.x0, instance.y0, instance.mask, depth, intrinsics,
                          scale_xy, config)
        if located is not None:
            objects.append(located)
    return objects


def _axis_samples(start: int, length: int, scale: float, limit: int,
                  step: int) -> tuple[np.ndarray, Any]:
    """
    Return depth pixel indices over colour pixels [start, start + length), every step-th.

    Also returns the colour indices (relative to start) their centres fall on: a slice when
    evenly spaced (depth at the colour size or a whole fraction of it), else an index array.
    """
    first = max(int(math.floor(start * scale)), 0)
    last = min(int(math.ceil((start + length) * scale)), limit)
    depth_index = np.arange(first, last, step)
    colour_step = step / scale
    if abs(colour_step - round(colour_step)) < 1e-6 and depth_index.size:
        colour_step = int(round(colour_step))
        colour_first = int(math.floor((first + 0.5) / scale)) - start
        # The samples whose colour index falls in [0, length).
        skip = max(0, -(colour_first // colour_step))
        count = min(depth_index.size, (length - 1 - colour_first) // colour_step + 1) - skip
        colour_first += skip * colour_step
        return (depth_index[skip:skip + max(count, 0)],
                slice(colour_first, colour_first + max(count, 0) * colour_step, colour_step))
    colour_index = np.floor((depth_index + 0.5) / scale).astype(np.int64) - start
    inside = (colour_index >= 0) & (colour_index < length)
    return depth_index[inside], colour_index[inside]


def _locate(index: int, x0: int, y0: int, mask: np.ndarray, depth: DepthImage,
            intrinsics: Intrinsics, scale_xy: tuple[float, float],
            config: Depth3DConfig) -> Optional[Object3D]:
    height, width = mask.shape
    if height == 0 or width == 0:
        return None
    # Read the mask on the depth pixels of its box, every step-th so that at most max_points
    # are read.
    covered = height * width * scale_xy[0] * scale_xy[1]  # depth pixels under the box
    step = max(1, int(math.ceil(math.sqrt(covered / config.max_points))))
    us, mask_x = _axis_samples(x0, width, scale_xy[0], depth.size_wh[0], step)
    vs, mask_y = _axis_samples(y0, height, scale_xy[1], depth.size_wh[1], step)
    if us.size == 0 or vs.size == 0:
        return None
    # Mixed depth at the border: keep the samples whose neighbours one depth pixel away (at
    # least one colour pixel) are inside the mask too, unless too few are left.
    reach = max(1, int(math.ceil(1.0 / min(scale_xy))))
    sampled, inner = _inner_samples(mask, mask_y, mask_x, reach)
    eroded = np.count_nonzero(inner) >= config.min_points
    chosen = inner if eroded else sampled
    # The depth pixels of the grid: evenly spaced, so a strided view of the image.
    z_grid = depth.values[vs[0]:vs[-1] + 1:step, us[0]:us[-1] + 1:step].astype(np.float32)
    if depth.metres_per_unit != 1.0:
        z_grid *= np.float32(depth.metres_per_unit)
    valid = chosen & (z_grid >= config.min_m) & (z_grid <= config.max_m)  # not NaN, not inf
    z = z_grid[valid]
    if z.size < config.min_points:
        return None
    median = _median(z)
    spread = _median(np.abs(z - median)) * _MAD_TO_SIGMA
    band = max(_BAND_SIGMAS * spread, _BAND_MIN_FRACTION * median)
    near = valid & (np.abs(z_grid - median) <= band)
    rows, columns = np.nonzero(near)
    if rows.size < config.min_points:
        return None
    noise = _depth_noise(z_grid, near)
    # Rows x, y, z: each axis contiguous for its partition.
    xyz = np.empty((3, rows.size), np.float32)
    xyz[2] = z_grid[rows, columns]
    np.multiply(us[columns] - np.float32(intrinsics.cx), xyz[2] / np.float32(intrinsics.fx),
                out=xyz[0])
    np.multiply(vs[rows] - np.float32(intrinsics.cy), xyz[2] / np.float32(intrinsics.fy),
                out=xyz[1])
    # The trimmed extent: the samples at the 2nd and 98th percentiles of each axis (order
    # statistics by partition, a tenth of np.percentile's cost on a few thousand samples).
    trim = int(round(rows.size * _TRIM_PERCENT / 100.0))
    ordered = np.partition(xyz, (trim, rows.size - 1 - trim), axis=1)
    low = ordered[:, trim].astype(np.float64)
    high = ordered[:, rows.size - 1 - trim].astype(np.float64)
    size = high - low
    # The trimmed z extent of a noisy surface holds about 4.1 sigma of noise (the 2nd to 98th
    # percentile of a Gaussian); taken out in quadrature, so a flat object facing the camera
    # is flat and a deep one keeps its depth.
    size[2] = math.sqrt(max(size[2] ** 2 - (_NOISE_EXTENT_SIGMAS * noise) ** 2, 0.0))
    if eroded:
        # The kept samples lie `reach` colour pixels inside the mask's outline on every side:
        # give the extent that margin back, at the object's distance.
        distance = (low[2] + high[2]) / 2.0
        size[0] += 2.0 * reach * scale_xy[0] * distance / intrinsics.fx
        size[1] += 2.0 * reach * scale_xy[1] * distance / intrinsics.fy
    return Object3D(index, (low + high) / 2.0, size, xyz.T)


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


def _depth_noise(z_grid: np.ndarray, kept: np.ndarray) -> float:
    """
    Estimate the depth noise (sigma, metres) from neighbouring samples of one surface.

    Differences between horizontal neighbours (both kept), less their median (a slanted
    surface's steady step), are two samples' noise: their robust spread over sqrt(2).
    """
    steps = (z_grid[:, 1:] - z_grid[:, :-1])[kept[:, 1:] & kept[:, :-1]]
    if steps.size < 10:
        return 0.0
    return _median(np.abs(steps - _median(steps))) * _MAD_TO_SIGMA / math.sqrt(2.0)


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
    depth_from_image, Intrinsics.from_camera_info and depth_scale).
    """
    depth = depth_from_image(depth_msg, max_pixels)
    intrinsics = Intrinsics.from_camera_info(info_msg.k, info_msg.width, info_msg.height)
    return localize(result, depth, intrinsics, config)


def nearest_by_stamp(stamped: Sequence[tuple[int, Any]], stamp_ns: int,
                     max_diff_ns: int) -> Optional[Any]:
    """Return the message whose stamp (ns) is nearest stamp_ns and within max_diff_ns, or None."""
    best, best_diff = None, max_diff_ns + 1
    for candidate_ns, msg in stamped:
        diff = abs(candidate_ns - stamp_ns)
        if diff < best_diff:
            best, best_diff = msg, diff
    return best
