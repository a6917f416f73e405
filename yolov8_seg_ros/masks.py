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
Full-resolution instance masks: the mask logits bilinearly sampled at every source pixel centre.

Source pixel u (centre u + 0.5) samples proto coordinate (pad + (u + 0.5) * scale) / 4 - 0.5
(pixel-centre convention, as bilinear interpolation with align_corners=False), clamped to the
proto pixels covered by the image content, not the letterbox padding, as ultralytics'
scale_masks after cropping the padding. Sample positions are exact for every scale.

Bilinear interpolation is separable, so each axis is upsampled on its own: by cv2.resize where
the axis has a whole number of source pixels per proto pixel with proto edges on pixel edges
(cv2.resize then samples exactly those positions), otherwise by a matrix product with a two-tap
weight matrix. The full-resolution pass is a cv2.resize whenever one axis allows it.
"""

from __future__ import annotations

import math
from typing import Optional

import cv2
import numpy as np

from yolov8_seg_ros.layout import PROTO_STRIDE
from yolov8_seg_ros.transform import ImageTransform

# Rows per matrix product when the full-resolution pass is a weight matrix: each block of rows
# only touches the few proto rows it interpolates between.
_ROW_BLOCK = 64


class _Axis:
    """Where every source pixel along one axis samples the proto plane."""

    def __init__(self, pad: int, resized: int, size: int, scale: float) -> None:
        step = scale / PROTO_STRIDE
        offset = pad / PROTO_STRIDE
        content_start = int(math.floor(offset))
        content_end = max(int(math.ceil((pad + resized) / PROTO_STRIDE)), content_start + 1)
        positions = offset + (np.arange(size, dtype=np.float64) + 0.5) * step - 0.5
        positions = np.clip(positions, content_start, content_end - 1)
        self.content_end = content_end
        # Left tap and weight of the right tap; the last content pixel pairs with itself.
        self.left = np.minimum(np.floor(positions).astype(np.int64),
                               max(content_end - 2, content_start))
        self.weight = positions - self.left
        # A whole number of source pixels per proto pixel, proto edges on source pixel edges:
        # proto pixel p then starts at source pixel (p - offset) * factor.
        factor = 1.0 / step
        first_edge = -offset * factor
        self.factor = 0
        if (abs(factor - round(factor)) < 1e-9 and round(factor) >= 1
                and abs(first_edge - round(first_edge)) < 1e-6):
            self.factor = int(round(factor))
            self._first_edge = int(round(first_edge))

    def crop(self, first: int, end: int) -> tuple[int, int]:
        """Proto pixels [start, stop) that source pixels [first, end) interpolate between."""
        start = int(self.left[first])
        return start, min(int(self.left[end - 1]) + 2, self.content_end)

    def weights(self, first: int, end: int, start: int, stop: int) -> np.ndarray:
        """(end - first, stop - start) float32 matrix: each row's two bilinear taps."""
        left = self.left[first:end] - start
        right = np.minimum(left + 1, stop - start - 1)
        weight = self.weight[first:end]
        matrix = np.zeros((end - first, stop - start), dtype=np.float64)
        rows = np.arange(end - first)
        matrix[rows, left] = 1.0 - weight
        matrix[rows, right] += weight
        return matrix.astype(np.float32)

    def span(self, first: int, end: int, start: int, stop: int) -> tuple[int, int]:
        """
        Length of the upsampled axis and where source pixel `first` lies in it.

        For source pixels [first, end) from proto pixels [start, stop): cv2.resize covers whole
        proto pixels (proto pixel `start` begins at source pixel first_edge + start * factor),
        a weight matrix exactly the source pixels.
        """
        if self.factor:
            return (stop - start) * self.factor, first - (self._first_edge + start * self.factor)
        return end - first, 0


