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
Fake of the RDK X5 hbm_runtime (RDK OS >= 3.5) for x86 tests, after hbm-runtime-api.md.

Exactly the documented surface: HB_HBMRuntime (constructed from a str or a list of str; load
failures raise RuntimeError, other argument types TypeError), static version(), metadata
properties keyed by model name (the name embedded in the .bin, not the file name), NV12 inputs
reported as hbDNNDataType.NV12 with shape (1, 3, H, W) and passed as ONE packed uint8 buffer;
run() with a bare array, {input: array} or {model: {input: array}} returning
{model: {output: fresh array}}; integer outputs raw (no dequantization) with their scales in
output_quants; ValueError for dtype, size, model-name and BPU-core mismatches; non-contiguous
inputs copied; set_scheduling_params with per-model dicts. run() holds the GIL for the
emulated BPU time, as the real binding does. The model is fake_bpu_model.FakeBpuModel.

set_scheduling_params(priority=None, bpu_cores=None, custom_id=None, device_id=None) takes
dicts keyed by model name, converted as pybind11 does: a non-dict, a float or a str where an
int (or a list of ints) belongs is a TypeError (incompatible function arguments); an unknown
model name, a priority outside 0..255 or a core the X5 lacks (it has core 0; -1 lets the
scheduler pick) a ValueError. The settings are kept (sched_params reads them back) and every
later run() hands them to the emulated BPU, which records them.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, Optional

from fake_bpu_model import FakeBpuModel
import numpy as np

VERSION = '3.0.9'
__all__ = ['HB_HBMRuntime', 'QuantParams', 'SchedParam', 'hbDNNDataType', 'hbDNNQuantiType']


class hbDNNDataType(enum.IntEnum):  # noqa: N801 (the real module's name)
    """Tensor data types; the X5 build also reports NV12 for an NV12 model input."""

    S4 = 0
    U4 = 1
    S8 = 2
    U8 = 3
    F16 = 4
    S16 = 5
    U16 = 6
    F32 = 7
    S32 = 8
    U32 = 9
    F64 = 10
    S64 = 11
    U64 = 12
    BOOL8 = 13
    NV12 = 14
    MAX = 15


class hbDNNQuantiType(enum.IntEnum):  # noqa: N801 (the real module's name)
    """Quantization types."""

    NONE = 0
    SCALE = 1


class QuantParams:
    """quant_type, axis, scale, zero_point: nothing else."""

    __slots__ = ('axis', 'quant_type', 'scale', 'zero_point')

    def __init__(self, quant_type: hbDNNQuantiType, axis: int, scale: np.ndarray,
                 zero_point: np.ndarray) -> None:
        self.quant_type = quant_type
        self.axis = axis
        self.scale = scale
        self.zero_point = zero_point


class SchedParam:
    """priority, customId, bpu_cores, deviceId: nothing else."""

    __slots__ = ('bpu_cores', 'customId', 'deviceId', 'priority')

    def __init__(self) -> None:
        self.priority = 0
        self.customId = 0
        self.bpu_cores = [-1]
        self.deviceId = 0


_INPUT = 'images'


