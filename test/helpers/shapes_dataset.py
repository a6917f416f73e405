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
Procedural instance-segmentation scenes (shapes on textured backgrounds) with exact masks.

Used to train the project's small test model, to write test bags and to build the demo data,
so that every test can compare the node's output against exact ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
import json
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

SHAPE_CLASS_NAMES: tuple[str, ...] = ('circle', 'rectangle', 'triangle', 'star')


@dataclass(frozen=True)
class ShapeInstance:
    """One ground-truth object: its class id and its exact full-image boolean mask."""

    class_id: int
    mask: np.ndarray  # (H, W) bool

    @cached_property
    def box_xyxy(self) -> np.ndarray:
        """Tight pixel-edge box (x1, y1, x2, y2) of the mask, float32 (computed once)."""
        x, y, width, height = cv2.boundingRect(self.mask.view(np.uint8))
        return np.array([x, y, x + width, y + height], dtype=np.float32)


@dataclass(frozen=True)
class ShapeScene:
    """A generated BGR image and its instances."""

    image_bgr: np.ndarray  # (H, W, 3) uint8
    instances: tuple[ShapeInstance, ...]


def _background(rng: np.random.Generator, width: int, height: int,
                backdrop_bgr: Optional[np.ndarray]) -> np.ndarray:
    if backdrop_bgr is not None:
        image = cv2.resize(backdrop_bgr, (width, height), interpolation=cv2.INTER_AREA)
        return image.astype(np.uint8)
    corner_colors = rng.uniform(30, 225, size=(2, 2, 3)).astype(np.float32)
    image = cv2.resize(corner_colors, (width, height), interpolation=cv2.INTER_LINEAR)
    image += rng.normal(0.0, 8.0, size=image.shape).astype(np.float32)
    for _ in range(int(rng.integers(2, 6))):
        p1 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        p2 = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        color = tuple(float(c) for c in rng.uniform(0, 255, size=3))
        cv2.line(image, p1, p2, color, int(rng.integers(1, 4)), cv2.LINE_AA)
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_mask(rng: np.random.Generator, class_id: int, width: int, height: int,
                cx: float, cy: float, radius: float) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    if class_id == 0:
        cv2.circle(mask, (int(round(cx)), int(round(cy))), int(round(radius)), 1, -1, cv2.LINE_8)
        return mask.astype(bool)
    if class_id == 1:
        aspect = rng.uniform(0.55, 1.0)
        half = np.array([radius, radius * aspect])
        corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * half
    elif class_id == 2:
        thetas = np.array([0.0, 2.0 * np.pi / 3.0, 4.0 * np.pi / 3.0])
        corners = np.stack([np.cos(thetas), np.sin(thetas)], axis=1) * radius
    else:
        thetas = np.arange(10) * np.pi / 5.0
        radii = np.where(np.arange(10) % 2 == 0, radius, radius * 0.45)
        corners = np.stack([np.cos(thetas), np.sin(thetas)], axis=1) * radii[:, None]
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = corners @ rotation.T + np.array([cx, cy])
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 1, cv2.LINE_8)
    return mask.astype(bool)


