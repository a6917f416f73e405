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

"""Craft raw YOLO26 split heads (4-channel ltrb boxes) that encode known detections exactly."""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Sequence

from helpers.synthetic_heads import BACKGROUND_LOGIT, PROTO_OFF, PROTO_ON, quantize_head
import numpy as np
from yolov8_seg_ros.layout import RawOutput

STRIDES = (8, 16, 32)
# Output orders by role block: the seed export (int32 layout), the model zoo's per-level
# [class, box, mask_coef] (float32 layout) and the reverse per level that its runtime accepts.
ORDERS = {
    'seed': (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    'level': (6, 3, 0, 7, 4, 1, 8, 5, 2, 9),
    'level_reversed': (0, 3, 6, 1, 4, 7, 2, 5, 8, 9),
}


@dataclass(frozen=True)
class Cell:
    """One anchor cell: its level, grid position, ltrb box (input px) and class scores."""

    stride: int
    gx: int
    gy: int
    box_xyxy: tuple[float, float, float, float]
    scores: dict[int, float]  # class id -> score
    mask_rect: tuple[int, int, int, int] = (0, 0, 0, 0)  # proto px0, py0, px1, py1


def cell_for(box_xyxy: tuple[float, float, float, float], scores: dict[int, float],
             stride: int = 8, mask_rect: tuple[int, int, int, int] = (0, 0, 0, 0)) -> Cell:
    """Return the cell holding the box centre at stride."""
    cx, cy = (box_xyxy[0] + box_xyxy[2]) / 2, (box_xyxy[1] + box_xyxy[3]) / 2
    return Cell(stride, int(cx // stride), int(cy // stride), box_xyxy, scores, mask_rect)


def build_yolo26_heads(input_hw: tuple[int, int], num_classes: int, cells: Sequence[Cell],
                       order: str = 'seed', quantize: bool = False) -> list[RawOutput]:
    """Heads in one of ORDERS; each cell's box as direct ltrb distances in stride units."""
    height, width = input_hw
    boxes = [np.zeros((1, height // s, width // s, 4), np.float32) for s in STRIDES]
    coefs = [np.zeros((1, height // s, width // s, 32), np.float32) for s in STRIDES]
    classes = [np.full((1, height // s, width // s, num_classes), BACKGROUND_LOGIT, np.float32)
               for s in STRIDES]
    protos = np.full((1, height // 4, width // 4, 32), PROTO_OFF, np.float32)
    for index, cell in enumerate(cells):
        level = STRIDES.index(cell.stride)
        ax, ay = (cell.gx + 0.5) * cell.stride, (cell.gy + 0.5) * cell.stride
        x1, y1, x2, y2 = cell.box_xyxy
        boxes[level][0, cell.gy, cell.gx] = [(ax - x1) / cell.stride, (ay - y1) / cell.stride,
                                             (x2 - ax) / cell.stride, (y2 - ay) / cell.stride]
        for class_id, score in cell.scores.items():
            classes[level][0, cell.gy, cell.gx, class_id] = math.log(score / (1.0 - score))
        channel = index % 32
        coefs[level][0, cell.gy, cell.gx, channel] = 1.0
        px0, py0, px1, py1 = cell.mask_rect
        protos[0, py0:py1, px0:px1, channel] = PROTO_ON
    outs = ([quantize_head(c, quantize) for c in coefs]
            + [quantize_head(b, quantize) for b in boxes]
            + [RawOutput(c) for c in classes] + [RawOutput(protos)])
    return [outs[k] for k in ORDERS[order]]
