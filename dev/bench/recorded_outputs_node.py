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
Run the yolov8_seg node with a backend that returns recorded raw outputs instantly.

This measures the node's own cost (conversion, preprocess, postprocess, messages, DDS).

The backend runs the real model once, on the first frame, and returns those outputs for every
later frame (the bench sends the same image each time). The real backend's own warm-up at load
does not go through it. Arguments are the node's ROS arguments.
"""

import sys
from typing import Optional

from yolov8_seg_ros.backends import Backend, create_backend
from yolov8_seg_ros.node import main
from yolov8_seg_ros.layout import RawOutput


class RecordedOutputsBackend:
    """Wraps a real backend: the first frame is inferred, later frames replay its outputs."""

    name = 'recorded_outputs'

    def __init__(self, real: Backend) -> None:
        self._real = real
        self.model_path = real.model_path
        self.input_wh = real.input_wh
        self.input_format = real.input_format
        self.warnings = real.warnings
        self.layout = real.layout
        self._recorded: Optional[list[RawOutput]] = None

    def infer(self, tensor) -> list[RawOutput]:
        """Return the outputs recorded on the first frame."""
        if self._recorded is None:
            self._recorded = self._real.infer(tensor)
        return self._recorded


def recorded_factory(name: str, model_path: str, **kwargs) -> Backend:
    """Backend factory for yolov8_seg_ros.node.main."""
    return RecordedOutputsBackend(create_backend(name, model_path, **kwargs))


if __name__ == '__main__':
    raise SystemExit(main(sys.argv, backend_factory=recorded_factory))
