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
hobot_dnn (pyeasy_dnn) backend for BPU .bin models on the RDK X5.

Follows the runtime's contract exactly: NV12 input of exactly H*W*3/2 C-contiguous uint8 bytes
(forward checks nothing itself), each output buffer read once per forward (every .buffer access
copies), scale_data copied at load; an output is quantized when its dtype is an integer type and
its scale_data is non-empty. Scheduling goes with every forward(core_id=, priority=): core_id 0
lets the runtime pick, core_id c + 1 is core c; one core per forward.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType
from typing import Optional, Sequence

import numpy as np

from yolov8_seg_ros.backends.base import BackendError, BPU_ANY_CORE, BPU_DEFAULT_PRIORITY, \
    check_scheduling, Nv12BpuModel, quantized_output, RuntimeUnavailableError
from yolov8_seg_ros.layout import RawOutput

UNAVAILABLE = ('the hobot_dnn backend needs the RDK X5 BPU runtime (hobot_dnn.pyeasy_dnn), '
               'which exists only on the board; on this machine use an .onnx model with the '
               'onnxruntime backend')


def import_pyeasy_dnn() -> ModuleType:
    """Import pyeasy_dnn from the board's system package or the PyPI wheel."""
    try:
        from hobot_dnn import pyeasy_dnn
        return pyeasy_dnn
    except ImportError:
        pass
    try:
        from hobot_dnn_rdkx5 import pyeasy_dnn
        return pyeasy_dnn
    except ImportError as error:
        raise RuntimeUnavailableError(UNAVAILABLE) from error


def distribution_version(*names: str) -> str:
    """Version of the first installed distribution among names ('unknown' if none is)."""
    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return 'unknown'


class HobotDnnBackend(Nv12BpuModel):
    """One BPU model; NV12 input; outputs as RawOutput with scales where quantized."""

    name = 'hobot_dnn'
    input_format = 'nv12'

    def __init__(self, model_path: str, pyeasy_dnn: Optional[ModuleType] = None,
                 bpu_priority: int = BPU_DEFAULT_PRIORITY,
                 bpu_cores: Sequence[int] = (BPU_ANY_CORE,)) -> None:
        priority, cores = check_scheduling(bpu_priority, bpu_cores)
        if len(cores) != 1:
            raise BackendError(f'bpu_cores {list(cores)}: hobot_dnn (pyeasy_dnn) runs each '
                               'forward on one core (core_id); give one core, or '
                               f'[{BPU_ANY_CORE}] to let the runtime pick')
        # pyeasy_dnn numbers cores from 1 (0: any), hbm_runtime from 0 (-1: any).
        self._core_id = 0 if cores == (BPU_ANY_CORE,) else cores[0] + 1
        self._priority = priority
        self.scheduling = {'bpu_priority': str(priority),
                           'bpu_cores': f'{list(cores)} (forward core_id {self._core_id})'}
        module = pyeasy_dnn if pyeasy_dnn is not None else import_pyeasy_dnn()
        self.model_path = model_path
        self.warnings: tuple[str, ...] = ()
        self.runtime_version = distribution_version('hobot-dnn', 'hobot-dnn-rdkx5')
        try:
            models = module.load(str(model_path))
            self._model = models[0]
            input_props = self._model.inputs[0].properties
            input_shape = tuple(int(d) for d in input_props.shape)
            input_type = str(input_props.tensor_type)
            outputs = self._model.outputs
            self.output_names = tuple(str(t.name) for t in outputs)
            scales = [np.array(t.properties.scale_data, dtype=np.float32, copy=True).reshape(-1)
                      for t in outputs]
        except Exception as error:  # the runtime raises RuntimeError/SystemError
            raise BackendError(f'hobot_dnn could not load {model_path!r}: {error}') from error
        if input_type.upper() != 'NV12' or len(input_shape) != 4:
            raise BackendError(f'model {model_path!r}: input is {input_type} {input_shape}; this '
                               'node feeds NV12 (build the .bin with input_type_rt nv12)')
        self._scales = scales
        self._set_input_shape(input_shape)
        self.layout = self._resolve_layout()

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Run one NV12 frame (exactly H*W*3/2 bytes)."""
        data = self._nv12_input(tensor)
        try:
            tensors = self._model.forward(data, core_id=self._core_id, priority=self._priority)
            buffers = [t.buffer for t in tensors]  # each access copies: read once
        except Exception as error:  # the runtime raises RuntimeError/SystemError
            raise BackendError(f'hobot_dnn forward failed for {self.model_path!r}: '
                               f'{error}') from error
        return [quantized_output(b, s) if s.size else RawOutput(b)
                for b, s in zip(buffers, self._scales)]