class MaskSampler:
    """Upsamples per-box mask logits to masks at source resolution, for one transform."""

    def __init__(self, transform: ImageTransform) -> None:
        self.transform = transform
        scale_x, scale_y = transform.scale_xy
        self.x = _Axis(transform.pad_xy[0], transform.resized_wh[0], transform.source_wh[0],
                       scale_x)
        self.y = _Axis(transform.pad_xy[1], transform.resized_wh[1], transform.source_wh[1],
                       scale_y)
        self._buffer: Optional[np.ndarray] = None

    def crop(self, box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """Proto window (x0, y0, x1, y1) the source pixel box (u0, v0, u1, v1) samples from."""
        u0, v0, u1, v1 = box
        x0, x1 = self.x.crop(u0, u1)
        y0, y1 = self.y.crop(v0, v1)
        return x0, y0, x1, y1

    def region(self, crop: tuple[int, int, int, int],
               box: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """
        (height, width, row, column) of the array mask() upsamples into, and the box's place in it.

        cv2.resize writes whole proto pixels, so along an axis it upsamples the array reaches a
        little past the box; the mask is the box's window of it.
        """
        x0, y0, x1, y1 = crop
        u0, v0, u1, v1 = box
        height, row = self.y.span(v0, v1, y0, y1)
        width, column = self.x.span(u0, u1, x0, x1)
        return height, width, row, column

    def mask(self, logits: np.ndarray, crop: tuple[int, int, int, int],
             box: tuple[int, int, int, int], out: Optional[np.ndarray] = None) -> np.ndarray:
        """
        uint8 (v1 - v0, u1 - u0) mask, 1 where the bilinear logit at the pixel centre is > 0.

        out, when given, is a C-contiguous uint8 array of region()'s (height, width) to upsample
        into; the mask is then a view of it.
        """
        height, width, row, column = self.region(crop, box)
        if out is None:
            out = np.empty((height, width), dtype=np.uint8)
        # NumPy compares a contiguous float array into bools twice as fast as cv2.compare, and
        # four times as fast as it compares a strided view: compare all, then take the window.
        np.greater(self._upsample(logits, crop, box), np.float32(0.0), out=out.view(np.bool_))
        u0, v0, u1, v1 = box
        return out[row:row + v1 - v0, column:column + u1 - u0]

    def _upsample(self, logits: np.ndarray, crop: tuple[int, int, int, int],
                  box: tuple[int, int, int, int]) -> np.ndarray:
        """float32 logits over region(crop, box), in a buffer reused from call to call."""
        x0, y0, x1, y1 = crop
        u0, v0, u1, v1 = box
        x, y = self.x, self.y
        if x.factor and y.factor:
            return self._resize(logits, (x1 - x0) * x.factor, (y1 - y0) * y.factor)
        if y.factor:  # x by weights at proto rows, then y by cv2.resize
            return self._resize(logits @ x.weights(u0, u1, x0, x1).T, u1 - u0,
                                (y1 - y0) * y.factor)
        row_weights = y.weights(v0, v1, y0, y1)
        if x.factor:  # y by weights at proto columns, then x by cv2.resize
            return self._resize(row_weights @ logits, (x1 - x0) * x.factor, v1 - v0)
        return self._rows_times(row_weights, logits @ x.weights(u0, u1, x0, x1).T)

    def _take_buffer(self, height: int, width: int) -> np.ndarray:
        size = height * width
        if self._buffer is None or self._buffer.size < size:
            self._buffer = np.empty(max(size, 1 << 20), dtype=np.float32)
        return self._buffer[:size].reshape(height, width)

    def _resize(self, image: np.ndarray, width: int, height: int) -> np.ndarray:
        out = self._take_buffer(height, width)
        cv2.resize(np.ascontiguousarray(image, dtype=np.float32), (width, height), dst=out,
                   interpolation=cv2.INTER_LINEAR)
        return out

    def _rows_times(self, row_weights: np.ndarray, columns: np.ndarray) -> np.ndarray:
        """row_weights @ columns, block by block over the few proto rows each block needs."""
        out = self._take_buffer(row_weights.shape[0], columns.shape[1])
        for first in range(0, row_weights.shape[0], _ROW_BLOCK):
            block = row_weights[first:first + _ROW_BLOCK]
            used = np.flatnonzero(block.any(axis=0))
            start, stop = int(used[0]), int(used[-1]) + 1
            np.matmul(block[:, start:stop], columns[start:stop], out=out[first:first + len(block)])
        return out
