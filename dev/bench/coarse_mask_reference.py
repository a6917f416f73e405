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
The D-Robotics model zoo's YOLOv8-seg decode with coarse masks: the bench's speed baseline.

Rewritten after the RDK X5 model zoo's Python samples (rdk_model_zoo YOLOv8_Seg.py and the newer
ultralytics_yolo_seg.py): per level, class logits thresholded at logit(conf), DFL boxes by a
softmax expectation, class-wise NMS; then every mask as a 160x160 plane
sigmoid(coefficients @ protos), cropped to the box at proto resolution, resized (bilinear) to
the box in the source image and thresholded at 0.5. Each plane is computed within its crop
only (the same values, less work). The zoo's optional extras (a Lanczos resize of the binary
mask, a 5x5 morphological opening) are left out: they only add time. Masks are box-sized
uint8 0/1 arrays, as the node's.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import cv2
import numpy as np
from yolov8_seg_ros.layout import DFL_BINS, HeadLayout, RawOutput
from yolov8_seg_ros.transform import ImageTransform

_CLASS_OFFSET = 7680.0  # class-wise NMS in one call: boxes of different classes never overlap


class CoarseResult(NamedTuple):
    """Boxes in source pixels (int corners), scores, classes and box-sized uint8 masks."""

    boxes_xyxy: np.ndarray  # (N, 4) int32
    scores: np.ndarray
    class_ids: np.ndarray
    masks: list[np.ndarray]


def _float_rows(output: RawOutput, rows: np.ndarray) -> np.ndarray:
    data = output.data.reshape(-1, output.data.shape[-1])[rows].astype(np.float32)
    return data if output.scale is None else data * output.scale.astype(np.float32)


def coarse_decode(outputs: Sequence[RawOutput], layout: HeadLayout, transform: ImageTransform,
                  conf: float = 0.25, iou: float = 0.7) -> CoarseResult:
    """Decode one frame as the model zoo does, with coarse (proto-resolution) masks."""
    conf_logit = -math.log(1.0 / conf - 1.0)
    boxes, scores, ids, coefs = [], [], [], []
    bins = np.arange(DFL_BINS, dtype=np.float32)
    for level in layout.levels:
        logits = outputs[level.cls].data.reshape(-1, layout.num_classes)
        best = logits.max(axis=1)
        valid = np.flatnonzero(best >= conf_logit)
        ids.append(logits[valid].argmax(axis=1))
        scores.append(1.0 / (1.0 + np.exp(-best[valid])))
        dfl = _float_rows(outputs[level.box], valid).reshape(-1, 4, DFL_BINS)
        dfl = np.exp(dfl - dfl.max(axis=2, keepdims=True))
        ltrb = (dfl / dfl.sum(axis=2, keepdims=True)) @ bins
        grid_w = level.grid_hw[1]
        anchor = np.stack([valid % grid_w, valid // grid_w], axis=1).astype(np.float32) + 0.5
        boxes.append(np.hstack([anchor - ltrb[:, :2], anchor + ltrb[:, 2:]]) * level.stride)
        coefs.append(_float_rows(outputs[level.mask_coef], valid))
    boxes_in = np.concatenate(boxes)
    scores_all = np.concatenate(scores)
    ids_all = np.concatenate(ids)
    xywh = boxes_in.astype(np.float64).copy()
    xywh[:, 2:] -= xywh[:, :2]
    xywh[:, :2] += ids_all[:, None] * _CLASS_OFFSET
    keep = np.asarray(cv2.dnn.NMSBoxes(xywh, scores_all.astype(np.float32), conf, iou),
                      dtype=np.int64).reshape(-1)
    boxes_in, scores_all, ids_all = boxes_in[keep], scores_all[keep], ids_all[keep]
    mask_coefs = np.concatenate(coefs)[keep]
    # Boxes to the source image, as integer pixel corners.
    (sx, sy), (px, py) = transform.scale_xy, transform.pad_xy
    src_w, src_h = transform.source_wh
    src = np.empty_like(boxes_in)
    src[:, 0::2] = np.clip((boxes_in[:, 0::2] - px) / sx, 0, src_w)
    src[:, 1::2] = np.clip((boxes_in[:, 1::2] - py) / sy, 0, src_h)
    boxes_src = src.astype(np.int32)
    # Coarse masks: sigmoid(coefficients @ protos) at proto resolution within the box's crop,
    # resized to the box in the source image, thresholded at 0.5.
    protos = outputs[layout.protos]
    proto_h, proto_w = layout.proto_hw
    plane = protos.data[0].astype(np.float32, copy=False)
    if protos.scale is not None:
        plane = plane * protos.scale.astype(np.float32)
    crop = (boxes_in * np.array([proto_w / layout.input_hw[1], proto_h / layout.input_hw[0]] * 2,
                                np.float32)).astype(np.int32)
    np.clip(crop, 0, [proto_w, proto_h, proto_w, proto_h], out=crop)
    masks = []
    for coef, (cx0, cy0, cx1, cy1), (x0, y0, x1, y1) in zip(mask_coefs, crop.tolist(),
                                                            boxes_src.tolist()):
        cx0, cy0 = min(cx0, proto_w - 1), min(cy0, proto_h - 1)
        window = plane[cy0:max(cy1, cy0 + 1), cx0:max(cx1, cx0 + 1)] @ coef
        window = 1.0 / (1.0 + np.exp(-window))
        resized = cv2.resize(window, (max(x1 - x0, 1), max(y1 - y0, 1)),
                             interpolation=cv2.INTER_LINEAR)
        masks.append((resized > 0.5).view(np.uint8))
    return CoarseResult(boxes_src, scores_all.astype(np.float32), ids_all.astype(np.int32),
                        masks)
