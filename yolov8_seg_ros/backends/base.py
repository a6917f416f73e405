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

from typing import Optional, Protocol, Sequence

import numpy as np

from yolov8_seg_ros.layout import HeadLayout, LayoutError, RawOutput, resolve_layout

# BPU task scheduling, as both runtimes take it (hbm_runtime set_scheduling_params, pyeasy_dnn
# forward): a priority, higher first (255 may preempt), and the cores a task may run on.
BPU_PRIORITY_RANGE = (0, 255)
BPU_DEFAULT_PRIORITY = 0
BPU_ANY_CORE = -1  # hbm_runtime's "the scheduler picks"; alone in the list
BPU_CORE_COUNT = 1  # the RDK X5's Bayes-e BPU has one core, index 0 (hbm-runtime-api.md)


class BackendError(RuntimeError):
    """A model could not be loaded or run; the message names the model and the cause."""


class RuntimeUnavailableError(BackendError):
    """The backend's runtime is not installed on this machine (not a fault of the model)."""


def scheduling_problem(priority: int, cores: Sequence[int]) -> Optional[str]:
    """
    Return why (priority, cores) is no BPU scheduling of the RDK X5, or None when it is one.

    cores: hbm_runtime's numbering, [-1] (the runtime picks) or distinct core indices from 0.
    """
    low, high = BPU_PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, (int, np.integer)) \
            or not low <= priority <= high:
        return f'bpu_priority {priority!r}: expected an integer {low}..{high}'
    cores = list(cores)
    if not cores or any(isinstance(c, bool) or not isinstance(c, (int, np.integer))
                        for c in cores):
        return (f'bpu_cores {cores}: expected [{BPU_ANY_CORE}] (the runtime picks) or core '
                'indices from 0')
    if BPU_ANY_CORE in cores and cores != [BPU_ANY_CORE]:
        return (f'bpu_cores {cores}: {BPU_ANY_CORE} (the runtime picks) stands alone, not '
                'among core indices')
    if cores != [BPU_ANY_CORE]:
        bad = [c for c in cores if not 0 <= c < BPU_CORE_COUNT]
        if bad or len(set(cores)) != len(cores):
            return (f'bpu_cores {cores}: the RDK X5 BPU has {BPU_CORE_COUNT} core (index '
                    f'{BPU_CORE_COUNT - 1}); give [0] or [{BPU_ANY_CORE}] (the runtime picks)')
    return None


def check_scheduling(priority: int, cores: Sequence[int]) -> tuple[int, tuple[int, ...]]:
    """Return (priority, cores) as plain ints, or raise BackendError with scheduling_problem."""
    problem = scheduling_problem(priority, cores)
    if problem:
        raise BackendError(problem)
    return int(priority), tuple(int(c) for c in cores)


class Backend(Protocol):
    """Runs one preprocessed frame through a loaded model."""

    name: str
    model_path: str
    input_wh: tuple[int, int]
    input_format: str  # 'nv12' or 'rgb_nchw' (see yolov8_seg_ros.preprocess)
    runtime_version: str  # the inference runtime's version, for the startup log
    warnings: tuple[str, ...]  # non-fatal notes from loading, for the node to log
    layout: HeadLayout  # which output is which head, resolved once at load
    # The BPU scheduling in effect, for /diagnostics: 'bpu_priority' and 'bpu_cores' as the
    # runtime applies them (what it reports back where it can), or why there is none.
    scheduling: dict[str, str]

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Return the raw outputs (with per-channel scales where quantized) for one frame."""
        ...


def quantized_output(data: np.ndarray, scale: np.ndarray,
                     zero_point: Optional[np.ndarray] = None, axis: int = -1) -> RawOutput:
    """
    Wrap a BPU output and its scales in the form the decoder takes.

    Only an integer output is quantized; a float one is returned as it is. Symmetric
    per-channel scales along the last (NHWC channel) axis stay a RawOutput with its scale, so
    the decoder dequantizes only the anchors it keeps; a single scale is broadcast to every
    channel; a zero point or another axis is dequantized here, to float32.
    """
    if not np.issubdtype(data.dtype, np.integer):
        return RawOutput(data)
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


class Nv12BpuModel:
    """
    What the BPU backends share: one NV12 input of H*W*3/2 bytes, heads found by shape.

    Subclasses set name and model_path and provide infer(tensor) -> list[RawOutput].
    """

    name: str
    model_path: str

    def _set_input_shape(self, shape: tuple[int, ...]) -> None:
        """Take the input size from a (1, 3, H, W) (or (1, H, W, 3)) NV12 input shape."""
        height, width = (shape[2], shape[3]) if shape[1] == 3 else (shape[1], shape[2])
        self.input_wh = (width, height)
        self._nv12_bytes = width * height * 3 // 2

    def _nv12_input(self, tensor: np.ndarray) -> np.ndarray:
        """Return the frame as exactly H*W*3/2 C-contiguous bytes, or raise BackendError."""
        data = np.ascontiguousarray(tensor, dtype=np.uint8).reshape(-1)
        if data.size != self._nv12_bytes:
            raise BackendError(f'{self.name} input for {self.model_path!r}: {data.size} bytes, '
                               f'expected exactly {self._nv12_bytes} (NV12 '
                               f'{self.input_wh[0]}x{self.input_wh[1]})')
        return data

    def _resolve_layout(self) -> HeadLayout:
        """Run a neutral grey frame and identify the heads by their shapes."""
        sample = self.infer(np.full(self._nv12_bytes, 128, dtype=np.uint8))
        try:
            return resolve_layout([o.data.shape for o in sample],
                                  [o.scale is not None for o in sample])
        except LayoutError as error:
            raise BackendError(f'model {self.model_path!r}: {error}') from error
