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
Rendered 3D ground truth: shapes as planar objects before a wall and a floor, exact depth.

A pinhole camera (1280x720 colour) sees a wall at a known distance and a floor below it; each
shape is a flat object at a known distance (0.5 to 8 m), some tilted, nearer ones hiding farther
ones. The colour image carries the shapes as the shapes model knows them; the depth image is
exact per pixel (z in metres), optionally with a stereo/ToF-like noise model: Gaussian noise
growing with z squared, holes, and flying pixels along depth edges. Ground truth per object is
the true extent of its visible surface: the box of the exact 3D points of every visible pixel
(no trimming: the node's estimate is scored against the whole object).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
from helpers.shapes_dataset import _background, _shape_mask
import numpy as np
from yolov8_seg_ros.depth import Intrinsics

WIDTH, HEIGHT = 1280, 720
CAMERA = Intrinsics(fx=900.0, fy=900.0, cx=639.5, cy=359.5, width=WIDTH, height=HEIGHT)
FLOOR_Y_M = 1.2  # the floor is this far below the camera (optical y points down)


@dataclass(frozen=True)
class Object3DTruth:
    """One rendered object: visible mask, distance, and the box of its visible surface."""

    class_id: int
    mask: np.ndarray  # (H, W) bool, the visible part
    distance_m: float  # z of the object's centre
    visible_fraction: float  # visible pixels / pixels of the whole shape
    center_xyz: np.ndarray
    size_xyz: np.ndarray


@dataclass(frozen=True)
class DepthScene:
    """A colour image, its exact depth (metres, 0 where nothing) and the objects."""

    image_bgr: np.ndarray
    depth_m: np.ndarray  # (H, W) float32
    objects: tuple[Object3DTruth, ...]


def _rays() -> tuple[np.ndarray, np.ndarray]:
    u = (np.arange(WIDTH, dtype=np.float64) - CAMERA.cx) / CAMERA.fx
    v = (np.arange(HEIGHT, dtype=np.float64) - CAMERA.cy) / CAMERA.fy
    return np.meshgrid(u, v)


def _plane_depth(center_uv: tuple[float, float], distance: float, tilt_xy: tuple[float, float],
                 ray_x: np.ndarray, ray_y: np.ndarray) -> np.ndarray:
    """Return z of every pixel's ray on the plane through the centre's point, tilted."""
    point = np.array([(center_uv[0] - CAMERA.cx) / CAMERA.fx * distance,
                      (center_uv[1] - CAMERA.cy) / CAMERA.fy * distance, distance])
    ax, ay = tilt_xy
    normal = np.array([np.sin(ay), -np.sin(ax) * np.cos(ay), -np.cos(ax) * np.cos(ay)])
    denominator = normal[0] * ray_x + normal[1] * ray_y + normal[2]
    with np.errstate(divide='ignore'):
        z = (normal @ point) / denominator
    return np.where(z > 0, z, np.inf)


def render_scene(seed: int, overlapping: bool = False, wall_m: float = 12.0,
                 count: int = 4) -> DepthScene:
    """Render one scene: count shapes at 0.5-8 m before a wall at wall_m, overlapping if asked."""
    rng = np.random.default_rng(seed)
    ray_x, ray_y = _rays()
    with np.errstate(divide='ignore'):
        floor = np.where(ray_y > 0, FLOOR_Y_M / np.maximum(ray_y, 1e-12), np.inf)
    depth = np.minimum(np.full((HEIGHT, WIDTH), wall_m), floor)
    image = _background(rng, WIDTH, HEIGHT, None)
    placed = []
    occupied = np.zeros((HEIGHT, WIDTH), bool)
    for _ in range(count * 30):
        if len(placed) == count:
            break
        class_id = int(rng.integers(0, 4))
        radius = rng.uniform(0.09, 0.2) * HEIGHT
        cx = rng.uniform(radius, WIDTH - radius)
        cy = rng.uniform(radius, HEIGHT - radius)
        mask = _shape_mask(rng, class_id, WIDTH, HEIGHT, cx, cy, radius)
        grown = cv2.dilate(mask.astype(np.uint8), np.ones((15, 15), np.uint8)).astype(bool)
        overlap = (mask & occupied).sum() / mask.sum()
        if overlapping and placed and not 0.1 < overlap < 0.45:
            continue
        if not overlapping and (grown & occupied).any():
            continue
        occupied |= mask
        tilted = rng.random() < 0.5
        tilt = tuple(rng.uniform(-0.6, 0.6, 2)) if tilted else (0.0, 0.0)
        placed.append((class_id, mask, (cx, cy), float(rng.uniform(0.5, 8.0)), tilt))
    # Far to near: nearer objects hide farther ones where they overlap.
    placed.sort(key=lambda item: -item[3])
    surfaces = []
    for class_id, mask, center, distance, tilt in placed:
        z = _plane_depth(center, distance, tilt, ray_x, ray_y)
        visible = mask & (z < depth)
        depth = np.where(visible, z, depth)
        for earlier in surfaces:
            earlier[1] &= ~visible
        surfaces.append([class_id, visible, mask, distance, z])
        local_mean = image[mask].mean(axis=0)
        color = rng.uniform(0, 255, size=3)
        while np.abs(color - local_mean).sum() < 180:
            color = rng.uniform(0, 255, size=3)
        image[visible] = color.astype(np.uint8)
    objects = []
    for class_id, visible, mask, distance, z in surfaces:
        if visible.sum() < 200:
            continue
        points = np.stack([ray_x[visible] * z[visible], ray_y[visible] * z[visible],
                           z[visible]], axis=1)
        low, high = points.min(axis=0), points.max(axis=0)
        objects.append(Object3DTruth(class_id, visible, distance,
                                     float(visible.sum() / mask.sum()), (low + high) / 2.0,
                                     high - low))
    return DepthScene(image, depth.astype(np.float32), tuple(objects))


def add_noise(depth_m: np.ndarray, seed: int, sigma_per_m2: float = 0.0015,
              holes: float = 0.2) -> np.ndarray:
    """Return a stereo/ToF-like measurement of exact depth (0 marks a hole)."""
    rng = np.random.default_rng(seed)
    noisy = depth_m + rng.normal(0.0, 1.0, depth_m.shape).astype(np.float32) * (
        sigma_per_m2 * depth_m ** 2)
    # Flying pixels: along depth edges, values between the near and the far side.
    kernel = np.ones((5, 5), np.uint8)
    near = cv2.erode(depth_m, kernel)
    far = cv2.dilate(depth_m, kernel)
    edge = (far - near) > 0.3
    mix = rng.random(depth_m.shape).astype(np.float32)
    noisy = np.where(edge & (rng.random(depth_m.shape) < 0.5), near + mix * (far - near), noisy)
    # Holes: blobs of missing depth covering about `holes` of the image.
    field = cv2.resize(rng.random((HEIGHT // 24, WIDTH // 24)).astype(np.float32),
                       (depth_m.shape[1], depth_m.shape[0]), interpolation=cv2.INTER_CUBIC)
    noisy[field < np.quantile(field, holes)] = 0.0
    return noisy.astype(np.float32)


def half_resolution(depth_m: np.ndarray) -> tuple[np.ndarray, Intrinsics]:
    """Return the depth image at half the size (nearest sample) and its camera matrix."""
    half = cv2.resize(depth_m, (WIDTH // 2, HEIGHT // 2), interpolation=cv2.INTER_NEAREST)
    camera = Intrinsics(CAMERA.fx / 2, CAMERA.fy / 2, (CAMERA.cx + 0.5) / 2 - 0.5,
                        (CAMERA.cy + 0.5) / 2 - 0.5, WIDTH // 2, HEIGHT // 2)
    return half, camera


def to_millimetres(depth_m: np.ndarray) -> np.ndarray:
    """Return 16UC1 depth (REP 118): millimetres, 0 where invalid."""
    clean = np.where(np.isfinite(depth_m), depth_m, 0.0)
    return np.clip(np.round(clean * 1000.0), 0, 65535).astype(np.uint16)


def box_median_baseline(box_xyxy: np.ndarray, depth_m: np.ndarray,
                        camera: Intrinsics, scale: float = 1.0) -> Optional[np.ndarray]:
    """Return the peers' estimate: the median depth in the 2D box, at the box's centre (xyz)."""
    x1, y1, x2, y2 = (int(round(v * scale)) for v in box_xyxy)
    window = depth_m[max(y1, 0):y2, max(x1, 0):x2]
    valid = window[np.isfinite(window) & (window > 0)]
    if valid.size == 0:
        return None
    z = float(np.median(valid))
    u, v = (x1 + x2) / 2.0 - 0.5, (y1 + y2) / 2.0 - 0.5
    return np.array([(u - camera.cx) / camera.fx * z, (v - camera.cy) / camera.fy * z, z])


@dataclass(frozen=True)
class TiltedSquare:
    """A square turned about the vertical axis before a wall: exact depth, mask and pose."""

    depth_m: np.ndarray  # (H, W) float32
    mask: np.ndarray  # (H, W) bool
    center_xyz: np.ndarray
    axes: np.ndarray  # (3, 3) columns: the square's x and y edges, and its normal (away)
    side_m: float


def render_tilted_square(yaw_rad: float, side_m: float = 0.8, distance_m: float = 2.5,
                         offset_xy: tuple[float, float] = (0.0, 0.0),
                         wall_m: float = 6.0) -> TiltedSquare:
    """Render a square of side_m at (offset_xy, distance_m), turned by yaw_rad about optical y."""
    ray_x, ray_y = _rays()
    center = np.array([offset_xy[0], offset_xy[1], distance_m])
    axes = np.array([[np.cos(yaw_rad), 0.0, np.sin(yaw_rad)], [0.0, 1.0, 0.0],
                     [-np.sin(yaw_rad), 0.0, np.cos(yaw_rad)]])
    normal = axes[:, 2]
    z = (normal @ center) / (normal[0] * ray_x + normal[1] * ray_y + normal[2])
    points = np.stack([ray_x * z, ray_y * z, z], axis=-1) - center
    inside = ((np.abs(points @ axes[:, 0]) <= side_m / 2)
              & (np.abs(points @ axes[:, 1]) <= side_m / 2) & (z > 0))
    depth = np.where(inside, z, wall_m).astype(np.float32)
    return TiltedSquare(depth, inside, center, axes, side_m)
