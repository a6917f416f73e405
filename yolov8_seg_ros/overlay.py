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

from typing import Optional, Sequence

import cv2
import numpy as np

from yolov8_seg_ros.decode import SegmentationResult
from yolov8_seg_ros.render import render_instance_labels

_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_SCALE = 0.5
# Label box margins around the text, in pixels (below: room for descenders such as 'g').
_LABEL_PAD_X, _LABEL_PAD_ABOVE, _LABEL_PAD_BELOW = 2, 2, 4


def class_color(class_id: int) -> tuple[int, int, int]:
    """Return a stable, distinct BGR colour for a class."""
    hue = (class_id * 47) % 180
    hsv = np.uint8([[[hue, 200, 255]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])


def draw_overlay(bgr: np.ndarray, result: SegmentationResult, class_names: Sequence[str],
                 alpha: float = 0.45, instance_labels: Optional[np.ndarray] = None,
                 track_ids: Optional[Sequence[Optional[int]]] = None) -> np.ndarray:
    """
    Return a copy of bgr with each instance's visible mask tinted, its box and '#id name score'.

    Where masks overlap only the best-scoring instance tints the pixel, as in the label image;
    instance_labels is render_instance_labels(result) when the caller already has it. The
    '#id' prefix is the detection's track id, where it has one.
    """
    canvas = bgr.copy()
    if result.masks:
        if instance_labels is None:
            instance_labels = render_instance_labels(result)
        for index, instance in enumerate(result.masks):
            h, w = instance.mask.shape
            if h == 0 or w == 0:
                continue
            rows = slice(instance.y0, instance.y0 + h)
            columns = slice(instance.x0, instance.x0 + w)
            visible = cv2.compare(instance_labels[rows, columns], index + 1, cv2.CMP_EQ)
            region = canvas[rows, columns]
            tint = (*(c * alpha for c in class_color(int(result.class_ids[index]))), 0.0)
            # region * (1 - alpha) + colour * alpha, written only where the instance is visible.
            cv2.add(cv2.convertScaleAbs(region, alpha=1.0 - alpha), tint, dst=region,
                    mask=visible)
    for index in range(len(result)):
        color = class_color(int(result.class_ids[index]))
        x1, y1, x2, y2 = (int(round(v)) for v in result.boxes_xyxy[index])
        cv2.rectangle(canvas, (x1, y1), (x2, y2), color, 2)
        label = f'{class_names[int(result.class_ids[index])]} {result.scores[index]:.2f}'
        if track_ids is not None and track_ids[index] is not None:
            label = f'#{track_ids[index]} {label}'
        (tw, th), _ = cv2.getTextSize(label, _FONT, _FONT_SCALE, 1)
        left, top, width, height = label_box((x1, y1), (tw, th), canvas.shape[1::-1])
        cv2.rectangle(canvas, (left, top), (left + width - 1, top + height - 1), color, -1)
        cv2.putText(canvas, label, (left + _LABEL_PAD_X, top + height - _LABEL_PAD_BELOW),
                    _FONT, _FONT_SCALE, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas


def label_box(box_top_left: tuple[int, int], text_wh: tuple[int, int],
              image_wh: tuple[int, int]) -> tuple[int, int, int, int]:
    """
    Return (left, top, width, height) of a box's label, whole inside the image where it fits.

    The label sits on the box's top edge, outside it; below the top edge (inside the box) when
    there is no room above, and shifted left or up from the right and bottom edges.
    """
    width = text_wh[0] + 2 * _LABEL_PAD_X
    height = text_wh[1] + _LABEL_PAD_ABOVE + _LABEL_PAD_BELOW
    x, y = box_top_left
    top = y - height if y - height >= 0 else max(y, 0)
    left = min(max(x, 0), image_wh[0] - width)
    top = min(top, image_wh[1] - height)
    return max(left, 0), max(top, 0), width, height
