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

"""Test-wide settings: one ROS domain per pytest-xdist worker, discovery kept on this host."""

import os
from pathlib import Path
import sys

# Must happen before any test imports rclpy: each worker gets its own DDS domain so that
# parallel tests never see each other's topics.
_worker = os.environ.get('PYTEST_XDIST_WORKER', 'gw0')
_base = int(os.environ.get('YOLOV8_SEG_TEST_DOMAIN_BASE', '40'))
os.environ['ROS_DOMAIN_ID'] = str(_base + int(_worker.removeprefix('gw') or 0))
os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

TEST_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TEST_DIR))