class HB_HBMRuntime:  # noqa: N801 (the real module's name)
    """One or more fake .bin models; see the module docstring."""

    def __init__(self, model_files: Any) -> None:
        if isinstance(model_files, str):
            paths = [model_files]
        elif isinstance(model_files, list) and all(isinstance(p, str) for p in model_files):
            paths = model_files
        else:
            raise TypeError('__init__(): incompatible constructor arguments. The following '
                            'argument types are supported:\n    1. (model_file: str)\n'
                            '    2. (model_files: List[str])\n'
                            f'Invoked with: {model_files!r}')
        self._models: dict[str, FakeBpuModel] = {}
        for path in paths:
            try:
                model = FakeBpuModel(Path(path))
            except Exception as error:
                raise RuntimeError(f'Failed to load model {path}: {error}') from error
            self._models[model.model_name] = model
        self._sched = {name: SchedParam() for name in self._models}

    @staticmethod
    def version() -> str:
        return VERSION

    @property
    def model_names(self) -> list[str]:
        return list(self._models)

    @property
    def model_count(self) -> int:
        return len(self._models)

    @property
    def input_counts(self) -> dict[str, int]:
        return dict.fromkeys(self._models, 1)

    @property
    def input_names(self) -> dict[str, list[str]]:
        return {name: [_INPUT] for name in self._models}

    @property
    def input_descs(self) -> dict[str, dict[str, str]]:
        return {name: {_INPUT: ''} for name in self._models}

    @property
    def input_shapes(self) -> dict[str, dict[str, list[int]]]:
        return {name: {_INPUT: [1, 3, m.height, m.width]} for name, m in self._models.items()}

    @property
    def input_dtypes(self) -> dict[str, dict[str, hbDNNDataType]]:
        return {name: {_INPUT: hbDNNDataType.NV12} for name in self._models}

    @property
    def input_quants(self) -> dict[str, dict[str, QuantParams]]:
        return {name: {_INPUT: _no_quant()} for name in self._models}

    @property
    def input_strides(self) -> dict[str, dict[str, list[int]]]:
        return {name: {_INPUT: [-1, -1, -1, -1]} for name in self._models}

    @property
    def output_counts(self) -> dict[str, int]:
        return {name: len(m.outputs) for name, m in self._models.items()}

    @property
    def output_names(self) -> dict[str, list[str]]:
        return {name: [o.name for o in m.outputs] for name, m in self._models.items()}

    @property
    def output_descs(self) -> dict[str, dict[str, str]]:
        return {name: {o.name: '' for o in m.outputs} for name, m in self._models.items()}

    @property
    def output_shapes(self) -> dict[str, dict[str, list[int]]]:
        return {name: {o.name: list(o.shape) for o in m.outputs}
                for name, m in self._models.items()}

    @property
    def output_dtypes(self) -> dict[str, dict[str, hbDNNDataType]]:
        return {name: {o.name: hbDNNDataType.S32 if o.scale is not None else hbDNNDataType.F32
                       for o in m.outputs} for name, m in self._models.items()}

    @property
    def output_quants(self) -> dict[str, dict[str, QuantParams]]:
        return {name: {o.name: _no_quant() if o.scale is None else QuantParams(
                    hbDNNQuantiType.SCALE, len(o.shape) - 1, o.scale.copy(),
                    np.zeros(o.scale.size, np.int32)) for o in m.outputs}
                for name, m in self._models.items()}

    @property
    def output_strides(self) -> dict[str, dict[str, list[int]]]:
        return {name: {o.name: [int(s) for s in np.empty(o.shape, np.float32).strides]
                       for o in m.outputs} for name, m in self._models.items()}

    @property
    def model_descs(self) -> dict[str, str]:
        return dict.fromkeys(self._models, '')

    @property
    def hbm_descs(self) -> dict[str, str]:
        return dict.fromkeys(self._models, '')

    @property
    def sched_params(self) -> dict[str, SchedParam]:
        return dict(self._sched)

    def set_scheduling_params(self, priority: Optional[dict[str, int]] = None,
                              bpu_cores: Optional[dict[str, list[int]]] = None,
                              custom_id: Optional[dict[str, int]] = None,
                              device_id: Optional[dict[str, int]] = None) -> None:
        given = (('priority', priority, False), ('bpu_cores', bpu_cores, True),
                 ('customId', custom_id, False), ('deviceId', device_id, False))
        for _, values, is_list in given:  # pybind11 converts every argument first
            if values is not None and not _converts(values, is_list):
                raise TypeError('set_scheduling_params(): incompatible function arguments. '
                                'The following argument types are supported:\n    1. '
                                '(self, priority: Optional[Dict[str, int]] = None, bpu_cores: '
                                'Optional[Dict[str, List[int]]] = None, custom_id: Optional['
                                'Dict[str, int]] = None, device_id: Optional[Dict[str, int]] '
                                f'= None) -> None\n\nInvoked with: {values!r}')
        for field, values, _ in given:
            for name, value in (values or {}).items():
                self._check_model_name(name)
                if field == 'priority' and not 0 <= int(value) <= 255:
                    raise ValueError(f'priority {value} out of range [0, 255]')
                if field == 'bpu_cores' and (not value or any(core not in (-1, 0)
                                                              for core in value)):
                    raise ValueError(f'invalid BPU core in {value}: the X5 has core 0 only')
                setattr(self._sched[name], field, [int(c) for c in value]
                        if field == 'bpu_cores' else int(value))

    def run(self, x: Any, **kwargs: Any) -> dict[str, dict[str, np.ndarray]]:
        requests = self._requests(x, kwargs.get('model_name'))
        results = {}
        for name, inputs in requests.items():
            model = self._models[name]
            if set(inputs) != {_INPUT}:
                raise ValueError(f'model {name}: input names {sorted(inputs)} do not match '
                                 f'{[_INPUT]}')
            array = inputs[_INPUT]
            if not isinstance(array, np.ndarray):
                raise TypeError(f'input {_INPUT} must be a numpy.ndarray, got '
                                f'{type(array).__name__}')
            if array.dtype != np.uint8:
                raise ValueError(f'Data type mismatch for input tensor {_INPUT}: expected '
                                 f'uint8, got {array.dtype}')
            if array.size != model.nv12_bytes:
                raise ValueError(f'Shape mismatch for input tensor {_INPUT}: {array.size} '
                                 f'elements, expected {model.nv12_bytes}')
            sched = self._sched[name]
            values = model.run(np.ascontiguousarray(array).tobytes(), sched.priority,
                               tuple(sched.bpu_cores))
            results[name] = {o.name: v for o, v in zip(model.outputs, values)}
        return results

    def _requests(self, x: Any, model_name: Optional[str]) -> dict[str, dict[str, Any]]:
        if model_name is not None:
            self._check_model_name(model_name)
        if isinstance(x, np.ndarray):
            if len(self._models) != 1 and model_name is None:
                raise ValueError('a bare array needs exactly one loaded model or model_name=')
            return {model_name or next(iter(self._models)): {_INPUT: x}}
        if not isinstance(x, dict):
            raise TypeError(f'run(): expected an ndarray or a dict, got {type(x).__name__}')
        if x and all(isinstance(v, dict) for v in x.values()):
            for name in x:
                self._check_model_name(name)
            return x
        if len(self._models) != 1 and model_name is None:
            raise ValueError('an {input: array} dict needs exactly one loaded model or '
                             'model_name=')
        return {model_name or next(iter(self._models)): x}

    def _check_model_name(self, name: str) -> None:
        if name not in self._models:
            raise ValueError(f'model name {name!r} not found; loaded: {list(self._models)}')


def _converts(values: Any, is_list: bool) -> bool:
    """Tell whether pybind11 converts values to Dict[str, int] (or Dict[str, List[int]])."""
    def is_int(value: Any) -> bool:
        return not isinstance(value, float) and hasattr(value, '__index__')
    if not isinstance(values, dict) or not all(isinstance(k, str) for k in values):
        return False
    if not is_list:
        return all(is_int(v) for v in values.values())
    return all(isinstance(v, (list, tuple)) and all(is_int(c) for c in v)
               for v in values.values())


def _no_quant() -> QuantParams:
    return QuantParams(hbDNNQuantiType.NONE, 0, np.zeros(0, np.float32),
                       np.zeros(0, np.int32))
