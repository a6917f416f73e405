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
Inference backends with one small interface: the board's BPU runtimes and ONNX Runtime.

No rclpy here. A .bin runs on hbm_runtime (RDK OS >= 3.5) or hobot_dnn's pyeasy_dnn (every X5
image); an .onnx on ONNX Runtime. create_backend picks by setting; 'auto' picks by file
extension and, for a .bin, prefers hbm_runtime and falls back to pyeasy_dnn.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from yolov8_seg_ros.backends.base import Backend, BackendError, BPU_ANY_CORE, \
    BPU_DEFAULT_PRIORITY, BPU_PRIORITY_RANGE, check_scheduling, RuntimeUnavailableError, \
    scheduling_problem

BACKEND_NAMES = ('auto', 'hbm_runtime', 'hobot_dnn', 'onnxruntime')
BPU_BACKENDS = ('hbm_runtime', 'hobot_dnn')  # in the order 'auto' tries them for a .bin
NO_BPU_RUNTIME = ('a .bin model needs a BPU runtime (hbm_runtime from RDK OS 3.5.0 on, or '
                  'hobot_dnn.pyeasy_dnn), which exists only on the RDK X5 board; on this '
                  'machine use an .onnx model with the onnxruntime backend')

__all__ = ['BACKEND_NAMES', 'BPU_ANY_CORE', 'BPU_BACKENDS', 'BPU_DEFAULT_PRIORITY',
           'BPU_PRIORITY_RANGE', 'NO_BPU_RUNTIME', 'Backend', 'BackendError',
           'RuntimeUnavailableError', 'candidate_backends', 'create_backend',
           'scheduling_problem']


def candidate_backends(name: str, model_path: str) -> tuple[str, ...]:
    """Backends to try in order: the named one, or for 'auto' those that run the extension."""
    if name not in BACKEND_NAMES:
        raise BackendError(f'backend {name!r}: expected one of {BACKEND_NAMES}')
    if name != 'auto':
        return (name,)
    suffix = Path(model_path).suffix.lower()
    if suffix == '.bin':
        return BPU_BACKENDS
    if suffix == '.onnx':
        return ('onnxruntime',)
    raise BackendError(f'model {model_path!r}: cannot choose a backend for extension '
                       f'{suffix!r}; expected .bin (hbm_runtime or hobot_dnn) or .onnx '
                       '(onnxruntime)')


def create_backend(name: str, model_path: str, num_threads: int = 0,
                   providers: tuple[str, ...] = ('cpu',),
                   bpu_priority: int = BPU_DEFAULT_PRIORITY,
                   bpu_cores: Sequence[int] = (BPU_ANY_CORE,)) -> Backend:
    """
    Load model_path with the named backend; raises BackendError with the cause.

    For 'auto' and a .bin, hbm_runtime is tried first; when it is missing (images before RDK OS
    3.5) pyeasy_dnn loads the model, and when it is present but fails, the fallback's warnings
    say why. Both failing raises one error with both causes. bpu_priority (0..255) and
    bpu_cores ([-1]: the runtime picks, else core indices from 0) schedule a BPU model; ONNX
    Runtime ignores them (with a warning when they differ from the defaults). The backend's
    scheduling says what was applied.
    """
    priority, cores = check_scheduling(bpu_priority, bpu_cores)
    path = Path(model_path)
    if path.is_dir():
        raise BackendError(f'model_path {model_path!r} is a directory; expected a model file '
                           '(.bin or .onnx)')
    if not path.is_file():
        what = 'is not a regular file' if path.exists() else 'does not exist'
        raise BackendError(f'model file {model_path!r} {what}')
    candidates = candidate_backends(name, model_path)
    failures: list[BackendError] = []
    for candidate in candidates:
        try:
            backend = _load(candidate, model_path, num_threads, providers, priority, cores)
        except BackendError as error:
            failures.append(error)
            continue
        skipped = [str(e) for e in failures if not isinstance(e, RuntimeUnavailableError)]
        if skipped:
            backend.warnings = (*backend.warnings,
                                f'using {backend.name}: {"; ".join(skipped)}')
        if candidate not in BPU_BACKENDS and (priority, cores) != (BPU_DEFAULT_PRIORITY,
                                                                   (BPU_ANY_CORE,)):
            backend.warnings = (*backend.warnings,
                                f'bpu_priority {priority} and bpu_cores {list(cores)} are '
                                f'ignored: {backend.name} runs no BPU model')
        return backend
    if len(failures) == 1:
        raise failures[0]
    if all(isinstance(e, RuntimeUnavailableError) for e in failures):
        raise RuntimeUnavailableError(NO_BPU_RUNTIME)
    raise BackendError('no BPU runtime could load the model: ' + '; '.join(map(str, failures)))


def _load(name: str, model_path: str, num_threads: int, providers: tuple[str, ...],
          priority: int, cores: tuple[int, ...]) -> Backend:
    if name == 'hbm_runtime':
        from yolov8_seg_ros.backends.hbm_runtime_backend import HbmRuntimeBackend
        return HbmRuntimeBackend(model_path, bpu_priority=priority, bpu_cores=cores)
    if name == 'hobot_dnn':
        from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend
        return HobotDnnBackend(model_path, bpu_priority=priority, bpu_cores=cores)
    from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    return OnnxRuntimeBackend(model_path, num_threads=num_threads, providers=providers)
