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

"""Craft raw split heads that encode known boxes, classes, scores and masks exactly."""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Optional, Sequence

import numpy as np
from yolov8_seg_ros.layout import RawOutput

BACKGROUND_LOGIT = -12.0
PROTO_ON, PROTO_OFF = 4.0, -4.0


@dataclass(frozen=True)
class Planted:
    """One object: class, score, input-space xyxy box and a proto-pixel mask rectangle."""

    class_id: int
    score: float
    box_xyxy: tuple[float, float, float, float]
    mask_rect: Optional[tuple[int, int, int, int]] = None  # proto px0, py0, px1, py1
    stride: Optional[int] = None


def _dfl_logits(distance: float) -> np.ndarray:
    logits = np.full(16, -50.0, dtype=np.float64)
    low = int(math.floor(distance))
    frac = distance - low
    logits[low] = math.log(1.0 - frac) if frac < 1.0 else -50.0
    if frac > 0.0:
        logits[low + 1] = math.log(frac)
    return logits


def build_heads(input_hw: tuple[int, int], num_classes: int, objects: Sequence[Planted],
                quantize: bool = False, fill_logit: float = BACKGROUND_LOGIT,
                order: str = 'seed') -> list[RawOutput]:
    """Heads in the seed order (mask_coef x3, box x3, class x3, protos) or 'level' order."""
    height, width = input_hw
    strides = (8, 16, 32)
    boxes = [np.zeros((1, height // s, width // s, 64), np.float32) for s in strides]
    coefs = [np.zeros((1, height // s, width // s, 32), np.float32) for s in strides]
    classes = [np.full((1, height // s, width // s, num_classes), fill_logit, np.float32)
               for s in strides]
    protos = np.full((1, height // 4, width // 4, 32), PROTO_OFF, np.float32)
    for index, obj in enumerate(objects):
        x1, y1, x2, y2 = obj.box_xyxy
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        level = strides.index(obj.stride) if obj.stride else next(
            k for k, s in enumerate(strides) if max(x2 - x1, y2 - y1) / 2 / s <= 14.5)
        stride = strides[level]
        gx, gy = int(cx // stride), int(cy // stride)
        ax, ay = (gx + 0.5) * stride, (gy + 0.5) * stride
        dists = [(ax - x1) / stride, (ay - y1) / stride, (x2 - ax) / stride, (y2 - ay) / stride]
        assert all(0.0 <= d <= 15.0 for d in dists), (obj, dists)
        boxes[level][0, gy, gx] = np.concatenate([_dfl_logits(d) for d in dists])
        classes[level][0, gy, gx, obj.class_id] = math.log(obj.score / (1.0 - obj.score))
        channel = index % 32
        coefs[level][0, gy, gx, channel] = 1.0
        if obj.mask_rect is not None:
            px0, py0, px1, py1 = obj.mask_rect
            protos[0, py0:py1, px0:px1, channel] = PROTO_ON
    outs = ([quantize_head(c, quantize) for c in coefs]
            + [quantize_head(b, quantize) for b in boxes]
            + [RawOutput(c) for c in classes] + [RawOutput(protos)])
    if order == 'level':
        return [outs[6], outs[3], outs[0], outs[7], outs[4], outs[1], outs[8], outs[5], outs[2],
                outs[9]]
    return outs


def quantize_head(data: np.ndarray, quantize: bool = True) -> RawOutput:
    """int32 + per-channel scale (peak / 2**20), as a BPU head without its Dequantize node."""
    if not quantize:
        return RawOutput(data)
    scale = np.maximum(np.abs(data).reshape(-1, data.shape[-1]).max(axis=0), 1e-3) / 2 ** 20
    return RawOutput(np.round(data / scale).astype(np.int32), scale.astype(np.float32))
