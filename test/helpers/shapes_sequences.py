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
Moving shapes scenes for tracking: sequences with ground-truth ids and exact masks.

Shapes move at constant velocity or turn, cross and occlude each other (later objects are drawn
over earlier ones), and enter or leave the image, at a fixed frame rate. Every object with a
visible pixel is listed with its visible mask and visibility (visible / full area); as in the
MOT16/17 protocol, those under MIN_VISIBLE are not scored: a miss there is no miss, and a track
on one is no false positive (see tracking_eval).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import cv2
from helpers.shapes_dataset import _background, _shape_mask, SHAPE_CLASS_NAMES, ShapeInstance
import numpy as np

MIN_VISIBLE = 0.5
RADIUS_RANGE = (0.07, 0.12)  # fractions of the shorter image side


@dataclass(frozen=True)
class TrackedInstance(ShapeInstance):
    """A ground-truth object of one frame, with its id across the sequence."""

    object_id: int = 0
    visibility: float = 1.0  # visible part of the full shape (occlusion and image border)

    @property
    def scored(self) -> bool:
        """Whether the object counts in the metrics (visible enough)."""
        return self.visibility >= MIN_VISIBLE


@dataclass(frozen=True)
class SequenceFrame:
    """One frame: image, its timestamp and every object with a visible pixel."""

    image_bgr: np.ndarray
    stamp_s: float
    instances: tuple[TrackedInstance, ...]


@dataclass(frozen=True)
class _Mover:
    object_id: int
    class_id: int
    radius: float
    start: np.ndarray  # (x, y) at t = 0
    velocity: np.ndarray  # pixels per second at t = 0
    turn_rate: float  # radians per second (0: straight line)
    color: tuple[float, float, float]  # BGR, fixed for the sequence
    shape_seed: int
    start_s: float  # the object exists from start_s on

    def center(self, t: float) -> np.ndarray:
        age = t - self.start_s
        if self.turn_rate == 0.0:
            return self.start + self.velocity * age
        # Constant speed along a circular arc.
        w = self.turn_rate
        vx, vy = self.velocity
        sin, cos = np.sin(w * age), np.cos(w * age)
        return self.start + np.array([(vx * sin - vy * (1 - cos)) / w,
                                      (vy * sin + vx * (1 - cos)) / w])


def _path_color(rng: np.random.Generator, background: np.ndarray, path: np.ndarray
                ) -> tuple[float, float, float]:
    """Pick a BGR colour far from the background along the path (the training scenes' rule)."""
    height, width = background.shape[:2]
    points = np.clip(np.round(path).astype(int), 0, [width - 1, height - 1])
    local = background[points[:, 1], points[:, 0]].astype(np.float64)
    for _ in range(200):
        color = rng.uniform(0, 255, size=3)
        if np.abs(color - local).sum(axis=1).min() >= 180:
            break
    return tuple(float(c) for c in color)


def _movers(rng: np.random.Generator, width: int, height: int, count: int,
            duration_s: float, background: np.ndarray) -> list[_Mover]:
    short = min(width, height)
    movers = []
    for object_id in range(1, count + 1):
        radius = rng.uniform(*RADIUS_RANGE) * short
        speed = rng.uniform(60.0, 180.0)
        kind = object_id % 4
        if kind == 0:  # enters from the left or right edge
            side = rng.choice([-1.0, 1.0])
            start = np.array([width / 2 - side * (width / 2 + radius),
                              rng.uniform(radius, height - radius)])
            direction = np.array([side, rng.uniform(-0.2, 0.2)])
        else:
            start = np.array([rng.uniform(radius, width - radius),
                              rng.uniform(radius, height - radius)])
            angle = rng.uniform(0, 2 * np.pi)
            direction = np.array([np.cos(angle), np.sin(angle)])
        velocity = speed * direction / np.linalg.norm(direction)
        turn_rate = float(rng.choice([0.0, rng.uniform(0.8, 2.0) * rng.choice([-1, 1])]))
        start_s = float(rng.uniform(0.0, duration_s / 3)) if kind == 0 else 0.0
        mover = _Mover(object_id, int(rng.integers(0, len(SHAPE_CLASS_NAMES))), radius, start,
                       velocity, turn_rate, (0.0, 0.0, 0.0), int(rng.integers(0, 2 ** 31)),
                       start_s)
        path = np.array([mover.center(t) for t in np.linspace(start_s, duration_s, 12)])
        movers.append(dataclasses.replace(mover, color=_path_color(rng, background, path)))
    return movers


def generate_sequence(seed: int, num_frames: int = 90, fps: float = 30.0, width: int = 640,
                      height: int = 480, num_objects: int = 6,
                      start_stamp_s: float = 100.0) -> list[SequenceFrame]:
    """Render a sequence of moving, crossing, occluding, entering and leaving shapes."""
    rng = np.random.default_rng(seed)
    background = _background(rng, width, height, None)
    movers = _movers(rng, width, height, num_objects, num_frames / fps, background)
    full_areas = {m.object_id: _full_area(m) for m in movers}
    frames = []
    for index in range(num_frames):
        t = index / fps
        image = background.copy()
        drawn: list[tuple[_Mover, np.ndarray]] = []
        for mover in movers:
            if t < mover.start_s:
                continue
            cx, cy = mover.center(t)
            full = _shape_mask(np.random.default_rng(mover.shape_seed), mover.class_id, width,
                               height, cx, cy, mover.radius)
            if not full.any():
                continue
            image[full] = np.array(mover.color, np.uint8)
            drawn = [(m, mask & ~full) for m, mask in drawn]  # the new shape is on top
            drawn.append((mover, full))
        visible = tuple(TrackedInstance(m.class_id, mask, m.object_id,
                                        float(mask.sum()) / full_areas[m.object_id])
                        for m, mask in drawn if mask.any())
        frames.append(SequenceFrame(image, start_stamp_s + t, visible))
    return frames


def _full_area(mover: _Mover) -> int:
    """Area of the whole shape when fully inside a large canvas."""
    size = int(4 * mover.radius) + 8
    mask = _shape_mask(np.random.default_rng(mover.shape_seed), mover.class_id, size, size,
                       size / 2, size / 2, mover.radius)
    return int(mask.sum())


def drop_every_second(frames: list[SequenceFrame]) -> list[SequenceFrame]:
    """Keep every second frame: the node's latest-frame policy under load, at its simplest."""
    return frames[::2]


def draw_ids(frame: SequenceFrame) -> np.ndarray:
    """Draw each ground-truth id on its object (for looking at sequences)."""
    image = frame.image_bgr.copy()
    for instance in frame.instances:
        if not instance.scored:
            continue
        x1, y1, _, _ = instance.box_xyxy
        cv2.putText(image, str(instance.object_id), (int(x1), int(y1) + 12),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return image
