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
The geometric map from a source image to the model input (letterbox or stretch).

Recorded by the preprocess, inverted exactly by the postprocess. Coordinates are continuous
pixel-edge coordinates: pixel i covers [i, i + 1), so a full image spans [0, width].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RESIZE_MODES = ('letterbox', 'stretch')


@dataclass(frozen=True)
class ImageTransform:
    """input_xy = source_xy * scale_xy + pad_xy; the resized image fills resized_wh at pad_xy."""

    source_wh: tuple[int, int]
    input_wh: tuple[int, int]
    resized_wh: tuple[int, int]
    pad_xy: tuple[int, int]
    mode: str

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Exact per-axis scale of the resize (resized size over source size)."""
        return (self.resized_wh[0] / self.source_wh[0], self.resized_wh[1] / self.source_wh[1])

    @classmethod
    def letterbox(cls, source_wh: tuple[int, int], input_wh: tuple[int, int],
                  center: bool = True) -> ImageTransform:
        """Scale to fit keeping aspect, pad the rest (centered as ultralytics, or bottom/right)."""
        _check_sizes(source_wh, input_wh)
        ratio = min(input_wh[0] / source_wh[0], input_wh[1] / source_wh[1])
        resized = (max(1, int(round(source_wh[0] * ratio))),
                   max(1, int(round(source_wh[1] * ratio))))
        if center:
            pad = (int(round((input_wh[0] - resized[0]) / 2 - 0.1)),
                   int(round((input_wh[1] - resized[1]) / 2 - 0.1)))
        else:
            pad = (0, 0)
        return cls(tuple(source_wh), tuple(input_wh), resized, pad, 'letterbox')

    @classmethod
    def stretch(cls, source_wh: tuple[int, int], input_wh: tuple[int, int]) -> ImageTransform:
        """Resize to the input size ignoring aspect ratio."""
        _check_sizes(source_wh, input_wh)
        return cls(tuple(source_wh), tuple(input_wh), tuple(input_wh), (0, 0), 'stretch')

    @classmethod
    def create(cls, mode: str, source_wh: tuple[int, int],
               input_wh: tuple[int, int]) -> ImageTransform:
        """Build the transform for a resize mode name ('letterbox' or 'stretch')."""
        if mode == 'letterbox':
            return cls.letterbox(source_wh, input_wh)
        if mode == 'stretch':
            return cls.stretch(source_wh, input_wh)
        raise ValueError(f'resize mode {mode!r}: expected one of {RESIZE_MODES}')

    def input_to_source_xyxy(self, boxes_xyxy: np.ndarray) -> np.ndarray:
        """Map (N, 4) input-space boxes to source pixels, clipped to the source image."""
        sx, sy = self.scale_xy
        out = np.empty_like(boxes_xyxy, dtype=np.float32)
        out[:, 0::2] = (boxes_xyxy[:, 0::2] - self.pad_xy[0]) / sx
        out[:, 1::2] = (boxes_xyxy[:, 1::2] - self.pad_xy[1]) / sy
        np.clip(out[:, 0::2], 0.0, self.source_wh[0], out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, self.source_wh[1], out=out[:, 1::2])
        return out


def _check_sizes(source_wh: tuple[int, int], input_wh: tuple[int, int]) -> None:
    if min(source_wh) <= 0 or min(input_wh) <= 0:
        raise ValueError(f'image sizes must be positive: source {source_wh}, input {input_wh}')
