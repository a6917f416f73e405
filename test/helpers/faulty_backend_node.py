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
Run the yolov8_seg node with a backend that fails on purpose after some frames (tests only).

YOLOV8_SEG_TEST_FAULT=hang:N makes inference N+1 block forever without holding the GIL (a
stuck worker); die:N makes it raise a BaseException that no `except Exception` catches (a
dead worker). Arguments are the node's ROS arguments.
"""

import os
from pathlib import Path
import sys
import threading

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from helpers.wrapped_backend import WrappedBackend  # noqa: E402, I100
from yolov8_seg_ros.backends import Backend, create_backend  # noqa: E402
from yolov8_seg_ros.node import main  # noqa: E402


class WorkerKilled(BaseException):
    """Escapes the worker's error handling, as an interpreter-level failure would."""


class FaultyBackend(WrappedBackend):
    """Wraps a real backend; after `after` frames it hangs or raises WorkerKilled."""

    name = 'faulty'

    def __init__(self, real: Backend, fault: str) -> None:
        super().__init__(real)
        mode, _, after = fault.partition(':')
        self._mode = mode
        self._after = int(after or 0)
        self._frames = 0

    def infer(self, tensor):
        """Infer with the real backend until the fault's frame."""
        self._frames += 1
        if self._frames > self._after:
            if self._mode == 'hang':
                threading.Event().wait()
            raise WorkerKilled(f'injected after {self._after} frames')
        return self._real.infer(tensor)


def faulty_factory(name: str, model_path: str, **kwargs) -> Backend:
    """Backend factory for yolov8_seg_ros.node.main."""
    return FaultyBackend(create_backend(name, model_path, **kwargs),
                         os.environ['YOLOV8_SEG_TEST_FAULT'])


if __name__ == '__main__':
    raise SystemExit(main(sys.argv, backend_factory=faulty_factory))
