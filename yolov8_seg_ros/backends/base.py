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

from typing import Protocol

import numpy as np

from yolov8_seg_ros.layout import HeadLayout, RawOutput


class BackendError(RuntimeError):
    """A model could not be loaded or run; the message names the model and the cause."""


class Backend(Protocol):
    """Runs one preprocessed frame through a loaded model."""

    name: str
    model_path: str
    input_wh: tuple[int, int]
    input_format: str  # 'nv12' or 'rgb_nchw' (see yolov8_seg_ros.preprocess)
    warnings: tuple[str, ...]  # non-fatal notes from loading, for the node to log
    layout: HeadLayout  # which output is which head, resolved once at load

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Return the raw outputs (with per-channel scales where quantized) for one frame."""
        ...
