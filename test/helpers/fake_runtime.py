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


"""The board-runtime fakes (test/fakes): imported for the duration of a block, fake .bin files."""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import importlib
import importlib.util
from pathlib import Path
import sys
from types import ModuleType

from helpers.models import ROOT

FAKES = ROOT / 'test' / 'fakes'
# PyPI's hbm-runtime (the S100 build) on an X5: its import raises RuntimeError. Put this folder
# before FAKES on a node's PYTHONPATH to emulate a user who pip-installed it.
S100_WHEEL = FAKES / 's100_wheel'
_FAKE_PACKAGES = ('hobot_dnn', 'hbm_runtime', 'fake_bpu_model')


def _load_core() -> ModuleType:
    """fake_bpu_model under a private name, leaving sys.path (and the fakes) untouched."""
    name = '_fake_bpu_model_for_tests'
    spec = importlib.util.spec_from_file_location(name, FAKES / 'fake_bpu_model.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_CORE = _load_core()
LAYOUTS: tuple[str, ...] = _CORE.LAYOUTS


def write_fake_bin(onnx_path: Path, bin_path: Path, layout: str = 'int32',
                   latency_ms: float = 0.0) -> Path:
    """Write a fake .bin (loadable by both fakes) in the 'int32' or 'float32' output layout."""
    return _CORE.write_fake_bin(onnx_path, bin_path, layout, latency_ms)


@contextlib.contextmanager
def fake_module(name: str, *paths: Path) -> Iterator[ModuleType]:
    """Yield the fake module name from paths (default FAKES); sys.path and sys.modules restored."""
    folders = [str(p) for p in (paths or (FAKES,))]
    sys.path[:0] = folders
    try:
        yield importlib.import_module(name)
    finally:
        for folder in folders:
            sys.path.remove(folder)
        for module in [m for m in sys.modules if m.split('.')[0] in _FAKE_PACKAGES]:
            del sys.modules[module]


def fake_pyeasy_dnn() -> contextlib.AbstractContextManager[ModuleType]:
    """hobot_dnn.pyeasy_dnn from test/fakes."""
    return fake_module('hobot_dnn.pyeasy_dnn')


def fake_hbm_runtime() -> contextlib.AbstractContextManager[ModuleType]:
    """hbm_runtime from test/fakes."""
    return fake_module('hbm_runtime')
