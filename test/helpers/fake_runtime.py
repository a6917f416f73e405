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


"""Import the test-only pyeasy_dnn fake (test/fakes) for the duration of a block."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import importlib
import sys
from types import ModuleType

from helpers.models import ROOT

FAKES = ROOT / 'test' / 'fakes'


@contextlib.contextmanager
def fake_pyeasy_dnn() -> Iterator[ModuleType]:
    """Yield hobot_dnn.pyeasy_dnn from test/fakes; sys.path and sys.modules restored after."""
    sys.path.insert(0, str(FAKES))
    try:
        yield importlib.import_module('hobot_dnn.pyeasy_dnn')
    finally:
        sys.path.remove(str(FAKES))
        for name in [m for m in sys.modules if m.startswith('hobot_dnn')]:
            del sys.modules[name]
