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

"""Test-wide settings (one ROS domain per xdist worker, discovery on this host) and fixtures."""

import os
from pathlib import Path
import sys

# Must happen before any test imports rclpy: each worker gets its own DDS domain so that
# parallel tests never see each other's topics.
_worker = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
_base = int(os.environ.get('YOLOV8_SEG_TEST_DOMAIN_BASE', '40'))
os.environ['ROS_DOMAIN_ID'] = str(_base + int(_worker.removeprefix('gw') or 0))
# Discovery on this host only: ROS_LOCALHOST_ONLY up to Humble (the board), the discovery range
# from Iron on (where ROS_LOCALHOST_ONLY is deprecated and warns in every process).
if os.environ.get('ROS_DISTRO', '') in ('foxy', 'galactic', 'humble'):
    os.environ.setdefault('ROS_LOCALHOST_ONLY', '1')
else:
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

TEST_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TEST_DIR))


import pytest  # noqa: E402  (after the environment above is set)


@pytest.hookimpl(wrapper=True)
def pytest_pycollect_makemodule(module_path, parent):
    """
    Let a test module's own module-level skip skip that module only.

    launch_testing's pytest plugin imports every test module inside this hook; a module that
    skips at import (launch_ros missing) would otherwise end the collection of the whole
    directory. Handing the module back to pytest's own collector reports it as skipped.
    """
    try:
        return (yield)
    except pytest.skip.Exception:
        return pytest.Module.from_parent(parent, path=module_path)


@pytest.fixture(scope='module')
def pyeasy_dnn():
    """Yield the test-only pyeasy_dnn fake (test/fakes), imported for one test module."""
    from helpers.fake_runtime import fake_pyeasy_dnn
    with fake_pyeasy_dnn() as module:
        yield module


@pytest.fixture(scope='module')
def hbm_runtime():
    """Yield the test-only hbm_runtime fake (test/fakes), imported for one test module."""
    from helpers.fake_runtime import fake_hbm_runtime
    with fake_hbm_runtime() as module:
        yield module


@pytest.fixture(scope='module')
def bpu_backends(pyeasy_dnn, hbm_runtime):
    """Backend constructors by runtime name, each bound to its fake module."""
    from yolov8_seg_ros.backends.hbm_runtime_backend import HbmRuntimeBackend
    from yolov8_seg_ros.backends.hobot_dnn_backend import HobotDnnBackend
    return {'hobot_dnn': lambda path: HobotDnnBackend(str(path), pyeasy_dnn),
            'hbm_runtime': lambda path: HbmRuntimeBackend(str(path), hbm_runtime)}


@pytest.fixture(scope='session')
def fake_bins(tmp_path_factory):
    """Fake .bin files of the trained shapes model, one per output layout ('int32', 'float32')."""
    from helpers.fake_runtime import LAYOUTS, write_fake_bin
    from helpers.models import SHAPES_ONNX
    folder = tmp_path_factory.mktemp('bin')
    return {layout: write_fake_bin(SHAPES_ONNX, folder / f'shapes_{layout}.bin', layout)
            for layout in LAYOUTS}


@pytest.fixture(scope='session')
def fake_bin(fake_bins):
    """Return the fake .bin in the seed's int32-with-scales layout."""
    return fake_bins['int32']