def generate_scene(rng: np.random.Generator, width: int = 640, height: int = 480,
                   num_shapes: tuple[int, int] = (2, 6),
                   radius_range: tuple[float, float] = (0.05, 0.16),
                   backdrop_bgr: Optional[np.ndarray] = None,
                   overlapping: bool = False) -> ShapeScene:
    """
    Draw shapes on a background; radii are fractions of the shorter side.

    Apart by default; overlapping: each later shape covers 10-45 % of itself over earlier ones,
    which keep their visible part (dropped below a quarter of their shape).
    """
    image = _background(rng, width, height, backdrop_bgr)
    occupied = np.zeros((height, width), dtype=bool)
    shapes: list[tuple[int, np.ndarray, np.ndarray]] = []  # class, whole shape, visible part
    wanted = int(rng.integers(num_shapes[0], num_shapes[1] + 1))
    short_side = min(width, height)
    for _ in range(wanted * (30 if overlapping else 20)):
        if len(shapes) == wanted:
            break
        class_id = int(rng.integers(0, len(SHAPE_CLASS_NAMES)))
        radius = rng.uniform(*radius_range) * short_side
        cx = rng.uniform(radius, width - radius)
        cy = rng.uniform(radius, height - radius)
        mask = _shape_mask(rng, class_id, width, height, cx, cy, radius)
        if not mask.any():
            continue
        if overlapping:
            overlap = (mask & occupied).sum() / mask.sum()
            if shapes and not 0.1 < overlap < 0.45:
                continue
        elif (cv2.dilate(mask.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
              & occupied).any():
            continue
        local_mean = image[mask].mean(axis=0)
        color = rng.uniform(0, 255, size=3)
        while np.abs(color - local_mean).sum() < 180:
            color = rng.uniform(0, 255, size=3)
        image[mask] = color.astype(np.uint8)
        if overlapping:
            for _, _, visible in shapes:
                visible &= ~mask
        occupied |= mask
        shapes.append((class_id, mask, mask.copy() if overlapping else mask))
    return ShapeScene(image, tuple(ShapeInstance(class_id, visible)
                                   for class_id, whole, visible in shapes
                                   if visible.sum() >= 0.25 * whole.sum()))


def mask_to_polygon(mask: np.ndarray) -> np.ndarray:
    """Outer contour of the largest connected region as (K, 2) float pixel coordinates."""
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    largest = max(contours, key=cv2.contourArea)
    return largest.reshape(-1, 2).astype(np.float64)


def write_yolo_dataset(root: Path, num_train: int, num_val: int, seed: int,
                       width: int = 640, height: int = 480,
                       class_names: Sequence[str] = SHAPE_CLASS_NAMES,
                       overlapping_fraction: float = 0.0) -> Path:
    """
    Write an ultralytics segmentation dataset (images, polygon labels, data.yaml).

    overlapping_fraction of the scenes (chosen by their own generator) have overlapping shapes.
    """
    rng = np.random.default_rng(seed)
    choose = np.random.default_rng(seed + 1)
    for split, count in (('train', num_train), ('val', num_val)):
        (root / 'images' / split).mkdir(parents=True, exist_ok=True)
        (root / 'labels' / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            overlapping = overlapping_fraction > 0 and choose.random() < overlapping_fraction
            scene = generate_scene(rng, width, height, overlapping=overlapping)
            stem = f'{split}_{index:05d}'
            cv2.imwrite(str(root / 'images' / split / f'{stem}.png'), scene.image_bgr)
            lines = []
            for instance in scene.instances:
                polygon = mask_to_polygon(instance.mask) / np.array([width, height])
                coords = ' '.join(f'{v:.6f}' for v in polygon.reshape(-1))
                lines.append(f'{instance.class_id} {coords}')
            (root / 'labels' / split / f'{stem}.txt').write_text('\n'.join(lines) + '\n')
    names = '\n'.join(f'  {i}: {name}' for i, name in enumerate(class_names))
    data_yaml = root / 'data.yaml'
    data_yaml.write_text(f'path: {root.resolve()}\ntrain: images/train\nval: images/val\n'
                         f'names:\n{names}\n')
    return data_yaml


def write_coco_dataset(root: Path, num_images: int, seed: int, width: int = 640,
                       height: int = 480,
                       class_names: Sequence[str] = SHAPE_CLASS_NAMES) -> Path:
    """
    Write scenes as a COCO instances set (PNG images, RLE masks); returns the JSON path.

    Category ids start at 1, as in COCO, so a test sees the class-to-category mapping at work.
    """
    from pycocotools import mask as mask_utils

    rng = np.random.default_rng(seed)
    (root / 'images').mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for image_id in range(1, num_images + 1):
        scene = generate_scene(rng, width, height)
        name = f'{image_id:05d}.png'
        cv2.imwrite(str(root / 'images' / name), scene.image_bgr)
        images.append({'id': image_id, 'file_name': name, 'width': width, 'height': height})
        for instance in scene.instances:
            rle = mask_utils.encode(np.asfortranarray(instance.mask.astype(np.uint8)))
            x1, y1, x2, y2 = instance.box_xyxy.tolist()
            annotations.append({
                'id': len(annotations) + 1, 'image_id': image_id,
                'category_id': instance.class_id + 1, 'iscrowd': 0,
                'bbox': [x1, y1, x2 - x1, y2 - y1], 'area': float(instance.mask.sum()),
                'segmentation': {'size': rle['size'], 'counts': rle['counts'].decode()}})
    categories = [{'id': i + 1, 'name': n} for i, n in enumerate(class_names)]
    path = root / 'instances.json'
    path.write_text(json.dumps({'images': images, 'annotations': annotations,
                                'categories': categories}))
    return path
