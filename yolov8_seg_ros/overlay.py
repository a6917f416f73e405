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

"""Draw instance masks, boxes, labels and scores on a BGR image (for rviz2)."""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from yolov8_seg_ros.decode import SegmentationResult


def class_color(class_id: int) -> tuple[int, int, int]:
    """Return a stable, distinct BGR colour for a class."""
    hue = (class_id * 47) % 180
    hsv = np.uint8([[[hue, 200, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_overlay(bgr: np.ndarray, result: SegmentationResult, class_names: Sequence[str],
                 alpha: float = 0.45) -> np.ndarray:
    """Return a copy of bgr with each instance's mask blended, its box and 'name score'."""
    canvas = bgr.copy()
    for index in range(len(result) - 1, -1, -1):
        color = class_color(int(result.class_ids[index]))
        if index < len(result.masks) and result.masks[index].mask.size:
            instance = result.masks[index]
            h, w = instance.mask.shape
            region = canvas[instance.y0:instance.y0 + h, instance.x0:instance.x0 + w]
            blended = (region[instance.mask] * (1 - alpha) + np.array(color) * alpha)
            region[instance.mask] = blended.astype(np.uint8)
    for index in range(len(result)):
        color = class_color(int(result.class_ids[index]))
        x1, y1, x2, y2 = (int(round(v)) for v in result.boxes_xyxy[index])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        label = f'{class_names[int(result.class_ids[index])]} {result.scores[index]:.2f}'
        (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        cv2.rectangle(canvas, (x1, max(0, y1 - th - 6)), (x1 + tw + 4, y1), color, -1)
        cv2.putText(canvas, label, (x1 + 2, max(th, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
