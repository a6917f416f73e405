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
Inference backends with one small interface: hobot_dnn (BPU .bin) and ONNX Runtime (.onnx).

No rclpy here. create_backend picks one by setting ('auto' chooses by file extension).
"""

from __future__ import annotations

from pathlib import Path

from yolov8_seg_ros.backends.base import Backend, BackendError

BACKEND_NAMES = ('auto', 'hobot_dnn', 'onnxruntime')

__all__ = ['Backend', 'BackendError', 'BACKEND_NAMES', 'create_backend', 'resolve_backend_name']


def resolve_backend_name(name: str, model_path: str) -> str:
    """Resolve 'auto' by file extension: .bin -> hobot_dnn, .onnx -> onnxruntime."""
    if name not in BACKEND_NAMES:
        raise BackendError(f'backend {name!r}: expected one of {BACKEND_NAMES}')
    if name != 'auto':
        return name
    suffix = Path(model_path).suffix.lower()
    if suffix == '.bin':
        return 'hobot_dnn'
    if suffix == '.onnx':
        return 'onnxruntime'
    raise BackendError(f'model {model_path!r}: cannot choose a backend for extension '
                       f'{suffix!r}; expected .bin (hobot_dnn) or .onnx (onnxruntime)')


def create_backend(name: str, model_path: str, num_threads: int = 0,
                   providers: tuple[str, ...] = ('cpu',)) -> Backend:
    """Load model_path with the named backend; raises BackendError with the cause."""
    path = Path(model_path)
    if path.is_dir():
        raise BackendError(f'model_path {model_path!r} is a directory; expected a model file '
                           '(.bin or .onnx)')
    if not path.is_file():
        what = 'is not a regular file' if path.exists() else 'does not exist'
        raise BackendError(f'model file {model_path!r} {what}')
    resolved = resolve_backend_name(name, model_path)
    if resolved == 'hobot_dnn':
        from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend
        return HobotDnnBackend(model_path)
    from yolov8_seg_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    return OnnxRuntimeBackend(model_path, num_threads=num_threads, providers=providers)
