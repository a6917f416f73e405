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

"""ONNX Runtime backend for the exported split-head .onnx (CPU; CUDA/TensorRT when asked)."""

from __future__ import annotations

import numpy as np

from yolov8_seg_ros.backends.base import BackendError
from yolov8_seg_ros.layout import LayoutError, RawOutput, resolve_layout

PROVIDERS = {'cpu': 'CPUExecutionProvider', 'cuda': 'CUDAExecutionProvider',
             'tensorrt': 'TensorrtExecutionProvider'}


class OnnxRuntimeBackend:
    """Float RGB NCHW input, float outputs; validated and warmed up at load."""

    name = 'onnxruntime'
    input_format = 'rgb_nchw'

    def __init__(self, model_path: str, num_threads: int = 0,
                 providers: tuple[str, ...] = ('cpu',)) -> None:
        try:
            import onnxruntime as ort
        except ImportError as error:
            raise BackendError('the onnxruntime backend needs the onnxruntime Python package '
                               '(pip install onnxruntime)') from error
        self.model_path = model_path
        self.runtime_version = str(ort.__version__)
        self.scheduling = {'bpu_priority': 'none (onnxruntime: no BPU)',
                           'bpu_cores': 'none (onnxruntime: no BPU)'}
        unknown = [p for p in providers if p not in PROVIDERS]
        if unknown:
            raise BackendError(f'execution providers {unknown}: expected some of '
                               f'{tuple(PROVIDERS)}')
        available = ort.get_available_providers()
        chosen = [PROVIDERS[p] for p in providers if PROVIDERS[p] in available]
        missing = [p for p in providers if PROVIDERS[p] not in available]
        self.warnings: tuple[str, ...] = ()
        if missing:
            self.warnings = (f'execution providers {missing} are not available in this '
                             f'onnxruntime (has {available}); using the CPU',)
        if PROVIDERS['cpu'] not in chosen:
            chosen.append(PROVIDERS['cpu'])
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(num_threads)
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self._session = ort.InferenceSession(model_path, options, providers=chosen)
        except Exception as error:  # onnxruntime raises its own exception types
            raise BackendError(f'onnxruntime could not load {model_path!r}: {error}') from error
        self.providers = tuple(self._session.get_providers())
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[:2] != [1, 3] \
                or not all(isinstance(d, int) for d in inputs[0].shape):
            raise BackendError(f'model {model_path!r}: expected one fixed (1, 3, H, W) input, '
                               f'got {[(i.name, i.shape) for i in inputs]}')
        if inputs[0].type != 'tensor(float)':
            raise BackendError(f'model {model_path!r}: input {inputs[0].name!r} is '
                               f'{inputs[0].type}, expected tensor(float)')
        self._input_name = inputs[0].name
        self.input_wh = (int(inputs[0].shape[3]), int(inputs[0].shape[2]))
        self.output_names = tuple(o.name for o in self._session.get_outputs())
        shapes = [tuple(o.shape) for o in self._session.get_outputs()]
        try:
            if not all(isinstance(d, int) for s in shapes for d in s):
                raise LayoutError(f'outputs {shapes} have dynamic dimensions')
            self.layout = resolve_layout(shapes)
        except LayoutError as error:
            raise BackendError(f'model {model_path!r}: {error}') from error
        self.infer(np.zeros((1, 3, self.input_wh[1], self.input_wh[0]), dtype=np.float32))

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Run one (1, 3, H, W) float32 RGB tensor."""
        try:
            outputs = self._session.run(None, {self._input_name: tensor})
        except Exception as error:  # onnxruntime raises its own exception types
            raise BackendError(f'onnxruntime inference failed for {self.model_path!r}: '
                               f'{error}') from error
        return [RawOutput(o, None) for o in outputs]
