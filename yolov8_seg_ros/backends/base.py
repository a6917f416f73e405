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

"""The interface every inference backend implements."""

from __future__ import annotations

from typing import Optional, Protocol

import numpy as np

from yolov8_seg_ros.layout import HeadLayout, RawOutput


class BackendError(RuntimeError):
    """A model could not be loaded or run; the message names the model and the cause."""


class RuntimeUnavailableError(BackendError):
    """The backend's runtime is not installed on this machine (not a fault of the model)."""


class Backend(Protocol):
    """Runs one preprocessed frame through a loaded model."""

    name: str
    model_path: str
    input_wh: tuple[int, int]
    input_format: str  # 'nv12' or 'rgb_nchw' (see yolov8_seg_ros.preprocess)
    runtime_version: str  # the inference runtime's version, for the startup log
    warnings: tuple[str, ...]  # non-fatal notes from loading, for the node to log
    layout: HeadLayout  # which output is which head, resolved once at load

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Return the raw outputs (with per-channel scales where quantized) for one frame."""
        ...


def quantized_output(data: np.ndarray, scale: np.ndarray,
                     zero_point: Optional[np.ndarray] = None, axis: int = -1) -> RawOutput:
    """
    Wrap an integer BPU output and its scales in the form the decoder takes.

    Symmetric per-channel scales along the last (NHWC channel) axis stay a RawOutput with its
    scale, so the decoder dequantizes only the anchors it keeps; a single scale is broadcast to
    every channel; a zero point or another axis is dequantized here, to float32.
    """
    scale = np.asarray(scale, np.float32).reshape(-1)
    channels = data.shape[-1]
    axis = axis % data.ndim
    zero = np.asarray(0 if zero_point is None else zero_point, np.float32).reshape(-1)
    if zero.size == 0:
        zero = np.zeros(1, np.float32)
    if scale.size == 1 and not zero.any():
        return RawOutput(data, np.full(channels, scale[0], np.float32))
    if scale.size not in (1, data.shape[axis]) or zero.size not in (1, scale.size):
        raise BackendError(f'output of shape {data.shape} has {scale.size} scales and '
                           f'{zero.size} zero points, expected 1 or one per channel along '
                           f'axis {axis} ({data.shape[axis]})')
    if axis == data.ndim - 1 and not zero.any():
        return RawOutput(data, scale)
    shape = [1] * data.ndim
    shape[axis] = -1
    dequantized = (data.astype(np.float32) - zero.reshape(shape if zero.size > 1 else [1]))
    return RawOutput(dequantized * scale.reshape(shape if scale.size > 1 else [1]), None)
