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

"""Label images from a SegmentationResult: one value per pixel, the best-scoring instance wins."""

from __future__ import annotations

import cv2
import numpy as np

from yolov8_seg_ros.decode import SegmentationResult


def render_instance_labels(result: SegmentationResult) -> np.ndarray:
    """
    (H, W) label image: 0 background, i + 1 for detection i; higher scores drawn on top.

    uint8 up to 255 detections, uint16 beyond.
    """
    dtype = np.uint8 if len(result) <= 255 else np.uint16
    values = np.arange(1, len(result) + 1)
    return _render(result, values, dtype)


def render_class_labels(result: SegmentationResult, num_classes: int) -> np.ndarray:
    """
    (H, W) label image as vision_msgs defines it: the class id where an instance covers the pixel.

    Background is the UNLABELED value, the dtype's maximum: 255 for uint8 (up to 255 classes),
    65535 for uint16.
    """
    dtype = np.uint8 if num_classes < 255 else np.uint16
    return _render(result, result.class_ids, dtype, background=np.iinfo(dtype).max)


def _render(result: SegmentationResult, values: np.ndarray, dtype: type,
            background: int = 0) -> np.ndarray:
    width, height = result.image_wh
    labels = np.full((height, width), background, dtype=dtype)
    # Masked writes go through OpenCV: NumPy's boolean indexing is ten times slower here.
    # value_plane is what the masked copy takes its value from, one fill per instance; it is
    # as large as the largest mask, not the frame.
    shapes = [instance.mask.shape for instance in result.masks] or [(0, 0)]
    value_plane = np.empty((max(h for h, _ in shapes), max(w for _, w in shapes)), dtype=dtype)
    # Detections are sorted by descending score: paint the lowest first so the best wins.
    for index in range(len(result.masks) - 1, -1, -1):
        instance = result.masks[index]
        h, w = instance.mask.shape
        if h == 0 or w == 0:
            continue
        source = value_plane[:h, :w]
        source.fill(values[index])
        cv2.copyTo(source, instance.mask,
                   labels[instance.y0:instance.y0 + h, instance.x0:instance.x0 + w])
    return labels
