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
hbm_runtime backend (RDK OS >= 3.5) for BPU .bin models on the RDK X5.

Follows the runtime's contract: the NV12 frame as ONE packed, C-contiguous uint8 buffer of
exactly H*W*3/2 bytes, passed as {model_name: {input_name: buffer}}; outputs read by name in
the model's output order; integer outputs come back raw and are dequantized with the scales
and zero points of output_quants; float outputs are used as they are. The import is probed
with a broad except: PyPI's S100 build fails on an X5 with RuntimeError, not ImportError.
Scheduling is set once after loading, with set_scheduling_params (only what differs from the
runtime's defaults), and read back from sched_params for the report.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any, Optional, Sequence

import numpy as np

from yolov8_seg_ros.backends.base import BackendError, BPU_ANY_CORE, BPU_DEFAULT_PRIORITY, \
    check_scheduling, Nv12BpuModel, quantized_output, RuntimeUnavailableError
from yolov8_seg_ros.layout import RawOutput

UNAVAILABLE = ('the hbm_runtime backend needs the BPU runtime hbm_runtime, which comes with '
               'the RDK X5 image from RDK OS 3.5.0 on (never from pip: the hbm-runtime on PyPI '
               'is the RDK S100 build)')


def import_hbm_runtime() -> ModuleType:
    """Import the board's hbm_runtime; any failure (a wrong build raises RuntimeError) -> error."""
    try:
        import hbm_runtime
    except ImportError as error:
        raise RuntimeUnavailableError(UNAVAILABLE) from error
    except Exception as error:  # the S100 build's library check raises RuntimeError
        detail = ' '.join(str(error).split())[:300]  # its message spans several lines
        raise BackendError(f'hbm_runtime is installed but does not import '
                           f'({type(error).__name__}: {detail}); it is probably the RDK '
                           'S100 build from PyPI shadowing the one of the image (pip '
                           'uninstall hbm-runtime)') from error
    return hbm_runtime


class HbmRuntimeBackend(Nv12BpuModel):
    """One BPU model through hbm_runtime; NV12 input; outputs as RawOutput."""

    name = 'hbm_runtime'
    input_format = 'nv12'

    def __init__(self, model_path: str, hbm_runtime: Optional[ModuleType] = None,
                 bpu_priority: int = BPU_DEFAULT_PRIORITY,
                 bpu_cores: Sequence[int] = (BPU_ANY_CORE,)) -> None:
        priority, cores = check_scheduling(bpu_priority, bpu_cores)
        module = hbm_runtime if hbm_runtime is not None else import_hbm_runtime()
        self.model_path = model_path
        self.warnings: tuple[str, ...] = ()
        try:
            self.runtime_version = str(module.HB_HBMRuntime.version())
            self._runtime = module.HB_HBMRuntime(str(model_path))
            self._model_name = self._runtime.model_names[0]
            input_names = list(self._runtime.input_names[self._model_name])
            self._input_name = input_names[0]
            input_shape = tuple(int(d) for d in
                                self._runtime.input_shapes[self._model_name][self._input_name])
            input_type = self._runtime.input_dtypes[self._model_name][self._input_name].name
            self.output_names = tuple(self._runtime.output_names[self._model_name])
            quants = self._runtime.output_quants[self._model_name]
            self._quants = [_scale_params(quants[name]) for name in self.output_names]
        except Exception as error:  # the runtime raises RuntimeError, ValueError, TypeError
            raise BackendError(f'hbm_runtime could not load {model_path!r}: {error}') from error
        if len(input_names) != 1 or input_type != 'NV12' or len(input_shape) != 4:
            raise BackendError(f'model {model_path!r}: inputs {input_names} ({input_type} '
                               f'{input_shape}); this node feeds one NV12 input (build the .bin '
                               'with input_type_rt nv12)')
        self._set_input_shape(input_shape)
        self.scheduling = self._schedule(priority, cores)
        self.layout = self._resolve_layout()

    def _schedule(self, priority: int, cores: tuple[int, ...]) -> dict[str, str]:
        """Set the model's BPU scheduling where it differs from the default; report the result."""
        settings: dict[str, Any] = {}
        if priority != BPU_DEFAULT_PRIORITY:
            settings['priority'] = {self._model_name: priority}
        if cores != (BPU_ANY_CORE,):
            settings['bpu_cores'] = {self._model_name: list(cores)}
        if settings:
            try:
                self._runtime.set_scheduling_params(**settings)
            except Exception as error:  # ValueError (range, core) or TypeError from pybind11
                raise BackendError(f'hbm_runtime refused bpu_priority {priority} and bpu_cores '
                                   f'{list(cores)} for {self.model_path!r}: {error}') from error
        try:
            applied = self._runtime.sched_params[self._model_name]
            return {'bpu_priority': str(int(applied.priority)),
                    'bpu_cores': str([int(c) for c in applied.bpu_cores])}
        except Exception as error:  # the report is a courtesy: never fail the load for it
            return {'bpu_priority': f'{priority} (set; sched_params unreadable: {error})',
                    'bpu_cores': f'{list(cores)} (set; sched_params unreadable)'}

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Run one NV12 frame (exactly H*W*3/2 bytes)."""
        data = self._nv12_input(tensor)
        try:
            results = self._runtime.run({self._model_name: {self._input_name: data}})
            outputs = results[self._model_name]
            arrays = [np.asarray(outputs[name]) for name in self.output_names]
        except Exception as error:  # RuntimeError/ValueError from the runtime, KeyError here
            raise BackendError(f'hbm_runtime run failed for {self.model_path!r}: '
                               f'{error}') from error
        return [RawOutput(a) if q is None else quantized_output(a, *q)
                for a, q in zip(arrays, self._quants)]


def _scale_params(quant: Any) -> Optional[tuple[np.ndarray, np.ndarray, int]]:
    """(scale, zero_point, axis) copied from a QuantParams of type SCALE; None otherwise."""
    if quant.quant_type.name != 'SCALE':
        return None
    return (np.array(quant.scale, np.float32, copy=True).reshape(-1),
            np.array(quant.zero_point, np.float32, copy=True).reshape(-1), int(quant.axis))
