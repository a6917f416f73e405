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

"""A backend that stands in front of a real one, for the bench's and the tests' node launchers."""

from __future__ import annotations

import numpy as np
from yolov8_seg_ros.backends import Backend
from yolov8_seg_ros.layout import RawOutput


class WrappedBackend:
    """Delegates to a real backend, showing its model, input and layout; subclasses vary infer."""

    name = 'wrapped'

    def __init__(self, real: Backend) -> None:
        self._real = real
        self.model_path = real.model_path
        self.input_wh = real.input_wh
        self.input_format = real.input_format
        self.runtime_version = real.runtime_version
        self.warnings = real.warnings
        self.layout = real.layout
        self.scheduling = real.scheduling

    def infer(self, tensor: np.ndarray) -> list[RawOutput]:
        """Run the real backend."""
        return self._real.infer(tensor)
