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
Fake of the RDK X5 pyeasy_dnn for x86 tests, mirroring shared/reference/hobot-dnn-api.md.

The model itself is fake_bpu_model.FakeBpuModel (a JSON manifest naming a split-head ONNX, in
the int32-with-scales or the all-float32 layout). This module mirrors the binding around it,
sharp edges included: load() takes a str or a list of str only (a Path or a tuple raises
SystemError, as does a failed load); forward() takes an ndarray or a list/tuple of them and
reads exactly H*W*3/2 bytes from the data pointer (no dtype, contiguity or size check; reading
past the end of the buffer raises here instead of corrupting memory); outputs are persistent
buffers overwritten by the next forward and every .buffer access returns a fresh 4-D copy
(int8 for anything that is not F32 or S32, the NV12 input included); properties have exactly
the documented fields and scale_data is a fresh array on every access; the protos are labelled
NCHW while their shape is NHWC; estimate_latency is always 100; forward holds the GIL for the
emulated BPU time. The tensor class is exported as pyDNNTensor, as the real module does.

forward(arg, core_id=0, priority=0) parses both as C ints (PyArg "O|ii", as dnn_python.cpp):
anything else (a float, None, a str) fails to parse, and the binding then returns None with the
TypeError set, which Python reports as SystemError. The binding checks no value; the runtime's
hbDNNInfer does: core_id 0 (any core) or 1 (core 0) on the X5's one-core BPU (2 would be core 1),
priority 0..255; anything else fails the inference (RuntimeError "forward execution failed.",
again surfacing as SystemError). The emulated BPU records the core and priority of each forward.
"""

from __future__ import annotations

import ctypes
from pathlib import Path
from typing import Any

from fake_bpu_model import FakeBpuModel
import numpy as np

_SYSTEM_ERROR = '<built-in method {}> returned a result with an exception set'
# hbDNNInferCtrlParam on the RDK X5: bpuCoreId 0 = any core, 1 = core 0 (its only core).
_X5_CORE_IDS = (0, 1)
_PRIORITY_RANGE = (0, 255)


class TensorProperties:
    """Exactly the documented fields; anything else raises AttributeError."""

    __slots__ = ('tensor_type', 'dtype', 'layout', 'shape', '_scale_data', 'alignedShape',
                 'validShape')

    def __init__(self, tensor_type: str, layout: str, shape: tuple[int, ...],
                 scale_data: np.ndarray) -> None:
        self.tensor_type = tensor_type
        self.dtype = tensor_type if tensor_type in ('float32', 'int32') else 'uint8'
        self.layout = layout
        self.shape = shape
        self._scale_data = scale_data
        self.alignedShape = id(self) + 16  # an address, as the real binding returns
        self.validShape = id(self) + 32

    @property
    def scale_data(self) -> np.ndarray:
        return self._scale_data.copy()  # the binding builds a new array on every access


class pyDNNTensor:  # noqa: N801 (the real module's class name)
    """name, properties, and buffer: a fresh 4-D copy of the persistent data on every access."""

    __slots__ = ('name', 'properties', '_storage')

    def __init__(self, name: str, properties: TensorProperties, storage: np.ndarray) -> None:
        self.name = name
        self.properties = properties
        self._storage = storage

    @property
    def buffer(self) -> np.ndarray:
        kind = self.properties.tensor_type
        dtype = np.float32 if kind == 'float32' else np.int32 if kind == 'int32' else np.int8
        return self._storage.astype(dtype, copy=True)


class Model:
    """One loaded fake model."""

    def __init__(self, path: str) -> None:
        try:
            self._model = FakeBpuModel(Path(path))
        except Exception as error:
            raise SystemError(f'{_SYSTEM_ERROR.format("load")}: {error}') from error
        self.name = self._model.model_name
        height, width = self._model.height, self._model.width
        self._input = pyDNNTensor('images', TensorProperties(
            'NV12', 'NCHW', (1, 3, height, width), np.zeros(0, np.float32)),
            np.zeros((1, 3, height, width), np.uint8))
        self._storage = []
        self._props = []
        for out in self._model.outputs:
            quantized = out.scale is not None
            layout = 'NCHW' if out.shape[1:3] == self._model.proto_hw else 'NHWC'
            self._props.append(TensorProperties(
                'int32' if quantized else 'float32', layout, out.shape,
                out.scale if quantized else np.zeros(0, np.float32)))
            self._storage.append(np.zeros(out.shape, np.int32 if quantized else np.float32))

    @property
    def inputs(self) -> list[pyDNNTensor]:
        return [self._input]

    @property
    def outputs(self) -> list[pyDNNTensor]:
        return [pyDNNTensor(o.name, p, s)
                for o, p, s in zip(self._model.outputs, self._props, self._storage)]

    @property
    def estimate_latency(self) -> int:
        return 100

    def forward(self, arg: Any, core_id: int = 0, priority: int = 0) -> list[pyDNNTensor]:
        core_id, priority = _c_int(core_id), _c_int(priority)
        if isinstance(arg, (list, tuple)) and arg:
            arg = arg[0]  # one array per model input; these models have one
        if not isinstance(arg, np.ndarray):
            raise SystemError(f'{_SYSTEM_ERROR.format("forward")}: input must be a numpy '
                              'array or a list of them')
        data = _read_raw(arg, self._model.nv12_bytes)
        if core_id not in _X5_CORE_IDS or not _PRIORITY_RANGE[0] <= priority <= _PRIORITY_RANGE[1]:
            # hbDNNInfer refuses the control parameters: the binding prints and fails.
            raise SystemError(_SYSTEM_ERROR.format('forward')) from RuntimeError(
                'forward execution failed.')
        cores = (-1,) if core_id == 0 else (core_id - 1,)
        values = self._model.run(data, priority, cores)
        for storage, value in zip(self._storage, values):
            storage[...] = value
        return self.outputs


def _c_int(value: Any) -> int:
    """Parse value as PyArg_ParseTupleAndKeywords' "i" does: an int (or __index__) in C range."""
    if isinstance(value, float) or not hasattr(value, '__index__'):
        raise SystemError(_SYSTEM_ERROR.format('forward')) from TypeError(
            'Failed to parse arguments.')
    number = value.__index__()
    if not -2 ** 31 <= number < 2 ** 31:
        raise SystemError(_SYSTEM_ERROR.format('forward')) from OverflowError(
            'signed integer is greater than maximum')
    return number


def _read_raw(array: np.ndarray, count: int) -> bytes:
    """Read count bytes from the array data pointer, as the runtime memcpy does."""
    base = array
    while isinstance(base.base, np.ndarray):
        base = base.base
    available = base.ctypes.data + base.nbytes - array.ctypes.data
    if available < count:
        raise SystemError(f'forward would read {count} bytes from a buffer of {available}: '
                          'out-of-bounds read on the board (undefined behaviour)')
    return ctypes.string_at(array.ctypes.data, count)


def load(path_or_list: Any) -> list[Model]:
    """Load models like pyeasy_dnn.load: a str or a list of str, one Model per file."""
    if isinstance(path_or_list, str):
        paths = [path_or_list]
    elif isinstance(path_or_list, list) and all(isinstance(p, str) for p in path_or_list):
        paths = path_or_list
    else:
        raise SystemError(f'{_SYSTEM_ERROR.format("load")}: expected a str or a list of str, '
                          f'got {type(path_or_list).__name__}')
    return [Model(p) for p in paths]
